//! A run's charts and series written to files for a report: `traintop view
//! RUN --export FILE.svg|FILE.png --csv FILE`, and `view`'s export key
//! (into the run folder's `export/`). The records are read from the run
//! folder through the protocol's types (`series`), laid out as the
//! dashboard's panels (`charts`, `confusion`), drawn by `chart` and
//! tabulated as CSV (`table`).
//!
//! Every target is checked (format, folder) before the run is read, and
//! each file is written atomically: a bad argument or a failed write
//! leaves no part of a file behind.

mod charts;
mod confusion;
mod series;
mod table;
mod target;

use std::path::{Path, PathBuf};

use crate::chart::{png, svg};
use series::RunSeries;
use target::Format;

pub use target::parse_size;

/// The picture's size when none is asked for, in pixels.
pub const DEFAULT_SIZE: (u32, u32) = (1200, 800);

/// What to write.
#[derive(Clone, Debug)]
pub struct ExportRequest {
    /// Pictures of the charts, `.svg` or `.png`.
    pub pictures: Vec<PathBuf>,
    /// CSV files, or folders to write `<run>.csv` into.
    pub csv: Vec<PathBuf>,
    /// Width and height of the pictures.
    pub size: (u32, u32),
}

/// Writes what `request` asks of the run folder `dir`; returns the files
/// written, in order. The error names the file or folder at fault.
pub fn export(dir: &Path, request: &ExportRequest) -> Result<Vec<PathBuf>, String> {
    let formats = request.pictures.iter().map(|p| target::format_of(p)).collect::<Result<Vec<_>, _>>()?;
    let series = RunSeries::read(dir)?;
    let pictures: Vec<(&PathBuf, Format)> = request.pictures.iter().zip(formats).collect();
    let csv: Vec<PathBuf> = request.csv.iter().map(|p| target::csv_file(p, &series.name)).collect();
    for path in &request.pictures {
        target::check("--export", path)?;
    }
    for path in &csv {
        target::check("--csv", path)?;
    }
    write(&series, &pictures, &csv, request.size)
}

/// The export key: `<dir>/export/<run>.svg`, `.png` and `.csv`.
pub fn into_run_folder(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let series = RunSeries::read(dir)?;
    let out = dir.join("export");
    match crate::run_files::create_dir(&out, crate::run_files::Access::of(dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(format!("{}: cannot make the folder: {e}", out.display()));
        }
        _ => {}
    }
    let base = out.join(&series.name);
    let (svg_file, png_file) = (base.with_extension("svg"), base.with_extension("png"));
    let pictures = [(&svg_file, Format::Svg), (&png_file, Format::Png)];
    write(&series, &pictures, &[base.with_extension("csv")], DEFAULT_SIZE)
}

fn write(
    series: &RunSeries,
    pictures: &[(&PathBuf, Format)],
    csv: &[PathBuf],
    (width, height): (u32, u32),
) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    if !pictures.is_empty() {
        let page = charts::page(series, width, height);
        for (path, format) in pictures {
            let bytes = match format {
                Format::Svg => svg::render(&page).into_bytes(),
                Format::Png => png::render(&page).map_err(|e| format!("--export {}: {e}", path.display()))?,
            };
            target::write("--export", path, &bytes)?;
            written.push(path.to_path_buf());
        }
    }
    if !csv.is_empty() {
        let text = table::csv(series)?;
        for path in csv {
            target::write("--csv", path, &text)?;
            written.push(path.clone());
        }
    }
    Ok(written)
}
