//! A resumed run's past, as its new clients get it: the folder's
//! `metrics.jsonl` and `events.jsonl` read a record at a time and handed on
//! at once (the fan-out keeps only what clients need, a bounded history),
//! never loaded whole: 540 MB of logs once took 972 MB and 8.6 s.
//!
//! Each file is in the order the run wrote it, and that order is kept: the
//! two are merged by their timestamps, but a record is never moved before
//! one written earlier in its own file, so a wall clock turned back
//! mid-run (its later records stamped earlier) cannot reorder a series.

use std::fs::File;
use std::io::BufReader;
use std::iter::Peekable;
use std::path::Path;

use crate::protocol::{EventReader, Record, RunEvent};

type Records = Peekable<Box<dyn Iterator<Item = Record>>>;

/// The records of one log, readable ones only (a torn or foreign line is
/// skipped, as `view` skips it); nothing where the file is missing.
fn records(path: &Path) -> Records {
    let iter: Box<dyn Iterator<Item = Record>> = match File::open(path) {
        Ok(file) => Box::new(EventReader::new(BufReader::new(file)).filter_map(Result::ok)),
        Err(_) => Box::new(std::iter::empty()),
    };
    iter.peekable()
}

/// Calls `each` with every earlier event of `run_dir` (hellos and unreadable
/// lines left out), metrics and events interleaved by time, each file in its
/// own order.
pub fn replay(run_dir: &Path, mut each: impl FnMut(RunEvent)) {
    let mut metrics = records(&run_dir.join("metrics.jsonl"));
    let mut events = records(&run_dir.join("events.jsonl"));
    loop {
        let from_metrics = match (metrics.peek(), events.peek()) {
            (None, None) => return,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            // Ties and unordered times go to metrics, as a stable sort did.
            (Some(m), Some(e)) => e.time >= m.time || e.time.is_nan(),
        };
        let next = if from_metrics { metrics.next() } else { events.next() };
        // The reader leaves the hellos at the top of each segment out.
        if let Some(record) = next {
            each(record.event);
        }
    }
}
