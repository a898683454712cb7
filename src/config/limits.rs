//! Upper bounds on every integer a config may hold, and the rule for run
//! names. The bounds are far above any model this CPU/GPU trainer can train,
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
}
