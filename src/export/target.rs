//! Where an export goes and in what form: the picture's format from the
//! file's extension, the CSV's file (a folder gets `<run>.csv`), the size
//! asked for, and the write itself, atomic so a failure leaves no part of a
//! file. Every error names the file and what was expected.

use std::path::{Path, PathBuf};

/// A picture's file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

/// The format `path`'s extension names.
pub fn format_of(path: &Path) -> Result<Format, String> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("svg") => Ok(Format::Svg),
        Some("png") => Ok(Format::Png),
        Some(other) => {
            Err(format!("--export {}: unknown extension `.{other}` (expected .svg or .png)", path.display()))
        }
        None => Err(format!("--export {}: no extension (expected FILE.svg or FILE.png)", path.display())),
    }
}

/// The smallest and largest side of a picture, in pixels.
pub const SIDES: std::ops::RangeInclusive<u32> = 320..=8192;

/// `WIDTHxHEIGHT`, e.g. `1200x800`.
pub fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let bad = || {
        format!(
            "--size {text}: expected WIDTHxHEIGHT in pixels, each {}..={}, e.g. 1200x800",
            SIDES.start(),
            SIDES.end()
        )
    };
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h) = (w.trim().parse::<u32>().map_err(|_| bad())?, h.trim().parse::<u32>().map_err(|_| bad())?);
    if !SIDES.contains(&w) || !SIDES.contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}

/// The CSV file for `--csv path`: `path` itself, or `<run>.csv` inside it
/// when it is a folder (or is written as one, with a trailing `/`).
pub fn csv_file(path: &Path, run: &str) -> PathBuf {
    let folder = path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/');
    if folder {
        path.join(format!("{run}.csv"))
    } else {
        path.to_path_buf()
    }
}

/// Whether `path` can be written at all: its folder exists and it is not a
/// folder itself. Checked for every file before any is written, so one bad
/// path of several leaves nothing behind.
pub fn check(flag: &str, path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!("{flag} {}: is a folder (expected a file to write)", path.display()));
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(format!("{flag} {}: no folder {} to write it in", path.display(), parent.display()));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically; the error names the file.
pub fn write(flag: &str, path: &Path, bytes: &[u8]) -> Result<(), String> {
    check(flag, path)?;
    crate::run_files::write_atomically(path, bytes)
        .map_err(|e| format!("{flag} {}: cannot write it: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_extension() {
        assert_eq!(format_of(Path::new("a/loss.SVG")), Ok(Format::Svg));
        assert_eq!(format_of(Path::new("loss.png")), Ok(Format::Png));
        let e = format_of(Path::new("loss.jpg")).unwrap_err();
        assert_eq!(e, "--export loss.jpg: unknown extension `.jpg` (expected .svg or .png)");
        assert!(format_of(Path::new("loss")).unwrap_err().contains("no extension"));
    }

    #[test]
    fn sizes_are_checked() {
        assert_eq!(parse_size("1200x800"), Ok((1200, 800)));
        for bad in ["1200", "0x800", "99999x800", "axb", "800x-1"] {
            assert!(parse_size(bad).unwrap_err().starts_with(&format!("--size {bad}: expected WIDTHxHEIGHT")));
        }
    }

    #[test]
    fn a_folder_gets_the_runs_name() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(csv_file(tmp.path(), "iris-1"), tmp.path().join("iris-1.csv"));
        assert_eq!(csv_file(Path::new("out/"), "r"), Path::new("out/r.csv"));
        assert_eq!(csv_file(Path::new("out.csv"), "r"), Path::new("out.csv"));
    }
}
