//! The last line of defence between the dashboard and the terminal: every
//! cell ratatui is about to write is checked, and a cell whose symbol holds
//! a control character (C0, DEL, C1) or a bidirectional override is written
//! as U+FFFD instead.
//!
//! Text from outside the process (class names from a data file, a plugin's
//! name or message, a remote host's runs in `top`, a client's name) is also
//! made readable where it enters (`format::clean`), but a dashboard draws
//! from many places and one missed source would let an escape sequence
//! retitle the terminal, clear it or write the clipboard (OSC 52). ratatui
//! 0.30 drops control and zero-width characters from `Span`s, but a widget
//! may set a cell's symbol directly (the plot's markers do), so the check
//! sits here, on the one path every frame takes to the terminal. It costs a
//! scan of the changed cells.

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};

/// What a cell with a control character shows instead.
const REPLACEMENT: &str = "\u{fffd}";

/// A [`Backend`] that never writes a control character from a cell.
pub struct CleanBackend<B> {
    inner: B,
}

impl<B> CleanBackend<B> {
    pub fn new(inner: B) -> Self {
        Self { inner }
    }
}

/// Whether a cell's symbol would reach the terminal as anything but text.
fn is_unsafe(symbol: &str) -> bool {
    symbol.chars().any(crate::format::needs_escape)
}

impl<B: Backend> Backend for CleanBackend<B> {
    /// The wrapped backend's errors, passed through untouched (ratatui 0.30
    /// lets each backend name its own error type).
    type Error = B::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let cells: Vec<(u16, u16, &Cell)> = content.collect();
        if !cells.iter().any(|(_, _, cell)| is_unsafe(cell.symbol())) {
            return self.inner.draw(cells.into_iter());
        }
        let fixed: Vec<(u16, u16, Cell)> = cells
            .into_iter()
            .map(|(x, y, cell)| {
                let mut cell = cell.clone();
                if is_unsafe(cell.symbol()) {
                    cell.set_symbol(REPLACEMENT);
                }
                (x, y, cell)
            })
            .collect();
        self.inner.draw(fixed.iter().map(|(x, y, cell)| (*x, *y, cell)))
    }

    fn append_lines(&mut self, n: u16) -> Result<(), Self::Error> {
        self.inner.append_lines(n)
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::text::{Line, Span};
    use ratatui::widgets::Paragraph;
    use ratatui::Terminal;

    /// A span (what every panel renders) with escape sequences in it: the
    /// terminal receives no control character, and the printable text stays.
    #[test]
    fn spans_with_escape_sequences_reach_the_terminal_without_controls() {
        let hostile = "set\u{1b}]0;pwned\u{7}osa \u{9b}2J \u{202e}txt";
        let mut terminal = Terminal::new(CleanBackend::new(TestBackend::new(40, 1))).unwrap();
        terminal.draw(|f| f.render_widget(Paragraph::new(Line::from(Span::raw(hostile))), f.area())).unwrap();
        let buffer = terminal.backend().inner.buffer().clone();
        let text: String = buffer.content().iter().map(|c| c.symbol()).collect();
        assert!(!is_unsafe(&text), "a control character reached the terminal: {text:?}");
        assert!(text.contains("osa"), "{text:?}");
        assert!(text.contains(']') && text.contains("pwned"), "printable text is kept: {text:?}");
    }

    /// Without the wrapper a cell whose symbol was set directly (as the
    /// plot's markers are) reaches the terminal as is: ratatui 0.30 drops
    /// controls and zero-width characters from `Span`s only, so the check
    /// above is not vacuous.
    #[test]
    fn the_plain_backend_would_write_a_cell_set_directly() {
        let mut terminal = Terminal::new(TestBackend::new(40, 1)).unwrap();
        terminal
            .draw(|f| {
                f.buffer_mut()[(0, 0)].set_symbol("\u{1b}]0;x\u{7}");
            })
            .unwrap();
        let text: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
        assert!(is_unsafe(&text), "ratatui now filters cell symbols itself: {text:?}");
    }

    #[test]
    fn plain_text_passes_untouched() {
        assert!(!is_unsafe("héllo ✓ 日本"));
        assert!(is_unsafe("\u{7f}"));
    }
}
