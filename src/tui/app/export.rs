//! The export key in `view`: the run's charts (SVG, PNG) and series (CSV)
//! written into its folder's `export/`, and where they went said in the
//! footer and the event log. A live dashboard's run may be on another
//! machine (`attach --ssh`), so only `view`, which read the folder, writes.

use super::App;
use crate::tui::state::LogKind;

impl App {
    /// `view` shows the run folder `dir`: the export key writes there.
    pub fn set_run_folder(&mut self, dir: &std::path::Path) {
        self.run_folder = Some(dir.to_path_buf());
    }

    pub(super) fn export(&mut self) {
        let Some(dir) = self.run_folder.clone() else {
            self.notice = Some("export: in `traintop view RUN` (or view RUN --export FILE)".into());
            return;
        };
        let (text, kind) = match crate::export::into_run_folder(&dir) {
            Ok(files) => (wrote(&files), LogKind::Info),
            Err(e) => (format!("export failed: {e}"), LogKind::Warn),
        };
        self.notice = Some(text.clone());
        self.push_log(None, text, kind);
    }
}

/// `wrote DIR/export/NAME.svg .png .csv`: the first file in full, the
/// others by their extension, so the line fits a footer.
fn wrote(files: &[std::path::PathBuf]) -> String {
    let mut text = String::from("wrote");
    for (i, f) in files.iter().enumerate() {
        let ext = f.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
        let shown = if i == 0 { f.display().to_string() } else { format!(".{ext}") };
        text.push(' ');
        text.push_str(&shown);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_are_named_in_one_short_line() {
        let files = ["r/export/a.svg", "r/export/a.png", "r/export/a.csv"].map(std::path::PathBuf::from);
        assert_eq!(wrote(&files), "wrote r/export/a.svg .png .csv");
    }

    #[test]
    fn a_live_dashboard_says_where_export_works() {
        let mut app = App::new("t", true);
        app.export();
        assert!(app.notice.as_deref().is_some_and(|n| n.contains("traintop view RUN")), "{:?}", app.notice);
    }
}
