//! `traintop top` in a real terminal under tmux: it lists a live run,
//! Enter opens that run's dashboard, Esc there comes back to the list, and
//! `q` leaves top with the run still training. Skipped (with a notice) only
//! where tmux is not installed.

mod common;

use std::time::Duration;

use common::procs;
use common::screen::{child_of, header_step};
use common::served::{self, poll, stop_server, Place};
use common::tmux::Tmux;

const TIMEOUT: Duration = Duration::from_secs(30);

/// top's own screen, showing `name` (its title and its key line).
fn is_top_listing(screen: &str, name: &str) -> bool {
    screen.contains("traintop top") && screen.contains("open the dashboard") && screen.contains(name)
}

#[test]
fn top_opens_a_runs_dashboard_and_esc_comes_back() {
    if !served::terminals_ready() {
        return;
    }
    let place = Place::new();
    let run = place.detach(&["--set", "run.epochs=100000"]);
    let name = run.file_name().unwrap().to_str().unwrap().to_string();
    let term = Tmux::start(120, 40, &format!("{}; sleep 60", place.shell("top")));
    let screen = term
        .wait_until("top listing the run as running", TIMEOUT, |s| is_top_listing(s, &name) && s.contains("running"));
    assert!(screen.contains("· 1 run "), "one run, singular: {screen}");
    assert!(screen.contains("% "), "progress as a percentage: {screen}");
    let top = child_of(term.pane_pid().unwrap()).expect("the top process");

    term.send_keys(&["Enter"]);
    term.wait_until("the run's live dashboard", TIMEOUT, |s| header_step(s).is_some_and(|n| n > 0));
    poll("the run to count top's dashboard as a client", || (place.ls()[0]["status"]["clients"] == 1).then_some(()));

    term.send_keys(&["Escape"]);
    term.wait_until("top's listing again", TIMEOUT, |s| is_top_listing(s, &name));
    poll("the dashboard's connection to close", || (place.ls()[0]["status"]["clients"] == 0).then_some(()));
    assert!(procs::alive(top), "top itself is still there");
    assert_eq!(place.ls()[0]["state"], "running", "the run goes on");

    term.send_keys(&["q"]);
    poll("top to exit", || (!procs::alive(top)).then_some(()));
    assert_eq!(place.ls()[0]["state"], "running", "leaving top leaves the run training");
    stop_server(&run);
}
