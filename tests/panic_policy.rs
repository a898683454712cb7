//! The process's one panic hook (`src/panic_policy.rs`), in a process of its
//! own (the hook is global): a panic is logged, then offered to the
//! terminal, which holds it back or restores itself before Rust's hook
//! prints; a panic caught by `expected` (the engine's backend guard) says
//! nothing anywhere, and no hook is swapped for it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use traintop::panic_policy;

static OFFERED: Mutex<Vec<String>> = Mutex::new(Vec::new());
static RESTORED: AtomicUsize = AtomicUsize::new(0);

/// Holds back panics of threads named `held`, "restores" for the others.
fn terminal(message: &str) -> bool {
    OFFERED.lock().unwrap().push(message.to_string());
    if message.starts_with("thread 'held'") {
        return true;
    }
    RESTORED.fetch_add(1, Ordering::SeqCst);
    false
}

fn panic_on(name: &str, message: &'static str) {
    let joined = std::thread::Builder::new().name(name.into()).spawn(move || panic!("{message}")).unwrap().join();
    assert!(joined.is_err());
}

#[test]
fn panics_are_logged_offered_to_the_terminal_and_expected_ones_are_silent() {
    panic_policy::install();
    panic_policy::install();
    let logged = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&logged);
    panic_policy::log_to(Box::new(move |m| sink.lock().unwrap().push(m.to_string())));
    panic_policy::on_terminal(terminal);

    panic_on("held", "while the dashboard is up");
    panic_on("trainer", "after the dashboard");
    let logged = logged.lock().unwrap().clone();
    assert_eq!(logged.len(), 2, "{logged:?}");
    assert!(logged[0].starts_with("thread 'held' panicked at") && logged[0].contains("while the dashboard is up"));
    assert!(logged[1].starts_with("thread 'trainer' panicked at") && logged[1].contains("after the dashboard"));
    assert_eq!(*OFFERED.lock().unwrap(), logged, "the terminal sees what the log sees");
    assert_eq!(RESTORED.load(Ordering::SeqCst), 1, "only the panic not held back restores");

    // The engine's guard: the panic is the caller's error, nothing is said.
    let caught = std::thread::spawn(|| panic_policy::expected(|| panic!("CUDA_ERROR_OUT_OF_MEMORY"))).join().unwrap();
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"CUDA_ERROR_OUT_OF_MEMORY"));
    assert_eq!(OFFERED.lock().unwrap().len(), 2, "an expected panic reaches neither the log nor the terminal");
}
