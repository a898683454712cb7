//! How much memory loading a data set takes, from its files' sizes alone,
//! before a byte is read: a run whose data cannot fit is refused with the
//! figure instead of dying in the allocator part way through the load.
//!
//! The factors are measured peaks per byte of file, rounded up:
//! - CSV: about 16 (a 2.1 GB file peaked near 34 GB): the text, the parsed
//!   records, one f32 per cell, the encoded rows, and the split's copy.
//! - IDX: 9: the file's bytes, one f32 per byte (4), and the split's copy (4).
//!
//! Synthetic sets have no file; their rows are counted from the config.

use std::path::Path;

use super::spec::DataSource;

/// Peak bytes per byte of a CSV file while it loads.
pub const CSV_FACTOR: f64 = 16.0;
/// Peak bytes per byte of IDX files while they load.
pub const IDX_FACTOR: f64 = 9.0;

/// What loading `source` needs: (bytes, a description such as "a 2.1 GiB
/// CSV file"); `None` for a synthetic set or files that cannot be read (the
/// loader says what is wrong with them).
pub fn load_bytes(source: &DataSource) -> Option<(f64, String)> {
    match source {
        DataSource::Csv(path) => {
            let size = size_of(path)?;
            Some((size * CSV_FACTOR, format!("a {} CSV file", human(size))))
        }
        DataSource::Idx { images, labels } => {
            let size = size_of(images)? + size_of(labels).unwrap_or(0.0);
            Some((size * IDX_FACTOR, format!("{} of IDX files", human(size))))
        }
        DataSource::Synthetic(_) => None,
    }
}

fn size_of(path: &Path) -> Option<f64> {
    std::fs::metadata(path).ok().map(|m| m.len() as f64)
}

/// `bytes` as "1.5 GiB" (as `engine::memory::human`; data imports nothing
/// above it).
fn human(bytes: f64) -> String {
    let gib = bytes / (1u64 << 30) as f64;
    match gib >= 1.0 {
        true => format!("{gib:.1} GiB"),
        false => format!("{:.1} MiB", bytes / (1u64 << 20) as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_file_counts_sixteen_times_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, vec![b'1'; 1 << 20]).unwrap();
        let (bytes, what) = load_bytes(&DataSource::Csv(path)).unwrap();
        assert_eq!(bytes, 16.0 * (1 << 20) as f64);
        assert_eq!(what, "a 1.0 MiB CSV file");
        assert!(load_bytes(&DataSource::Csv(dir.path().join("missing.csv"))).is_none());
    }
}
