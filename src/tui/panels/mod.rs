//! One widget per panel, each drawing from a small view of the dashboard's
//! state (never the whole `App`), plus the layout helper they share. The
//! number and text formatting lives in `crate::format`, shared with the
//! headless line log.

pub mod accuracy_chart;
pub mod confusion;
pub mod divergence;
pub mod editor;
pub mod events_log;
pub mod footer;
pub mod gradients;
pub mod header;
pub mod help;
pub mod loss_chart;
pub mod plot;
pub mod techniques;

use ratatui::layout::Rect;

pub use crate::format::{fmt_sci, thousands, truncate};

/// A scrolling pane's title: `▸` marks the pane Tab gave the scrolling
/// keys (seen without color too), `extra` says what part is shown.
pub fn pane_title(name: &str, focused: bool, extra: &str) -> String {
    format!(" {}{name}{extra} ", if focused { "▸ " } else { "" })
}

/// A `w` x `h` rectangle centred in `area`, shrunk to fit.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}
