//! The process's one panic policy. `main` installs the only panic hook
//! ([`install`]); the pieces that care about a panic register with it
//! instead of swapping the process-global hook around their own code:
//!
//! - the dashboard's terminal ([`on_terminal`]): restored before the message
//!   prints, or, for a panic on another thread while the dashboard is up,
//!   holding the message back to show it in the event log;
//! - a run in this process ([`log_to`]): the message also goes to the run
//!   folder, where it outlives the terminal;
//! - code that turns panics into errors ([`expected`], the engine's backend
//!   guard): silent, with no hook swapped (that was a global swap on every
//!   CUDA step, racing with every other thread's panics).
//!
//! It imports nothing of the crate, so every floor (engine, tui, cli) may
//! reach it.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::{Mutex, Once, OnceLock};

/// Where a panic's message is logged besides stderr.
pub type LogSink = Box<dyn Fn(&str) + Send + Sync>;
/// The terminal's part: true when it held the message back (nothing more
/// is printed), false once it restored the terminal for the message.
pub type TerminalOnPanic = fn(&str) -> bool;

static INSTALL: Once = Once::new();
static TERMINAL: OnceLock<TerminalOnPanic> = OnceLock::new();
static LOG: Mutex<Option<LogSink>> = Mutex::new(None);

thread_local! {
    /// How many [`expected`] calls this thread is inside.
    static EXPECTED: Cell<u32> = const { Cell::new(0) };
}

/// Installs the policy as the process's panic hook (once; later calls do
/// nothing). Rust's default hook still prints what it prints.
pub fn install() {
    INSTALL.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| on_panic(info, &*default)));
    });
}

type DefaultHook = dyn Fn(&PanicHookInfo<'_>) + Send + Sync;

fn on_panic(info: &PanicHookInfo<'_>, default: &DefaultHook) {
    // A thread being torn down has no locals left; its panic is not expected.
    if EXPECTED.try_with(Cell::get).unwrap_or(0) > 0 {
        return;
    }
    let here = std::thread::current();
    let message = format!("thread '{}' {info}", here.name().unwrap_or("unnamed"));
    if let Some(log) = LOG.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        log(&message);
    }
    if TERMINAL.get().is_some_and(|held| held(&message)) {
        return;
    }
    default(info);
}

/// Registers the dashboard's terminal (the first registration stays: there
/// is one terminal).
pub fn on_terminal(on_panic: TerminalOnPanic) {
    let _ = TERMINAL.set(on_panic);
}

/// Sends every later panic's message to `sink` too (replacing any earlier
/// sink: one run per process).
pub fn log_to(sink: LogSink) {
    *LOG.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
}

/// Runs `f`, catching its panic as the error; the hook says nothing about
/// it (the caller reports it as an error of its own).
pub fn expected<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    /// Leaves the count as it was, however `f` ends.
    struct Inside;
    impl Drop for Inside {
        fn drop(&mut self) {
            EXPECTED.with(|d| d.set(d.get() - 1));
        }
    }
    EXPECTED.with(|d| d.set(d.get() + 1));
    let _inside = Inside;
    panic::catch_unwind(AssertUnwindSafe(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expected_panic_is_its_error_and_the_count_goes_back() {
        assert_eq!(expected(|| 3).ok(), Some(3));
        assert!(expected(|| panic!("expected")).is_err());
        let nested = expected(|| expected(|| panic!("inner")).is_err());
        assert_eq!(nested.ok(), Some(true));
        assert_eq!(EXPECTED.with(Cell::get), 0);
    }
}
