//! Entering and leaving the dashboard's terminal mode (raw mode, alternate
//! screen, hidden cursor, mouse capture only when asked). The terminal is
//! restored when the guard drops, on error paths too, and on a panic: the
//! guard registers with the process's panic policy (`panic_policy`, whose
//! hook `main` installs), which has it restore the terminal before the
//! message prints, so the message lands on a usable terminal instead of
//! inside the alternate screen.
//!
//! Only a panic on the dashboard's own thread restores the terminal: other
//! threads (the trainer, plugin calls the host catches) may panic and go on,
//! and restoring under a live dashboard would leave it drawing into the
//! normal screen. Their messages are held back instead and shown in the
//! event log, then printed once the terminal is restored.

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread::ThreadId;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::Terminal;

use super::clean_backend::CleanBackend;

/// Whether the terminal is in dashboard mode; the panic hook restores only
/// then, so a panic after the dashboard closed prints no stray escapes.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static MOUSE: AtomicBool = AtomicBool::new(false);
static UI_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);
static DEFERRED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The dashboard's terminal; restores the terminal when dropped.
pub struct TerminalGuard {
    pub terminal: Terminal<CleanBackend<CrosstermBackend<Stdout>>>,
}

/// Puts the terminal in dashboard mode.
pub fn enter(mouse: bool) -> io::Result<TerminalGuard> {
    crate::panic_policy::on_terminal(on_panic);
    *UI_THREAD.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::thread::current().id());
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    MOUSE.store(mouse, Ordering::SeqCst);
    let setup = (|| {
        let mut out = io::stdout();
        execute!(out, EnterAlternateScreen)?;
        if mouse {
            execute!(out, EnableMouseCapture)?;
        }
        let mut terminal = Terminal::new(CleanBackend::new(CrosstermBackend::new(io::stdout())))?;
        terminal.hide_cursor()?;
        terminal.clear()?;
        Ok(terminal)
    })();
    match setup {
        Ok(terminal) => Ok(TerminalGuard { terminal }),
        Err(e) => {
            let _ = restore();
            Err(e)
        }
    }
}

/// Leaves dashboard mode; harmless when not in it.
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let mut out = io::stdout();
    // Every step is tried even if one fails: a half-restored terminal is
    // worse than an error message.
    let mouse = if MOUSE.swap(false, Ordering::SeqCst) { execute!(out, DisableMouseCapture) } else { Ok(()) };
    let screen = execute!(out, LeaveAlternateScreen, ratatui::crossterm::cursor::Show);
    let raw = disable_raw_mode();
    mouse.and(screen).and(raw)
}

/// The terminal's part of the panic policy: a panic on another thread
/// while the dashboard is up is held back (true); any other restores the
/// terminal first, so its message prints on a usable one (false).
fn on_panic(message: &str) -> bool {
    let ui = *UI_THREAD.lock().unwrap_or_else(|e| e.into_inner());
    if ACTIVE.load(Ordering::SeqCst) && ui.is_some_and(|id| id != std::thread::current().id()) {
        DEFERRED.lock().unwrap_or_else(|e| e.into_inner()).push(message.to_string());
        return true;
    }
    let _ = restore();
    false
}

/// Panic messages of other threads held back while the dashboard was up.
pub fn take_deferred_panics() -> Vec<String> {
    std::mem::take(&mut *DEFERRED.lock().unwrap_or_else(|e| e.into_inner()))
}

/// False once the terminal was restored, e.g. by the panic hook.
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = restore();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_outside_dashboard_mode_is_a_no_op() {
        assert!(restore().is_ok());
    }
}
