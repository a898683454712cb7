//! Which plugin hook is running now, and since when: what a stalled run
//! reports (`ls`, the dashboard) and what a crashed run's summary names.
//!
//! Two copies of the same fact, for two readers:
//! - in memory, for the run's own watchdog (the thread that waits for the
//!   trainer sees a hook that has not returned for too long);
//! - in `hook.now` in the run folder, mapped into memory (`MAP_SHARED`), for
//!   the supervisor process: a plugin that segfaults takes the whole server
//!   with it, and the page cache keeps the last label it stored. A write per
//!   call would cost a system call per hook per batch; a store into a mapped
//!   page costs a copy of a few bytes.
//!
//! The file is a NUL-padded label (`technique.hook`), empty between calls, so
//! a crash outside any plugin blames none.

use std::fs::File;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The run folder's file holding the hook under way.
pub const HOOK_FILE: &str = "hook.now";
/// Bytes of `hook.now` (a label longer than this is cut).
const LABEL_BYTES: usize = 256;

/// A hook call under way.
#[derive(Clone, Debug, PartialEq)]
pub struct Running {
    /// `technique.hook`, e.g. `dropout.batch_end`.
    pub label: String,
    pub since: Instant,
    /// Distinguishes two calls of the same hook (a stall is reported once).
    pub call: u64,
}

/// The hook under way, shared between the trainer and its watchers.
#[derive(Default)]
pub struct HookWatch {
    /// The techniques, by the host's plugin index.
    names: Vec<String>,
    /// (plugin index, hook, since, call number) of the call under way: no
    /// allocation per call, the label is built when asked for.
    now: Mutex<Option<(usize, &'static str, Instant, u64)>>,
    calls: std::sync::atomic::AtomicU64,
    file: OnceLock<Mapped>,
}

impl HookWatch {
    /// A watch over the techniques `names` (in the host's order).
    pub(crate) fn new(names: Vec<String>) -> Self {
        Self { names, ..Self::default() }
    }

    /// Also keeps the label in `file` from now on (`<run_dir>/hook.now`,
    /// opened by the caller with the run folder's modes), which is emptied.
    pub fn record_in(&self, file: File) -> std::io::Result<()> {
        let mapped = Mapped::create(file)?;
        let _ = self.file.set(mapped);
        Ok(())
    }

    pub(crate) fn enter(&self, plugin: usize, hook: &'static str) {
        if let Some(f) = self.file.get() {
            let name = self.names.get(plugin).map_or("?", String::as_str);
            f.store(&[name.as_bytes(), b".", hook.as_bytes()]);
        }
        let call = self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self.lock() = Some((plugin, hook, Instant::now(), call));
    }

    pub(crate) fn leave(&self) {
        if let Some(f) = self.file.get() {
            f.store(&[]);
        }
        *self.lock() = None;
    }

    /// The hook that has been running for `limit` or longer, if any.
    pub fn stalled(&self, limit: Duration) -> Option<Running> {
        let (plugin, hook, since, call) = (*self.lock())?;
        let name = self.names.get(plugin).map_or("?", String::as_str);
        (since.elapsed() >= limit).then(|| Running { label: format!("{name}.{hook}"), since, call })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(usize, &'static str, Instant, u64)>> {
        self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The label a dead server left in `<run_dir>/hook.now`: the hook it died
/// in, or `None` (between hooks, or no such file).
pub fn left_in(run_dir: &Path) -> Option<String> {
    let bytes = std::fs::read(run_dir.join(HOOK_FILE)).ok()?;
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let label = String::from_utf8_lossy(&bytes[..end]).into_owned();
    (!label.is_empty()).then_some(label)
}

/// `hook.now`, mapped shared and writable.
struct Mapped {
    ptr: *mut u8,
    _file: File,
}

// SAFETY: the mapping is only written through `store`, by the one thread that
// calls plugins (the host stays on the trainer thread); others never read it
// in this process.
unsafe impl Send for Mapped {}
// SAFETY: as for `Send`: `store` is reached only through `HookWatch::enter`
// and `leave`, which only the plugin host calls, from the one thread it runs on.
unsafe impl Sync for Mapped {}

impl Mapped {
    fn create(file: File) -> std::io::Result<Self> {
        // Zeroed: a resumed run's old label goes.
        file.set_len(0)?;
        file.set_len(LABEL_BYTES as u64)?;
        use rustix::mm::{mmap, MapFlags, ProtFlags};
        // SAFETY: a fresh mapping of our own file of LABEL_BYTES bytes, at an
        // address the kernel chooses; nothing else in this process maps it.
        let ptr = unsafe {
            mmap(std::ptr::null_mut(), LABEL_BYTES, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED, &file, 0)
        }?;
        Ok(Self { ptr: ptr.cast(), _file: file })
    }

    /// Writes the label made of `parts` (cut to fit), ended by a NUL.
    fn store(&self, parts: &[&[u8]]) {
        let mut at = 0;
        for part in parts {
            let n = part.len().min(LABEL_BYTES - 1 - at);
            // SAFETY: `ptr` maps LABEL_BYTES writable bytes for the life of
            // `self`, and `at + n <= LABEL_BYTES - 1`.
            unsafe { std::ptr::copy_nonoverlapping(part.as_ptr(), self.ptr.add(at), n) };
            at += n;
        }
        // SAFETY: `at <= LABEL_BYTES - 1`, inside the mapping.
        unsafe { *self.ptr.add(at) = 0 };
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `create`, unmapped once.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), LABEL_BYTES) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_holds_the_hook_under_way_and_nothing_between_calls() {
        let dir = tempfile::tempdir().unwrap();
        let watch = HookWatch::new(vec!["fixture_faulty".into(), "l2".into()]);
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        watch.record_in(options.open(dir.path().join(HOOK_FILE)).unwrap()).unwrap();
        watch.enter(0, "batch_end");
        assert_eq!(left_in(dir.path()).as_deref(), Some("fixture_faulty.batch_end"));
        assert!(watch.stalled(Duration::ZERO).is_some());
        assert!(watch.stalled(Duration::from_secs(3600)).is_none());
        watch.enter(1, "build");
        assert_eq!(left_in(dir.path()).as_deref(), Some("l2.build"));
        watch.leave();
        assert_eq!(left_in(dir.path()), None);
        assert!(watch.stalled(Duration::ZERO).is_none());
    }
}
