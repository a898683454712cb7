//! How files in a run folder are made: private modes whatever the umask
//! (`modes`), temporary files no planted symlink can redirect, replaced
//! atomically and removed on failure (`atomic`), and logs of whole lines
//! whose torn tail is cut off rather than appended to (`append_log`, `torn_tail`).
//!
//! Its own floor (imports nothing of traintop): the trainer, the run lock
//! and the run server all write into run folders.

mod append_log;
mod atomic;
mod modes;
mod torn_tail;

pub use append_log::AppendLog;
pub use atomic::write_atomically;
pub use modes::{create_dir, open_append, open_lock, Access};
pub use torn_tail::trim_torn_tail;

/// An I/O error with what failed and on which file in front of it, keeping
/// its kind (so a full disk is still `StorageFull` to whoever asks).
fn context(what: impl std::fmt::Display, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what}: {e}"))
}
