//! Past runs read again and again (`top` rereads its history every few
//! seconds): a finished run does not change, so its entry is kept while its
//! `summary.json` keeps its size and time; any other run is read afresh.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::past_run::{self, PastRun};
use crate::train::run_dir::SUMMARY_FILE;

/// What a summary looked like when its run was read.
type Stamp = (u64, Option<SystemTime>);

/// Entries by run folder.
#[derive(Default)]
pub struct Cache {
    runs: HashMap<PathBuf, (Stamp, PastRun)>,
}

impl Cache {
    /// `dir` read, or kept from the last read when it ended before then and
    /// its summary has not changed since.
    pub fn read(&mut self, dir: &Path) -> PastRun {
        let stamp = stamp(dir);
        if let Some((was, run)) = self.runs.get(dir) {
            if stamp.is_some() && Some(*was) == stamp && run.finished() {
                return run.clone();
            }
        }
        let run = past_run::read(dir);
        match stamp {
            Some(s) => self.runs.insert(dir.to_path_buf(), (s, run.clone())),
            None => self.runs.remove(dir),
        };
        run
    }
}

fn stamp(dir: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(dir.join(SUMMARY_FILE)).ok()?;
    Some((meta.len(), meta.modified().ok()))
}

#[cfg(test)]
mod tests {
    use super::super::past_run::tests::folder;
    use super::*;

    #[test]
    fn a_finished_run_is_read_once_until_its_summary_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = folder(tmp.path(), "iris-1", "iris", Some("completed"), 0.9);
        let mut cache = Cache::default();
        assert_eq!(cache.read(&dir).changes, 1);
        std::fs::remove_file(dir.join("events.jsonl")).unwrap();
        assert_eq!(cache.read(&dir).changes, 1, "kept");
        std::fs::write(dir.join(SUMMARY_FILE), r#"{"stop_reason":"user","steps":9}"#).unwrap();
        let run = cache.read(&dir);
        assert_eq!((run.state.as_str(), run.changes), ("user", 0), "read again");
    }
}
