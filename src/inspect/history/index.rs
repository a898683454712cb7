//! The out-dir index: every folder this user's runs were written under,
//! one absolute path a line, in `$XDG_STATE_HOME/traintop/out_dirs` (else
//! `~/.local/state/traintop/out_dirs`). A run appends its out dir when it
//! starts, so `traintop ls --all` and `top`'s history find finished runs
//! wherever `--out` or `run.out_dir` put them, without a daemon or a scan of
//! the disk. Kept like the socket records: the folder 0700, the file 0600,
//! never followed through a symlink. Lines only ever get appended (two runs
//! starting at once each write one short line, which `O_APPEND` keeps
//! whole); readers drop duplicates and folders since deleted.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The index file's name inside the state folder.
const INDEX_FILE: &str = "out_dirs";

/// Past this many lines the file is rewritten without its duplicates and
/// deleted folders (test suites make and delete many temp folders).
const COMPACT_AT: usize = 512;

/// Where the index lives; `None` when neither `XDG_STATE_HOME` nor `HOME`
/// is set.
pub fn file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state")))?;
    Some(base.join("traintop").join(INDEX_FILE))
}

/// Records `out_dir` (a run's folder's parent). A sweep task's folder is
/// recorded as the folder the sweep was made in, so a sweep of 200 runs
/// adds one line, not 200.
pub fn remember(out_dir: &Path) -> io::Result<()> {
    let Some(path) = file() else { return Ok(()) };
    let dir = std::path::absolute(out_dir)?;
    let dir = sweep_root(&dir).unwrap_or(dir);
    let known = read(&path);
    if known.contains(&dir) {
        return Ok(());
    }
    // Counted as written: deleted temp folders are what make the file grow.
    let written = fs::read_to_string(&path).map_or(0, |t| t.lines().count());
    if written >= COMPACT_AT {
        compact(&path, &known)?;
    }
    append(&path, &format!("{}\n", dir.display()))
}

/// The folders recorded, each once, oldest first, leaving out those that
/// no longer exist.
pub fn recorded() -> Vec<PathBuf> {
    file().map(|p| read(&p)).unwrap_or_default()
}

/// `<out>/<name>-sweep-<time>/<task>` gives `<out>`.
fn sweep_root(task: &Path) -> Option<PathBuf> {
    let sweep = task.parent()?;
    sweep.join("sweep.json").is_file().then(|| sweep.parent().map(Path::to_path_buf)).flatten()
}

fn read(path: &Path) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string(path) else { return Vec::new() };
    let mut out: Vec<PathBuf> = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('/')) {
        let dir = PathBuf::from(line);
        if !out.contains(&dir) && dir.is_dir() {
            out.push(dir);
        }
    }
    out
}

/// Opens the index for appending: its folder made private first, the file
/// made or kept 0600, a symlink in its place refused.
fn open(path: &Path, append: bool) -> io::Result<fs::File> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(named)?;
        // A recursive create applies the mode before the umask; set it.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(named)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).mode(0o600).custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    match append {
        true => options.append(true),
        false => options.write(true).truncate(true),
    };
    let file = options.open(path).map_err(named)?;
    file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(named)?;
    Ok(file)
}

fn append(path: &Path, line: &str) -> io::Result<()> {
    open(path, true)?.write_all(line.as_bytes())
}

/// Rewrites the index with `known` alone (a line appended meanwhile by
/// another run may be lost; that run's folder is still found through `--out`).
fn compact(path: &Path, known: &[PathBuf]) -> io::Result<()> {
    let text: String = known.iter().map(|d| format!("{}\n", d.display())).collect();
    open(path, false)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn sweep_tasks_are_recorded_as_their_sweeps_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let task = tmp.path().join("d-sweep-1").join("a-seed1");
        fs::create_dir_all(&task).unwrap();
        fs::write(tmp.path().join("d-sweep-1").join("sweep.json"), "{}").unwrap();
        assert_eq!(sweep_root(&task).as_deref(), Some(tmp.path()));
        assert_eq!(sweep_root(tmp.path()), None);
    }

    #[test]
    fn appended_once_private_and_pruned_of_deleted_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state").join("traintop").join(INDEX_FILE);
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        for d in [&a, &b, &a] {
            if !read(&path).contains(d) {
                append(&path, &format!("{}\n", d.display())).unwrap();
            }
        }
        assert_eq!(read(&path), vec![a.clone(), b.clone()]);
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777, 0o700);
        fs::remove_dir(&b).unwrap();
        assert_eq!(read(&path), vec![a.clone()], "a deleted folder is left out");
        compact(&path, std::slice::from_ref(&a)).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", a.display()));
    }
}
