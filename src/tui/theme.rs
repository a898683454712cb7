//! Colors and text styles. The plain theme returns `Style::default()` and
//! `Color::Reset` everywhere, so with `NO_COLOR` or `--no-color` nothing but
//! characters reaches the terminal; the panels therefore never rely on color
//! alone (cursor `>`, `[on ]`/`[off]`, distinct plot markers, text flags).

use ratatui::style::{Color, Modifier, Style};

/// The styles the panels draw with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    colored: bool,
}

/// True when the `NO_COLOR` convention asks for no color: the variable is set
/// and not empty (<https://no-color.org>).
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl Theme {
    /// The colored theme unless `no_color` is set or the environment asks for
    /// no color.
    pub fn new(no_color: bool) -> Self {
        Self { colored: !(no_color || no_color_env()) }
    }

    /// The theme without any styles, whatever the environment says.
    pub fn plain() -> Self {
        Self { colored: false }
    }

    pub fn is_colored(&self) -> bool {
        self.colored
    }

    fn pick(&self, style: Style) -> Style {
        if self.colored {
            style
        } else {
            Style::default()
        }
    }

    /// A color for plot points, which take a `Color` rather than a `Style`.
    pub fn color(&self, color: Color) -> Color {
        if self.colored {
            color
        } else {
            Color::Reset
        }
    }

    pub fn title(&self) -> Style {
        self.pick(Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD))
    }

    pub fn dim(&self) -> Style {
        self.pick(Style::default().fg(Color::DarkGray))
    }

    pub fn key(&self) -> Style {
        self.pick(Style::default().fg(Color::Yellow).add_modifier(Modifier::BOLD))
    }

    pub fn good(&self) -> Style {
        self.pick(Style::default().fg(Color::Green))
    }

    pub fn warn(&self) -> Style {
        self.pick(Style::default().fg(Color::Yellow))
    }

    pub fn bad(&self) -> Style {
        self.pick(Style::default().fg(Color::Red).add_modifier(Modifier::BOLD))
    }

    pub fn selected(&self) -> Style {
        self.pick(Style::default().add_modifier(Modifier::REVERSED))
    }

    pub fn gauge(&self) -> Style {
        self.pick(Style::default().fg(Color::Green))
    }

    pub fn marker(&self) -> Style {
        self.pick(Style::default().fg(Color::Magenta))
    }

    pub fn train_color(&self) -> Color {
        self.color(Color::Cyan)
    }

    pub fn raw_color(&self) -> Color {
        self.color(Color::DarkGray)
    }

    pub fn val_color(&self) -> Color {
        self.color(Color::Yellow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_theme_has_no_styles() {
        let t = Theme::plain();
        for s in [t.title(), t.dim(), t.key(), t.good(), t.warn(), t.bad()] {
            assert_eq!(s, Style::default());
        }
        assert_eq!(t.selected(), Style::default());
        assert_eq!(t.train_color(), Color::Reset);
    }

    #[test]
    fn no_color_flag_wins() {
        assert!(!Theme::new(true).is_colored());
    }
}
