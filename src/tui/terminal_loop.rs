//! The one terminal loop every full screen runs in (the dashboard, `top`,
//! `view` of one folder and the comparison of several): enter the terminal,
//! then tick, draw when needed, wait for keys, and restore the terminal on
//! the way out, on error paths too.
//!
//! Each screen says only what is its own ([`TerminalScreen`]): what a tick folds in,
//! how it draws, what a key does and when it is done. What every screen
//! needs lives here once, so no screen can forget it:
//! - the hang-up guard: crossterm's `event::poll` spins on a terminal that
//!   hung up (crossterm#793), so the loop waits in its own `poll(2)` on the
//!   terminal ([`TtyWatch`]) and leaves when it is gone, or when the size can
//!   no longer be read;
//! - a quit signal (SIGTERM, SIGHUP) that asks the screen to leave;
//! - other threads' panics, held back while the screen is up
//!   ([`terminal::take_deferred_panics`]), shown to the screen and printed once
//!   the terminal is restored;
//! - the tick's floor ([`tick`]), so a tiny `--refresh-ms` cannot busy-loop.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEvent, MouseEvent};
use ratatui::Frame;

use super::terminal::{self, TerminalGuard};
use super::tty_watch::{TtyState, TtyWatch};

/// The shortest tick: about one frame at 60 Hz.
const MIN_TICK_MS: u64 = 16;

/// The wait between two ticks for a `--refresh-ms`, never under one frame.
pub fn tick(refresh_ms: u64) -> Duration {
    Duration::from_millis(refresh_ms.max(MIN_TICK_MS))
}

/// A full screen the loop drives.
pub trait TerminalScreen {
    /// What the screen hands back when the user is done with it.
    type Outcome;

    /// Called once per tick before drawing: take in what arrived.
    fn on_tick(&mut self) {}

    /// Whether the next frame would differ from the last one drawn.
    fn needs_draw(&self) -> bool {
        true
    }

    /// Draws one frame (the loop calls it only when [`TerminalScreen::needs_draw`]).
    fn draw(&mut self, frame: &mut Frame);

    /// One key press (or repeat or release; the screen filters).
    fn on_key(&mut self, key: KeyEvent);

    /// A mouse event (only with `--mouse`, which captures the mouse).
    fn on_mouse(&mut self, _mouse: MouseEvent) {}

    /// The terminal changed size: the next tick must draw.
    fn on_resize(&mut self) {}

    /// Other threads panicked (the first line of each message); the loop
    /// clears the screen, which their default hook may have written into.
    fn on_panics(&mut self, _first_lines: &[&str]) {}

    /// `Some` once the screen is done; checked after each frame and after
    /// each key, so a key that ends the screen ends it before the next one.
    fn outcome(&mut self) -> Option<Self::Outcome>;
}

/// How a screen's loop ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending<T> {
    /// The screen said it was done.
    Done(T),
    /// The terminal hung up, or a signal asked every screen to leave.
    TerminalGone,
}

/// How the loop runs a screen.
#[derive(Clone, Copy, Debug)]
pub struct LoopOptions<'a> {
    /// The longest wait for a key between two ticks.
    pub tick: Duration,
    /// Capture the mouse while the screen is up.
    pub mouse: bool,
    /// Set by a signal handler: leave at once.
    pub quit_signal: Option<&'a AtomicBool>,
}

/// Runs `screen` in the terminal until it is done or the terminal goes.
pub fn run<S: TerminalScreen>(screen: &mut S, options: LoopOptions) -> io::Result<Ending<S::Outcome>> {
    let mut guard = terminal::enter(options.mouse)?;
    let mut panics = Vec::new();
    let result = event_loop(&mut guard, screen, options, &mut panics);
    drop(guard);
    panics.extend(terminal::take_deferred_panics());
    for p in panics {
        eprintln!("{p}");
    }
    result
}

fn event_loop<S: TerminalScreen>(
    guard: &mut TerminalGuard,
    screen: &mut S,
    options: LoopOptions,
    panics: &mut Vec<String>,
) -> io::Result<Ending<S::Outcome>> {
    let tty = TtyWatch::open()?;
    loop {
        screen.on_tick();
        take_panics(guard, screen, panics)?;
        if !terminal::is_active() {
            return Err(io::Error::other("the screen panicked"));
        }
        if screen.needs_draw() {
            guard.terminal.draw(|f| screen.draw(f))?;
        }
        let signalled = options.quit_signal.is_some_and(|f| f.load(Ordering::SeqCst));
        // A terminal that hung up without a SIGHUP reaching us (a killed tmux
        // pane, a non-interactive parent) reads as endless empty input: leave
        // instead of spinning.
        if ratatui::crossterm::terminal::size().is_err() || signalled {
            return Ok(Ending::TerminalGone);
        }
        if let Some(outcome) = screen.outcome() {
            return Ok(Ending::Done(outcome));
        }
        match tty.wait(options.tick)? {
            // Gone: leave within this tick instead of letting crossterm spin
            // on a dead terminal.
            TtyState::Gone => return Ok(Ending::TerminalGone),
            // Readable bytes need not make a whole key yet, and resizes
            // arrive as signals, not bytes: read only what crossterm has.
            TtyState::Readable | TtyState::Idle if !event::poll(Duration::ZERO)? => continue,
            _ => {}
        }
        if let Some(outcome) = read_keys(screen)? {
            return Ok(Ending::Done(outcome));
        }
    }
}

/// Takes every queued input before drawing again, so held keys and pastes
/// do not lag one frame per key.
fn read_keys<S: TerminalScreen>(screen: &mut S) -> io::Result<Option<S::Outcome>> {
    loop {
        match event::read()? {
            TermEvent::Key(key) => screen.on_key(key),
            TermEvent::Resize(..) => screen.on_resize(),
            TermEvent::Mouse(mouse) => screen.on_mouse(mouse),
            _ => {}
        }
        if let Some(outcome) = screen.outcome() {
            return Ok(Some(outcome));
        }
        if !event::poll(Duration::ZERO)? {
            return Ok(None);
        }
    }
}

/// Other threads' panic messages: to the screen now, to stderr later.
fn take_panics<S: TerminalScreen>(
    guard: &mut TerminalGuard,
    screen: &mut S,
    panics: &mut Vec<String>,
) -> io::Result<()> {
    let new = terminal::take_deferred_panics();
    if new.is_empty() {
        return Ok(());
    }
    let first: Vec<&str> = new.iter().map(|p| p.lines().next().unwrap_or_default()).collect();
    screen.on_panics(&first);
    panics.extend(new);
    // The default hook may have printed into the screen.
    guard.terminal.clear()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tick_never_drops_under_one_frame() {
        assert_eq!(tick(0), Duration::from_millis(16));
        assert_eq!(tick(1), Duration::from_millis(16));
        assert_eq!(tick(500), Duration::from_millis(500));
    }
}
