//! How figures are written for people: numbers that fit a column, counts
//! with separators, durations, text cut to a width, and text from outside
//! the process made safe to show ([`clean`]). Shared by the dashboard, the
//! headless line log and every command that prints; imports nothing.

/// A number in at most 8 characters, as `1.23e-4` when it is very small or
/// large.
pub fn fmt_sci(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e4).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// An integer with thousands separators: `12,345`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `s` made safe for a terminal: every control character (C0, DEL, C1) and
/// every bidirectional override is replaced by a visible escape (`\x1b`,
/// `\u{9b}`, `\u{202e}`), so text from outside the process (class names
/// from a data file, a client's name, a plugin's message, a remote's `ls`)
/// can neither send escape sequences to the terminal (retitle, clear, move
/// the cursor, OSC 52 clipboard writes) nor make a line read other than it
/// is. Printable Unicode is kept as it is. A backslash is kept too: the
/// escapes are for people to read, not to be decoded.
pub fn clean(s: &str) -> String {
    clean_keeping(s, false)
}

/// [`clean`], but line breaks (`\n`) are kept: for messages of several lines
/// (errors) printed to stderr.
pub fn clean_lines(s: &str) -> String {
    clean_keeping(s, true)
}

fn clean_keeping(s: &str, newlines: bool) -> String {
    if !s.chars().any(|c| needs_escape(c) && !(newlines && c == '\n')) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' if newlines => out.push(c),
            c if needs_escape(c) && (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Control characters, and the bidirectional embeddings, overrides and
/// isolates (U+202A..U+202E, U+2066..U+2069) that reorder what follows.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// At most `width` characters, with `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// `name` in at most `width` characters, cut in the middle: run names end
/// in their start time, which tells runs of one config apart.
pub fn middle_ellipsis(name: &str, width: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= width || width < 3 {
        return chars.iter().take(width).collect();
    }
    let tail = (width - 1) / 2;
    let head = width - 1 - tail;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// Formats seconds as `1h02m`, `3m05s` or `12s`.
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "?".into();
    }
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// How long ago `then` was at `now` (Unix seconds), in its largest unit:
/// `40s ago`, `5m ago`, `3h ago`, `12d ago`; a time ahead of `now` (another
/// machine's clock) is `just now`.
pub fn ago(then: f64, now: f64) -> String {
    let s = (now - then).round();
    if !s.is_finite() {
        return "?".into();
    }
    match s as i64 {
        ..=0 => "just now".into(),
        s @ 1..=59 => format!("{s}s ago"),
        s @ 60..=3599 => format!("{}m ago", s / 60),
        s @ 3600..=86_399 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

/// The blocks of a sparkline, lowest first.
const TICKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per value, scaled between the finite values' min and max
/// (all equal: the middle block). A NaN has no place on the scale and shows
/// as a blank, an infinity as `!`, so a gap or a blow-up is not hidden.
/// Callers choose the scale (log or linear) and how many values.
pub fn sparkline(values: &[f64]) -> String {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|&v| match v {
            v if v.is_nan() => ' ',
            v if v.is_infinite() => '!',
            _ if hi - lo < 1e-12 => TICKS[3],
            v => TICKS[(((v - lo) / (hi - lo)) * 7.0).round() as usize],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_keep_both_ends() {
        assert_eq!(middle_ellipsis("deep-sigmoid-20261207-222145", 13), "deep-s…222145");
        assert_eq!(middle_ellipsis("wine", 13), "wine");
        assert_eq!(middle_ellipsis("deep-sigmoid-20261207-222145", 10).chars().count(), 10);
    }

    #[test]
    fn ago_in_the_largest_unit() {
        assert_eq!(ago(100.0, 140.0), "40s ago");
        assert_eq!(ago(0.0, 7_300.0), "2h ago");
        assert_eq!(ago(0.0, 3.0 * 86_400.0 + 5.0), "3d ago");
        assert_eq!(ago(10.0, 5.0), "just now");
    }

    #[test]
    fn sparklines_scale_between_min_and_max() {
        assert_eq!(sparkline(&[1.0, 0.5, 0.0]), "█▅▁");
        assert_eq!(sparkline(&[2.0, 2.0]), "▄▄");
        assert_eq!(sparkline(&[0.0, f64::NAN, f64::INFINITY, 1.0]), "▁ !█");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn clean_escapes_controls_and_keeps_printable_unicode() {
        assert_eq!(clean("plain text, 1.5e-3"), "plain text, 1.5e-3");
        assert_eq!(clean("ünïcødé 数字 ✓ →"), "ünïcødé 数字 ✓ →");
        assert_eq!(clean("a\u{1b}]0;pwned\u{7}b"), r"a\x1b]0;pwned\x07b");
        assert_eq!(clean("\u{1b}[2J"), r"\x1b[2J");
        assert_eq!(clean("tab\tnl\ncr\rdel\u{7f}nul\u{0}"), r"tab\x09nl\x0acr\x0ddel\x7fnul\x00");
        assert_eq!(clean("csi\u{9b}31m"), r"csi\u{9b}31m");
        assert_eq!(clean("abc\u{202e}fed"), r"abc\u{202e}fed");
        assert_eq!(clean(r"a\b"), r"a\b");
        let cleaned = clean("\u{1b}\u{7}\u{9b}\u{8}");
        assert!(!cleaned.chars().any(char::is_control), "{cleaned:?}");
    }

    #[test]
    fn clean_lines_keeps_line_breaks_only() {
        assert_eq!(clean_lines("error: x\n  hint\u{1b}[1m"), "error: x\n  hint\\x1b[1m");
        assert_eq!(clean_lines("a\r\nb"), "a\\x0d\nb");
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_sci(0.0), "0");
        assert_eq!(fmt_sci(0.5), "0.500");
        assert_eq!(fmt_sci(2.345), "2.35");
        assert_eq!(fmt_sci(12345.0), "1.23e4");
        assert_eq!(fmt_sci(0.00012), "1.20e-4");
        assert_eq!(thousands(12345), "12,345");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(duration(12.4), "12s");
        assert_eq!(duration(185.0), "3m05s");
        assert_eq!(duration(3720.0), "1h02m");
        assert_eq!(duration(f64::NAN), "?");
    }
}
