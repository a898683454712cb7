//! Modes: a run folder is 0700 and every file in it 0600, or with
//! `run.shared_group = true` 0750 and 0640 (the group may read, never
//! write). The umask only ever removes bits, and a common 022 would leave
//! files world-readable, so every mode is set explicitly after creation.
//!
//! A file's mode follows its folder's: a folder that lets its group in
//! gets group-readable files. So whoever writes into a run folder (the
//! trainer, the run lock, the run server) needs no setting of its own.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::context;

/// Who may read a run folder besides its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The owner alone: 0700 folders, 0600 files.
    Private,
    /// The owner's group may read: 0750 folders, 0640 files.
    SharedGroup,
}

impl Access {
    pub fn shared(shared_group: bool) -> Access {
        if shared_group {
            Access::SharedGroup
        } else {
            Access::Private
        }
    }

    fn dir_mode(self) -> u32 {
        match self {
            Access::Private => 0o700,
            Access::SharedGroup => 0o750,
        }
    }

    fn file_mode(self) -> u32 {
        match self {
            Access::Private => 0o600,
            Access::SharedGroup => 0o640,
        }
    }

    /// The access a folder grants, from its mode (any group bit: shared).
    pub fn of(dir: &Path) -> Access {
        match fs::metadata(dir) {
            Ok(m) if m.permissions().mode() & 0o070 != 0 => Access::SharedGroup,
            _ => Access::Private,
        }
    }
}

/// The mode a new file in `dir` gets.
pub(super) fn file_mode_in(dir: &Path) -> u32 {
    Access::of(dir).file_mode()
}

/// Creates folder `path` (its parent must exist; an existing one is
/// `AlreadyExists`) with the mode `access` says.
pub fn create_dir(path: &Path, access: Access) -> io::Result<()> {
    let mode = access.dir_mode();
    DirBuilder::new().mode(mode).create(path)?;
    fs::set_permissions(path, Permissions::from_mode(mode))
        .map_err(|e| context(format_args!("{}: cannot set its mode to {mode:o}", path.display()), e))
}

/// Opens (creating) `path` to append to, never through a symlink, with the
/// mode its folder calls for.
pub fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    open(path, &options)
}

/// Opens (creating, never truncating) `path` to read and write, as a lock
/// file is.
pub fn open_lock(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    open(path, &options)
}

fn open(path: &Path, options: &OpenOptions) -> io::Result<File> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mode = file_mode_in(dir);
    let mut options = options.clone();
    options.mode(mode).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    let file = options.open(path).map_err(|e| context(path.display(), e))?;
    // Explicitly: the umask may have removed bits, and a file from an older
    // traintop may have more.
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(|e| context(format_args!("{}: cannot set its mode to {mode:o}", path.display()), e))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn files_follow_their_folders_access() {
        let tmp = tempfile::tempdir().unwrap();
        for (access, dir_mode, file_mode) in [(Access::Private, 0o700, 0o600), (Access::SharedGroup, 0o750, 0o640)] {
            let dir = tmp.path().join(format!("{access:?}"));
            create_dir(&dir, access).unwrap();
            assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, dir_mode);
            open_append(&dir.join("log")).unwrap();
            assert_eq!(fs::metadata(dir.join("log")).unwrap().mode() & 0o777, file_mode);
        }
    }

    #[test]
    fn never_through_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        create_dir(&tmp.path().join("d"), Access::Private).unwrap();
        fs::write(tmp.path().join("outside"), "x").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside"), tmp.path().join("d/log")).unwrap();
        assert!(open_append(&tmp.path().join("d/log")).is_err());
        assert_eq!(fs::read_to_string(tmp.path().join("outside")).unwrap(), "x");
    }
}
