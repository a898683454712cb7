//! The dashboard's loop on the UI thread: drain every pending trainer event
//! without blocking (the trainer never waits for the screen), draw once if
//! anything changed, then wait up to `refresh_ms` for a key. An idle
//! dashboard thus wakes a few times a second, finds nothing new and draws
//! nothing.

use std::io;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event as TermEvent};

use super::app::App;
use super::replay;
use super::state::LogKind;
use super::terminal::{self, TerminalGuard};
use super::theme::Theme;
use super::tty_watch::{TtyState, TtyWatch};
use super::{DashboardOptions, Exit};
use crate::protocol::{Request, RunEvent};

/// Longest time spent folding in events before the screen gets a frame, so
/// a flood of events cannot freeze the dashboard.
const DRAIN_BUDGET: Duration = Duration::from_millis(50);

/// Runs the dashboard on the current thread until the user quits; events
/// arrive on `events` (the trainer thread sends them); commands go out on
/// `commands`. Returns when the user quits (after confirmation) or, if
/// `exit_when_finished` is set, once a `Finished` event arrived.
pub fn run_dashboard(
    options: DashboardOptions,
    events: Receiver<RunEvent>,
    commands: Sender<Request>,
) -> io::Result<Exit> {
    let mut app = App::new(&options.title, options.no_color);
    app.set_attached(options.attached, options.read_only);
    app.set_baseline(options.baseline.clone());
    run(app, Some(&events), Some(&commands), &options)
}

/// Shows a finished run from its folder (`metrics.jsonl`, `events.jsonl`)
/// until the user quits.
pub fn view_run(dir: &Path, options: DashboardOptions) -> io::Result<()> {
    let read = |name: &str| match std::fs::read_to_string(dir.join(name)) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", dir.join(name).display()))),
    };
    let metrics = read("metrics.jsonl")?;
    let events = read("events.jsonl")?;
    if metrics.is_empty() && events.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{}: no metrics.jsonl or events.jsonl", dir.display()),
        ));
    }
    let mut app = replay::build(&options.title, &dir.display().to_string(), &metrics, &events)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}/{e}", dir.display())))?;
    app.theme = Theme::new(options.no_color);
    let options = DashboardOptions { exit_when_finished: false, ..options };
    run(app, None, None, &options).map(|_| ())
}

fn run(
    mut app: App,
    events: Option<&Receiver<RunEvent>>,
    commands: Option<&Sender<Request>>,
    options: &DashboardOptions,
) -> io::Result<Exit> {
    let mut guard = terminal::enter(options.mouse)?;
    let mut panics = Vec::new();
    let result = event_loop(&mut guard, &mut app, events, commands, options, &mut panics);
    drop(guard);
    panics.extend(terminal::take_deferred_panics());
    for p in panics {
        eprintln!("{p}");
    }
    result
}

fn event_loop(
    guard: &mut TerminalGuard,
    app: &mut App,
    events: Option<&Receiver<RunEvent>>,
    commands: Option<&Sender<Request>>,
    options: &DashboardOptions,
    panics: &mut Vec<String>,
) -> io::Result<Exit> {
    let tick = Duration::from_millis(options.refresh_ms.max(1));
    let tty = TtyWatch::open()?;
    loop {
        if let Some(rx) = events {
            drain(app, rx);
        }
        let new_panics = terminal::take_deferred_panics();
        if !new_panics.is_empty() {
            for p in &new_panics {
                let first = p.lines().next().unwrap_or_default();
                app.push_log(None, format!("panic: {first}"), LogKind::Warn);
            }
            panics.extend(new_panics);
            // The default hook may have printed into the screen.
            guard.terminal.clear()?;
            app.mark_dirty();
        }
        if !terminal::is_active() {
            return Err(io::Error::other("the dashboard panicked"));
        }
        if app.is_dirty() {
            guard.terminal.draw(|f| app.draw(f))?;
            app.mark_drawn();
        }
        let signalled = options.quit_signal.as_ref().is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst));
        // A terminal that hung up without a SIGHUP reaching us (a killed tmux
        // pane, a non-interactive parent) reads as endless empty input: leave
        // instead of spinning.
        if ratatui::crossterm::terminal::size().is_err() || signalled {
            return Ok(Exit::TerminalGone);
        }
        if app.should_quit() || (options.exit_when_finished && app.is_finished()) {
            return Ok(if app.detached() { Exit::Detached } else { Exit::Quit });
        }
        match tty.wait(tick)? {
            // Gone: leave within this tick instead of letting crossterm spin
            // on a dead terminal; the run is not ours to stop.
            TtyState::Gone => return Ok(Exit::TerminalGone),
            // Readable bytes need not make a whole key yet, and resizes
            // arrive as signals, not bytes: read only what crossterm has.
            TtyState::Readable | TtyState::Idle if !event::poll(Duration::ZERO)? => continue,
            _ => {}
        }
        // Take every queued input before drawing again, so held keys and
        // pastes do not lag one frame per key.
        loop {
            match event::read()? {
                TermEvent::Key(key) => {
                    let first = app.on_key(key);
                    for command in first.into_iter().chain(app.take_follow_up()) {
                        if let Some(tx) = commands {
                            if tx.send(Request::dashboard(command)).is_err() {
                                app.on_disconnected();
                            }
                        }
                    }
                }
                TermEvent::Resize(..) => app.mark_dirty(),
                _ => {}
            }
            if app.should_quit() || !event::poll(Duration::ZERO)? {
                break;
            }
        }
    }
}

/// Folds in every pending event (within the time budget).
fn drain(app: &mut App, rx: &Receiver<RunEvent>) {
    let started = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(e) => app.apply(e),
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => {
                app.on_disconnected();
                return;
            }
        }
        if started.elapsed() > DRAIN_BUDGET {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::tests::step;

    #[test]
    fn drain_takes_everything_and_notices_the_end() {
        let (tx, rx) = std::sync::mpsc::sync_channel(10_000);
        for s in 1..=5000 {
            tx.send(RunEvent::Step(step(s))).unwrap();
        }
        let mut app = App::new("t", true);
        app.mark_drawn();
        // The time budget may split a burst over a few ticks.
        for _ in 0..100 {
            drain(&mut app, &rx);
            if app.progress.step == 5000 {
                break;
            }
        }
        assert!(app.is_dirty());
        assert_eq!(app.progress.step, 5000);
        assert!(app.charts.train_loss.len() <= 2001);
        drop(tx);
        drain(&mut app, &rx);
        assert!(app.is_finished());
    }
}
