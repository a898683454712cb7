//! The headless line log's way out. Lines go through a bounded queue to a
//! thread of their own that writes them, so a reader that stops reading (a
//! stalled ssh session, a pipe into a paused program) blocks that thread,
//! never the trainer. When the queue is full a line is dropped and counted:
//! lines are lost, never steps. Once the reader drains again, a line on the
//! output says how many were lost, and the run's events get the count.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where a line goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// Lines held for a slow reader: some 100 KiB of progress, seconds of a
/// fast run.
pub const CAPACITY: usize = 1024;

#[derive(Default)]
struct Counts {
    /// Lines queued and not yet written.
    pending: AtomicU64,
    /// Dropped since the last notice on the output.
    unsaid: AtomicU64,
    /// Dropped, their notice due or written, not yet taken for the run's
    /// events.
    said: AtomicU64,
}

/// The line that stands for `n` dropped lines.
pub fn notice(n: u64) -> String {
    format!("{n} progress line{} dropped (output not read)", if n == 1 { "" } else { "s" })
}

/// The sending end, for the trainer's thread: never blocks.
pub struct LineSink {
    tx: SyncSender<(Stream, String)>,
    counts: Arc<Counts>,
}

impl LineSink {
    pub fn send(&self, stream: Stream, line: String) {
        self.counts.pending.fetch_add(1, Relaxed);
        match self.tx.try_send((stream, line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.counts.pending.fetch_sub(1, Relaxed);
                self.counts.unsaid.fetch_add(1, Relaxed);
            }
            // The writer has ended: nothing is left to show lines.
            Err(TrySendError::Disconnected(_)) => {
                self.counts.pending.fetch_sub(1, Relaxed);
            }
        }
    }
}

/// The writing end: its thread and what it counted.
pub struct LinePump {
    counts: Arc<Counts>,
    thread: JoinHandle<()>,
}

/// Starts a pump writing to this process's stdout and stderr.
pub fn start() -> std::io::Result<(LineSink, LinePump)> {
    start_with(CAPACITY, std::io::stdout(), std::io::stderr())
}

/// Starts a pump of `capacity` lines writing to `out` and `err`.
pub fn start_with<O, E>(capacity: usize, out: O, err: E) -> std::io::Result<(LineSink, LinePump)>
where
    O: Write + Send + 'static,
    E: Write + Send + 'static,
{
    let (tx, rx) = sync_channel(capacity);
    let counts = Arc::new(Counts::default());
    let drained = Arc::clone(&counts);
    let thread = std::thread::Builder::new().name("output".into()).spawn(move || drain(rx, out, err, &drained))?;
    Ok((LineSink { tx, counts: Arc::clone(&counts) }, LinePump { counts, thread }))
}

fn drain(rx: Receiver<(Stream, String)>, mut out: impl Write, mut err: impl Write, counts: &Counts) {
    let say_dropped = |out: &mut dyn Write| {
        let dropped = counts.unsaid.swap(0, Relaxed);
        if dropped > 0 {
            // Counted before the write, which may block in turn.
            counts.said.fetch_add(dropped, Relaxed);
            let _ = writeln!(out, "{}", notice(dropped));
        }
    };
    for (stream, line) in rx {
        // The write before this one went through: the reader reads again.
        say_dropped(&mut out);
        let _ = match stream {
            Stream::Out => writeln!(out, "{line}").and_then(|_| out.flush()),
            Stream::Err => writeln!(err, "{line}").and_then(|_| err.flush()),
        };
        counts.pending.fetch_sub(1, Relaxed);
    }
    say_dropped(&mut out);
    let _ = out.flush();
}

impl LinePump {
    /// Dropped lines whose notice the output has shown (or is showing: the
    /// reader took a line since they were dropped) since the last call.
    pub fn take_said(&self) -> u64 {
        self.counts.said.swap(0, Relaxed)
    }

    /// Once every sink is gone: waits up to `wait` for the queue to be
    /// written, and returns the lines not taken with [`Self::take_said`] that
    /// the reader did not get (dropped, or still queued when the wait ended).
    /// A reader that never reads again keeps the thread blocked in a write;
    /// it is left so, and ends with the process.
    pub fn finish(self, wait: Duration) -> u64 {
        let start = Instant::now();
        while !self.thread.is_finished() && start.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(10));
        }
        let c = &self.counts;
        c.said.swap(0, Relaxed) + c.unsaid.swap(0, Relaxed) + c.pending.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Condvar, Mutex};

    /// A writer that blocks until it is opened, then keeps what it got.
    /// Whether it is open, and what was written.
    type GateState = Mutex<(bool, Vec<u8>)>;

    #[derive(Clone, Default)]
    struct Gate(Arc<(GateState, Condvar)>);

    impl Gate {
        fn open(&self) {
            self.0 .0.lock().unwrap().0 = true;
            self.0 .1.notify_all();
        }
        fn text(&self) -> String {
            String::from_utf8(self.0 .0.lock().unwrap().1.clone()).unwrap()
        }
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (lock, wake) = &*self.0;
            let mut state = wake.wait_while(lock.lock().unwrap(), |s| !s.0).unwrap();
            state.1.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_reader_costs_lines_never_the_sender() {
        let gate = Gate::default();
        let (sink, pump) = start_with(4, gate.clone(), Vec::new()).unwrap();
        sink.send(Stream::Out, "line 0".into());
        // The writer takes it and blocks in its write.
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        for i in 1..100 {
            sink.send(Stream::Out, format!("line {i}"));
        }
        assert!(start.elapsed() < Duration::from_secs(1), "sending never waits for the reader");
        gate.open();
        std::thread::sleep(Duration::from_millis(100));
        sink.send(Stream::Out, "after".into());
        drop(sink);
        let lost = pump.finish(Duration::from_secs(5));
        let text = gate.text();
        // Line 0 was in the write, 1 to 4 queued, the rest dropped.
        assert!(text.starts_with("line 0\n95 progress lines dropped (output not read)\nline 1\n"), "{text}");
        assert!(text.contains("95 progress lines dropped (output not read)\n"), "{text}");
        assert!(text.ends_with("after\n"), "{text}");
        assert_eq!(lost, 95, "the dropped lines, for the events");
    }

    #[test]
    fn a_reader_that_never_reads_again_is_left_behind() {
        let gate = Gate::default();
        let (sink, pump) = start_with(2, gate, Vec::new()).unwrap();
        for i in 0..10 {
            sink.send(Stream::Out, format!("line {i}"));
        }
        drop(sink);
        let start = Instant::now();
        let lost = pump.finish(Duration::from_millis(200));
        assert!(start.elapsed() < Duration::from_secs(2));
        // One line blocked in the write, two queued, the rest dropped: none
        // reached the reader.
        assert_eq!(lost, 10);
    }
}
