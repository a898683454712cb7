//! An append-only log of whole lines (`metrics.jsonl`, `events.jsonl`).
//! Lines are kept in memory until [`AppendLog::flush`], which hands them to
//! the file in one `write`; a write that fails part way (a full disk) is cut
//! back to the last whole line, so the file only ever ends with a whole
//! record. A crash that kills the process in the middle of a write can
//! still tear the last line, which the next writer cuts off when it opens
//! the file ([`AppendLog::open`]).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{context, modes, torn_tail::trim_torn_tail};

/// Bytes kept before a line forces a flush (as `BufWriter` does).
const BUFFER: usize = 64 << 10;

pub struct AppendLog {
    path: PathBuf,
    file: File,
    pending: Vec<u8>,
}

impl AppendLog {
    /// Opens (creating) `path` to append to, after cutting off a torn last
    /// line; returns the log and how many bytes were cut.
    pub fn open(path: &Path) -> io::Result<(Self, u64)> {
        let file = modes::open_append(path)?;
        let cut = trim_torn_tail(&file)
            .map_err(|e| context(format_args!("{}: cutting off a torn last line", path.display()), e))?;
        Ok((Self { path: path.to_path_buf(), file, pending: Vec::new() }, cut))
    }

    /// Adds one line (which must end with its newline).
    pub fn push(&mut self, line: &[u8]) -> io::Result<()> {
        debug_assert!(line.ends_with(b"\n"));
        if self.pending.len() + line.len() > BUFFER {
            self.flush()?;
        }
        self.pending.extend_from_slice(line);
        Ok(())
    }

    /// Writes what is pending; on a failure the file is cut back to its
    /// last whole line and the pending lines are dropped.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(&self.pending);
        self.pending.clear();
        written.map_err(|e| {
            let _ = trim_torn_tail(&self.file);
            context(format_args!("{}: appending", self.path.display()), e)
        })
    }

    /// [`AppendLog::flush`], then the data to the disk (what a checkpoint
    /// covers must outlive a power loss as well as the checkpoint does).
    pub fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        self.file.sync_data().map_err(|e| context(format_args!("{}: fsync", self.path.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_after_cutting_a_torn_line() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("m.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"b").unwrap();
        let (mut log, cut) = AppendLog::open(&path).unwrap();
        assert_eq!(cut, 3);
        log.push(b"{\"c\":2}\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n", "nothing before a flush");
        log.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"c\":2}\n");
    }

    #[test]
    fn a_full_disk_leaves_whole_lines() {
        // A one-page tmpfs (root only; skipped with the reason elsewhere).
        let tmp = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4096", "tmpfs"])
            .arg(tmp.path())
            .output();
        if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("SKIPPED: cannot mount a tmpfs here: {mounted:?}");
            return;
        }
        let path = tmp.path().join("m.jsonl");
        let line = format!("{{\"pad\":\"{}\"}}\n", "x".repeat(90));
        let (mut log, _) = AppendLog::open(&path).unwrap();
        let mut failed = None;
        for _ in 0..100 {
            log.push(line.as_bytes()).unwrap();
            if let Err(e) = log.push(line.as_bytes()).and_then(|_| log.flush()) {
                failed = Some(e);
                break;
            }
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::process::Command::new("umount").arg(tmp.path()).status();
        let e = failed.expect("the disk filled");
        assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
        assert!(e.to_string().contains("m.jsonl"), "names the file: {e}");
        assert!(text.ends_with('\n') && text.lines().all(|l| l == line.trim_end()), "whole lines only");
    }
}
