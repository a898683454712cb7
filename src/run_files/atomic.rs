//! Replacing a file atomically: the bytes go to a new temporary file in the
//! same folder (`tempfile`: a random name opened with `O_CREAT|O_EXCL`, so a
//! symlink or file planted at any name is never written through), which is
//! fsynced and renamed over the target, then the folder is fsynced. A reader
//! sees the old file or the new one, never part of one; on any failure (a
//! full disk included) the temporary file is removed and the target is
//! untouched.

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::context;
use super::modes::file_mode_in;

/// Replaces `path` with `bytes`; the error says what failed and on which
/// file (the caller names the target).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mode = file_mode_in(dir);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(|e| context(format_args!("cannot create a temporary file in {}", dir.display()), e))?;
    // From here on, dropping `tmp` (any early return) removes the file.
    let written = tmp.as_file().set_permissions(Permissions::from_mode(mode)).and_then(|_| {
        // The file itself: `NamedTempFile`'s own writes add the path to
        // the error, which the context below already names.
        tmp.as_file_mut().write_all(bytes)?;
        tmp.as_file().sync_all()
    });
    written.map_err(|e| context(format_args!("writing the temporary file {}", tmp.path().display()), e))?;
    let tmp_path = tmp.path().to_path_buf();
    tmp.persist(path).map_err(|e| context(format_args!("renaming {} over it", tmp_path.display()), e.error))?;
    if let Ok(d) = File::open(dir) {
        // Persist the rename itself; not all filesystems support fsync on a folder.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("a.json");
        std::fs::write(&target, "old").unwrap();
        write_atomically(&target, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failure_names_the_folder_and_keeps_the_target() {
        let tmp = tempfile::tempdir().unwrap();
        let e = write_atomically(&tmp.path().join("missing/a.json"), b"x").unwrap_err();
        assert!(e.to_string().contains("cannot create a temporary file in"), "{e}");
        assert!(e.to_string().contains("missing"), "{e}");
    }
}
