//! Upper bounds on every integer a config may hold, f32's range for its
//! floats, and the rule for run names. The bounds are far above any model this CPU/GPU trainer can train,
//! so they never get in the way; they exist so that arithmetic on them
//! (widths multiplied into parameter counts, batch times width) can never
//! overflow, and the memory estimate (`crate::engine::memory`) gets sane
//! numbers to work with.

/// Widest layer (2^24 units).
pub const MAX_WIDTH: usize = 1 << 24;
/// Most hidden layers.
pub const MAX_LAYERS: usize = 1024;
/// Largest batch (2^24 rows).
pub const MAX_BATCH: usize = 1 << 24;
pub const MAX_EPOCHS: usize = 1_000_000_000;
pub const MAX_LOG_EVERY: usize = 1_000_000_000;
/// Longest interval between checkpoints: a day.
pub const MAX_CHECKPOINT_SECS: f64 = 86_400.0;
/// Most rollbacks after divergences: each halves the learning rate, and
/// 100 halvings take any rate below what f32 can tell from 0.
pub const MAX_ROLLBACKS: usize = 100;
/// Largest divergence factor (the rule needs one above 1).
pub const MAX_DIVERGENCE_FACTOR: f64 = 1e30;
/// Synthetic sets: rows, features and classes.
pub const MAX_SAMPLES: usize = 1 << 30;
pub const MAX_FEATURES: usize = MAX_WIDTH;
pub const MAX_CLASSES: usize = MAX_WIDTH;
/// f32's normal range, as messages write its ends (f32's shortest forms).
/// Training runs in f32, where a larger value is inf and a smaller non-zero
/// one loses its precision on the way to 0 (an lr of 1e-50 trains at 0, and
/// a checkpoint holding an lr of inf or 0 is refused), so every float a
/// config sets must be 0 or within it.
pub const F32_SMALLEST_TEXT: &str = "1.1754944e-38";
pub const F32_LARGEST_TEXT: &str = "3.4028235e38";

/// Whether `value` is 0 or becomes an f32 of normal magnitude (NaN and
/// the infinities do not; `3.4028235e38` rounds to f32::MAX and does).
pub fn fits_f32(value: f64) -> bool {
    value == 0.0 || (value as f32).is_normal()
}

/// A float for a message: `1e39` and `1e-50` rather than forty digits.
pub fn shown(value: f64) -> String {
    let magnitude = value.abs();
    if value.is_finite() && magnitude != 0.0 && !(1e-6..1e9).contains(&magnitude) {
        format!("{value:e}")
    } else {
        format!("{value}")
    }
}

/// Longest run name in bytes; the folder name adds a 16-byte time stamp and
/// a counter, and must stay under the 255 bytes every filesystem allows.
pub const MAX_NAME: usize = 200;

/// Checks a run name: 1 to [`MAX_NAME`] bytes of ASCII letters, digits, `.`,
/// `_` and `-`, not starting with `.` or `-`. So a run folder is always one
/// plain folder inside the output folder: no `/`, no `..`, no hidden or
/// option-like names, nothing a shell needs quoted.
pub fn safe_run_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!("is {} bytes long, at most {MAX_NAME} allowed", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!(
            "{c:?} is not allowed: use letters, digits, '.', '_' and '-' (the name becomes a folder name)"
        ));
    }
    if name.starts_with(['.', '-']) {
        return Err("must not start with '.' or '-'".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names() {
        for ok in ["run", "digits-64x2", "a.b_c", "X1"] {
            assert_eq!(safe_run_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "../../../tmp/x", "/tmp/x", "a/b", "..", ".hidden", "-rf", "a b", "é", "a\0b", "a\\b"] {
            assert!(safe_run_name(bad).is_err(), "{bad:?}");
        }
        assert!(safe_run_name(&"a".repeat(MAX_NAME)).is_ok());
        assert!(safe_run_name(&"a".repeat(256)).unwrap_err().contains("at most 200"));
    }

    #[test]
    fn f32_range() {
        assert_eq!(format!("{:e}", f32::MIN_POSITIVE), F32_SMALLEST_TEXT);
        assert_eq!(format!("{:e}", f32::MAX), F32_LARGEST_TEXT);
        let (smallest, largest) = (f32::MIN_POSITIVE as f64, f32::MAX as f64);
        for ok in [0.0, -0.0, 1.0, -2.5, smallest, largest, -largest, 3.4028235e38, 1.1754944e-38] {
            assert!(fits_f32(ok), "{ok}");
        }
        for bad in [1e39, -1e39, 1e-50, -1e-40, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(!fits_f32(bad), "{bad}");
        }
        assert_eq!(
            (shown(1e39), shown(1e-50), shown(0.001), shown(0.0), shown(f64::NAN)),
            ("1e39".to_string(), "1e-50".to_string(), "0.001".to_string(), "0".to_string(), "NaN".to_string())
        );
    }
}
