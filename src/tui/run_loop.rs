//! The dashboard on the UI thread, as a screen of the one terminal loop
//! (`terminal_loop.rs`): each tick drains every pending trainer event without
//! blocking (the trainer never waits for the screen), draws once if anything
//! changed, then waits up to `refresh_ms` for a key. An idle dashboard thus
//! wakes a few times a second, finds nothing new and draws nothing.

use std::io;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyEvent, MouseEvent};
use ratatui::Frame;

use super::app::App;
use super::replay;
use super::state::LogKind;
use super::terminal_loop::{self, Ending, LoopOptions, TerminalScreen};
use super::theme::Theme;
use super::{DashboardOptions, Exit};
use crate::protocol::{LinkWatch, Request, StreamItem};

/// Longest time spent folding in events before the screen gets a frame, so
/// a flood of events cannot freeze the dashboard.
const DRAIN_BUDGET: Duration = Duration::from_millis(50);

/// Runs the dashboard on the current thread until the user quits; events
/// arrive on `events` (the trainer thread sends them); commands go out on
/// `commands`. Returns when the user quits (after confirmation) or, if
/// `exit_when_finished` is set, once a `Finished` event arrived.
pub fn run_dashboard(
    options: DashboardOptions,
    events: Receiver<StreamItem>,
    commands: Sender<Request>,
) -> io::Result<Exit> {
    let mut app = App::new(&options.title, options.no_color);
    app.set_attached(options.attached, options.read_only);
    app.set_baseline(options.baseline.clone());
    app.ring_after(options.ring_after);
    if options.run_again {
        app.offer_again();
    }
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
    app.set_run_folder(dir);
    let options = DashboardOptions { exit_when_finished: false, ..options };
    run(app, None, None, &options).map(|_| ())
}

/// The dashboard as a [`TerminalScreen`]: the app, and the channels to the run
/// (none for a folder shown by `view`).
struct Dashboard<'a> {
    app: App,
    events: Option<&'a Receiver<StreamItem>>,
    commands: Option<&'a Sender<Request>>,
    link: Option<&'a LinkWatch>,
    exit_when_finished: bool,
}

impl TerminalScreen for Dashboard<'_> {
    type Outcome = Exit;

    fn on_tick(&mut self) {
        // Before the events: a link given up is why the channel closed.
        if let Some(watch) = self.link {
            self.app.set_link(watch.state());
        }
        if let Some(rx) = self.events {
            drain(&mut self.app, rx);
        }
        if let Some(bytes) = self.app.take_alerts() {
            // Between frames: a bell and OSC sequences move no cursor. A
            // terminal that cannot take them is no reason to stop.
            let mut out = std::io::stdout();
            let _ = std::io::Write::write_all(&mut out, bytes.as_bytes());
            let _ = std::io::Write::flush(&mut out);
        }
    }

    fn needs_draw(&self) -> bool {
        self.app.is_dirty()
    }

    fn draw(&mut self, frame: &mut Frame) {
        self.app.draw(frame);
        self.app.mark_drawn();
    }

    fn on_key(&mut self, key: KeyEvent) {
        for command in self.app.on_key(key) {
            if let Some(tx) = self.commands {
                if tx.send(Request::dashboard(command)).is_err() {
                    self.app.on_disconnected();
                }
            }
        }
    }

    fn on_mouse(&mut self, mouse: MouseEvent) {
        self.app.on_mouse(mouse);
    }

    fn on_resize(&mut self) {
        self.app.mark_dirty();
    }

    fn on_panics(&mut self, first_lines: &[&str]) {
        for first in first_lines {
            self.app.push_log(None, format!("panic: {first}"), LogKind::Warn);
        }
        // The loop cleared the screen: every panel must be drawn again.
        self.app.mark_dirty();
    }

    fn outcome(&mut self) -> Option<Exit> {
        let done = self.app.should_quit() || (self.exit_when_finished && self.app.is_finished());
        done.then(|| match () {
            _ if self.app.detached() => Exit::Detached,
            _ if self.app.again() => Exit::Again,
            _ => Exit::Quit,
        })
    }
}

fn run(
    app: App,
    events: Option<&Receiver<StreamItem>>,
    commands: Option<&Sender<Request>>,
    options: &DashboardOptions,
) -> io::Result<Exit> {
    let link = options.link.as_deref();
    let mut screen = Dashboard { app, events, commands, link, exit_when_finished: options.exit_when_finished };
    let loop_options = LoopOptions {
        tick: terminal_loop::tick(options.refresh_ms),
        mouse: options.mouse,
        quit_signal: options.quit_signal.as_deref(),
    };
    match terminal_loop::run(&mut screen, loop_options)? {
        Ending::Done(exit) => Ok(exit),
        Ending::TerminalGone => Ok(Exit::TerminalGone),
    }
}

/// Folds in every pending event (within the time budget).
fn drain(app: &mut App, rx: &Receiver<StreamItem>) {
    let started = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(item) => app.receive(item),
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
    use crate::protocol::{RunCommand, RunEvent};
    use crate::tui::app::tests::step;
    use ratatui::crossterm::event::{KeyCode, KeyModifiers};

    /// What the dashboard hands the loop: a quit, a detach, or (when asked)
    /// the end of the run; and every command a key produced, in order.
    #[test]
    fn the_dashboard_screen_ends_as_the_app_says_and_sends_each_command() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut app = App::new("t", true);
        app.set_attached(true, false);
        let mut screen = Dashboard { app, events: None, commands: Some(&tx), link: None, exit_when_finished: false };
        assert_eq!(screen.outcome(), None);
        screen.on_key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE));
        assert_eq!(rx.try_recv().map(|r| r.command), Ok(RunCommand::Pause));
        screen.on_key(KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE));
        assert_eq!(screen.outcome(), Some(Exit::Detached));

        let mut done = App::new("t", true);
        done.on_disconnected();
        let mut screen = Dashboard { app: done, events: None, commands: None, link: None, exit_when_finished: true };
        assert_eq!(screen.outcome(), Some(Exit::Quit), "the run ended and the caller wanted no wait for q");
    }

    #[test]
    fn drain_takes_everything_and_notices_the_end() {
        let (tx, rx) = std::sync::mpsc::sync_channel(10_000);
        for s in 1..=5000 {
            tx.send(StreamItem::Run(RunEvent::Step(step(s)))).unwrap();
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
