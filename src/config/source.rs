//! Which file a config came from: its name for messages and its folder,
//! against which the relative paths inside it are resolved.

use std::path::{Component, Path, PathBuf};

/// Name stood in for the file of a config that was not read from disk.
pub const EMBEDDED: &str = "<embedded>";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSource {
    /// The file as the user named it (shown in messages), or `<embedded>`.
    pub path: PathBuf,
    /// Absolute folder that relative paths in the config are relative to.
    pub dir: PathBuf,
}

impl ConfigSource {
    pub fn file(path: &Path) -> ConfigSource {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        ConfigSource { path: path.to_path_buf(), dir: absolute(parent) }
    }

    /// A config held in memory; relative paths resolve against `dir`.
    pub fn embedded(dir: impl AsRef<Path>) -> ConfigSource {
        ConfigSource { path: PathBuf::from(EMBEDDED), dir: absolute(dir.as_ref()) }
    }

    /// The name used in error messages.
    pub fn display_name(&self) -> String {
        self.path.display().to_string()
    }

    /// `p` made absolute against the config's folder, without `.`/`..`.
    pub fn resolve(&self, p: impl AsRef<Path>) -> PathBuf {
        normalize(&self.dir.join(p))
    }
}

fn absolute(p: &Path) -> PathBuf {
    // Fails only when the working directory is gone; the path as given is
    // then the best we can do.
    normalize(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
}

/// Lexical clean-up so messages show `/repo/data/x.csv`, not
/// `/repo/configs/../data/x.csv`. Symlinked folders followed by `..` are
/// rare in configs, and the shorter path is what the user means.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in p.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_against_the_config_folder() {
        let s = ConfigSource::file(Path::new("/repo/configs/x.toml"));
        assert_eq!(s.dir, Path::new("/repo/configs"));
        assert_eq!(s.display_name(), "/repo/configs/x.toml");
        assert_eq!(s.resolve("../data/x.csv"), Path::new("/repo/data/x.csv"));
        assert_eq!(s.resolve("./a/./b"), Path::new("/repo/configs/a/b"));
        assert_eq!(s.resolve("/abs/y.csv"), Path::new("/abs/y.csv"));
    }

    #[test]
    fn relative_names_get_an_absolute_folder() {
        let s = ConfigSource::file(Path::new("x.toml"));
        assert!(s.dir.is_absolute());
        assert_eq!(s.display_name(), "x.toml");
        let e = ConfigSource::embedded("/tmp/../srv");
        assert_eq!(e.dir, Path::new("/srv"));
        assert_eq!(e.display_name(), "<embedded>");
    }
}
