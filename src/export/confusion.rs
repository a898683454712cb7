//! The validation confusion matrix as a heat map: rows the true classes,
//! columns the predicted ones, each cell shaded by its share of its row
//! (as the dashboard's `C` overlay) and labelled with its count.

use crate::chart::plot::Panel;
use crate::chart::{Anchor, Mark, Rgb, Scene};
use crate::format::truncate;
use crate::protocol::ConfusionRecord;

/// The room the class labels take left of and above the grid.
const LABELS: f64 = 70.0;

/// The darkest cell's color, mixed with white by share.
fn shade(share: f64) -> Rgb {
    let mix = |full: u8| (255.0 - (255.0 - f64::from(full)) * share.clamp(0.0, 1.0)).round() as u8;
    Rgb(mix(0x1f), mix(0x55), mix(0xa4))
}

/// The matrix drawn in `panel`.
pub fn panel(s: &mut Scene, c: &ConfusionRecord, (l, t, w, h): Panel) {
    let (right, total) = c.correct_and_total();
    let title = format!("confusion matrix (validation, epoch {}): {right}/{total} right", c.epoch);
    s.text((l + 62.0, t + 18.0), title, 13.0, Anchor::Start);
    let n = c.counts.len().max(1) as f64;
    let cell = ((w - LABELS - 40.0) / n).min((h - LABELS - 30.0) / n).max(1.0);
    let (x0, y0) = (l + 62.0 + LABELS - 20.0, t + 28.0 + LABELS - 20.0);
    s.text((x0 + cell * n / 2.0, y0 - 30.0), "predicted", 12.0, Anchor::Middle);
    s.text((x0 - 8.0, y0 - 8.0), "true", 12.0, Anchor::End);
    // Column labels wider than a cell alternate between two rows.
    let stagger = c.classes.iter().any(|n| truncate(n, 10).chars().count() as f64 * 6.5 > cell);
    for (i, name) in c.classes.iter().enumerate() {
        let label = truncate(name, 10);
        let at = i as f64 * cell + cell / 2.0;
        s.text((x0 - 6.0, y0 + at + 4.0), label.clone(), 11.0, Anchor::End);
        let lift = if stagger && i % 2 == 1 { 12.0 } else { 0.0 };
        s.text((x0 + at, y0 - 8.0 - lift), label, 11.0, Anchor::Middle);
    }
    for (i, row) in c.counts.iter().enumerate() {
        let sum = row.iter().sum::<u64>().max(1) as f64;
        for (j, &count) in row.iter().enumerate() {
            let share = count as f64 / sum;
            let (x, y) = (x0 + j as f64 * cell, y0 + i as f64 * cell);
            s.push(Mark::Rect { x, y, w: cell, h: cell, fill: Some(shade(share)), stroke: Some(Rgb::GRID) });
            if cell >= 16.0 {
                let ink = if share > 0.5 { Rgb(255, 255, 255) } else { Rgb::BLACK };
                let size = (cell * 0.4).min(13.0);
                let text = Mark::Text {
                    at: (x + cell / 2.0, y + cell / 2.0 + size / 3.0),
                    text: count.to_string(),
                    size,
                    anchor: Anchor::Middle,
                    color: ink,
                };
                s.push(text);
            }
        }
    }
}
