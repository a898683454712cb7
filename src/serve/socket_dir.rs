//! Where runs serve their sockets: one directory per user that only its
//! owner can enter, `$XDG_RUNTIME_DIR/traintop/` (a per-user tmpfs the login
//! manager creates) or else `/tmp/traintop-$UID/`. `TRAINTOP_SOCKET_DIR`
//! overrides both (tests, unusual setups). A directory that exists but is
//! another user's, a symlink, or open to others is refused rather than used:
//! in `/tmp` anyone could have created it first.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The per-user socket directory, created (mode 0700) if missing and checked.
pub fn ensure() -> io::Result<PathBuf> {
    let dir = location();
    match fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(|e| named(&dir, e))?;
            // A recursive create applies the mode before the umask; set it.
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(|e| named(&dir, e))?;
        }
        Err(e) => return Err(named(&dir, e)),
        Ok(_) => {}
    }
    check(&dir)?;
    Ok(dir)
}

/// The directory that [`ensure`] would use, without touching it (listing
/// runs must not create it).
pub fn location() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRAINTOP_SOCKET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        let runtime = PathBuf::from(runtime);
        if runtime.is_absolute() && runtime.is_dir() {
            return runtime.join("traintop");
        }
    }
    PathBuf::from(format!("/tmp/traintop-{}", rustix::process::getuid().as_raw()))
}

/// Refuses a directory that is a symlink, not ours, or open to anyone else.
pub fn check(dir: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(dir).map_err(|e| named(dir, e))?;
    let me = rustix::process::geteuid().as_raw();
    let problem = if meta.file_type().is_symlink() {
        Some("is a symbolic link".to_string())
    } else if !meta.is_dir() {
        Some("is not a directory".to_string())
    } else if meta.uid() != me {
        Some(format!("belongs to uid {}, not to uid {me}", meta.uid()))
    } else if meta.mode() & 0o077 != 0 {
        Some(format!("has mode {:o}; it must be 700 (only its owner may enter)", meta.mode() & 0o777))
    } else {
        None
    };
    match problem {
        Some(p) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("socket directory {} {p}; remove it or set TRAINTOP_SOCKET_DIR", dir.display()),
        )),
        None => Ok(()),
    }
}

fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_directory_is_refused_and_a_private_one_accepted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let e = check(&dir).unwrap_err().to_string();
        assert!(e.contains("mode 755"), "{e}");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        check(&dir).unwrap();
        let link = tmp.path().join("l");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(check(&link).unwrap_err().to_string().contains("symbolic link"));
    }
}
