//! The last word on a local run whose socket has gone: its folder. A run
//! that ends while a dashboard is still connecting (a short run, a loaded
//! machine) can exit before that dashboard was sent its records; the
//! folder then holds all of them, `finished` included, and the dashboard
//! shows the run as it ended instead of "stopped without finishing".

use std::path::Path;

use crate::protocol::framing::decode;
use crate::protocol::{Record, RunEvent};
use crate::serve::server::folder_backlog;

/// The records a dashboard of `run_dir` needs, if the folder says the run
/// finished; `None` while it does not (a run still going, or one that
/// crashed, whose folder is not the whole story).
pub fn finished_records(run_dir: &Path) -> Option<Vec<RunEvent>> {
    let events: Vec<RunEvent> =
        folder_backlog(run_dir).iter().filter_map(|line| decode::<Record>(line).ok()).map(|r| r.event).collect();
    events.iter().any(|e| matches!(e, RunEvent::Finished { .. })).then_some(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::framing::encode;
    use crate::protocol::{RecordRef, StopReason};

    fn write(dir: &Path, file: &str, events: &[RunEvent]) {
        let bytes: Vec<u8> = events.iter().flat_map(|e| encode(&RecordRef::now(e))).collect();
        std::fs::write(dir.join(file), bytes).unwrap();
    }

    #[test]
    fn a_finished_folder_gives_its_records_and_a_running_one_nothing() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "events.jsonl", &[RunEvent::log("started")]);
        assert!(finished_records(dir.path()).is_none(), "no finished record yet");
        let finished = RunEvent::Finished {
            step: 48,
            epoch: 6,
            reason: StopReason::Completed,
            run_dir: dir.path().display().to_string(),
            error: None,
        };
        write(dir.path(), "events.jsonl", &[RunEvent::log("started"), finished.clone()]);
        let records = finished_records(dir.path()).expect("the folder says it finished");
        assert_eq!(records.last(), Some(&finished));
        assert!(finished_records(&dir.path().join("missing")).is_none());
    }
}
