//! One run's records, sent to any number of clients without the trainer ever
//! waiting for one (zellij's rule).
//!
//! The trainer hands each record to a [`Publisher`], which only queues it for
//! the fan-out thread (steps are dropped there, never waited for, if that
//! thread falls behind). The fan-out thread encodes each record once, keeps a
//! bounded history for clients that attach later, and offers the line to
//! every client's bounded queue. A client whose queue is full is cut off (its
//! socket shut down); the attach client then reconnects and starts again
//! from a fresh history: drop and resync. The backlog (what a late client is
//! sent first) and the subscriptions share one lock, so a new client gets
//! every record exactly once: in its backlog or in its queue.
//!
//! Steps go out live at most once per [`LIVE_STEP_INTERVAL`]: a small net
//! makes over ten thousand steps a second, and a dashboard that decodes
//! every one of them (and a writer thread woken for each) takes CPU from the
//! training it watches, while drawing only a few frames a second. The newest
//! step is held back, not lost: it goes out before the next record of any
//! other kind, before a new client subscribes, and at the latest one interval
//! later. The history and metrics.jsonl keep their own rules.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An encoded record: one JSON object and its newline.
pub type Line = Arc<str>;

/// Lines a client may have waiting before it counts as stopped.
pub const CLIENT_QUEUE: usize = 4096;
/// Records the trainer may have waiting for the fan-out thread before steps
/// are dropped.
const PUBLISH_QUEUE: usize = 8192;
/// Points kept per series in the history (the dashboard's charts keep 2000).
const SERIES_CAP: usize = 2000;
/// Log lines kept in the history (the dashboard shows the last 500).
const LOG_CAP: usize = 1000;
/// The least time between two steps sent live (50 a second: more than a
/// dashboard draws).
pub const LIVE_STEP_INTERVAL: Duration = Duration::from_millis(20);

/// How a record lives in the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Always (the run's start).
    Always,
    /// Only the latest of this key (the techniques' state, the run state).
    Latest(&'static str),
    /// A series (steps, epochs): thinned to every 2nd, 4th... point when
    /// long, the latest point always sent.
    Series(&'static str),
    /// Log lines and markers: the last [`LOG_CAP`].
    Log,
    /// Not at all (live only).
    Never,
}

struct Entry {
    seq: u64,
    line: Line,
    keep: Keep,
}

#[derive(Default)]
struct SeriesState {
    stride: u64,
    seen: u64,
    kept: usize,
    latest: Option<(u64, Line)>,
}

/// The records a client that attaches later is sent first.
#[derive(Default)]
struct Backlog {
    entries: Vec<Entry>,
    series: HashMap<&'static str, SeriesState>,
    logs: usize,
    seq: u64,
}

impl Backlog {
    fn push(&mut self, line: &Line, keep: Keep) {
        self.seq += 1;
        let seq = self.seq;
        match keep {
            Keep::Never => return,
            Keep::Always => {}
            Keep::Latest(key) => self.entries.retain(|e| e.keep != Keep::Latest(key)),
            Keep::Log => {
                self.logs += 1;
                if self.logs > LOG_CAP {
                    if let Some(i) = self.entries.iter().position(|e| e.keep == Keep::Log) {
                        self.entries.remove(i);
                        self.logs -= 1;
                    }
                }
            }
            Keep::Series(key) => {
                let s = self.series.entry(key).or_insert_with(|| SeriesState { stride: 1, ..Default::default() });
                s.latest = Some((seq, Arc::clone(line)));
                s.seen += 1;
                if !s.seen.is_multiple_of(s.stride) {
                    return;
                }
                s.kept += 1;
                if s.kept > SERIES_CAP {
                    let mut n = 0usize;
                    self.entries.retain(|e| {
                        if e.keep != Keep::Series(key) {
                            return true;
                        }
                        n += 1;
                        n.is_multiple_of(2)
                    });
                    s.kept = n / 2 + 1;
                    s.stride *= 2;
                }
            }
        }
        self.entries.push(Entry { seq, line: Arc::clone(line), keep });
    }

    /// Every kept line in order, each series ending on its latest point.
    fn snapshot(&self) -> Vec<Line> {
        let mut lines: Vec<(u64, Line)> = self.entries.iter().map(|e| (e.seq, Arc::clone(&e.line))).collect();
        for s in self.series.values() {
            if let Some((seq, line)) = &s.latest {
                if !self.entries.iter().any(|e| e.seq == *seq) {
                    lines.push((*seq, Arc::clone(line)));
                }
            }
        }
        lines.sort_by_key(|(seq, _)| *seq);
        lines.into_iter().map(|(_, l)| l).collect()
    }
}

struct Slot {
    id: u64,
    tx: SyncSender<Line>,
    /// Cuts the client off (shuts its socket down).
    kick: Box<dyn Fn() + Send>,
}

#[derive(Default)]
struct Inner {
    history: Backlog,
    clients: Vec<Slot>,
    next_id: u64,
    /// The newest step not sent live yet.
    held: Option<Line>,
    last_step_sent: Option<Instant>,
}

impl Inner {
    /// Offers `line` to every client; a client whose queue is full is cut
    /// off, never waited for.
    fn offer(&mut self, line: &Line) {
        self.clients.retain(|c| match c.tx.try_send(Arc::clone(line)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                (c.kick)();
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    fn send_held(&mut self) {
        if let Some(line) = self.held.take() {
            self.offer(&line);
            self.last_step_sent = Some(Instant::now());
        }
    }
}

/// The history and the clients of one run.
pub struct Fanout {
    inner: Mutex<Inner>,
    step_interval: Duration,
}

impl Default for Fanout {
    fn default() -> Self {
        Self::with_step_interval(LIVE_STEP_INTERVAL)
    }
}

/// A new client's start: what happened so far, then the live lines.
pub struct Subscription {
    pub id: u64,
    pub history: Vec<Line>,
    pub live: Receiver<Line>,
}

impl Fanout {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fan-out that sends steps live at most once per `step_interval`
    /// (zero: every one).
    pub fn with_step_interval(step_interval: Duration) -> Self {
        Self { inner: Mutex::default(), step_interval }
    }

    /// Records `line` and offers it to every client (a step only when the
    /// last one sent is an interval old; otherwise it is held).
    pub fn publish(&self, line: Line, keep: Keep) {
        let mut inner = self.lock();
        inner.history.push(&line, keep);
        if keep == Keep::Series("step") {
            let now = Instant::now();
            if inner.last_step_sent.is_some_and(|t| now.duration_since(t) < self.step_interval) {
                inner.held = Some(line);
                return;
            }
            inner.held = None;
            inner.last_step_sent = Some(now);
        } else {
            inner.send_held();
        }
        inner.offer(&line);
    }

    /// Sends the held step once it is an interval late; true while one is
    /// still held.
    pub fn send_held_when_due(&self) -> bool {
        let mut inner = self.lock();
        let due = inner.last_step_sent.is_none_or(|t| t.elapsed() >= self.step_interval);
        if due {
            inner.send_held();
        }
        inner.held.is_some()
    }

    /// Adds a client; `kick` cuts it off when it falls behind.
    pub fn subscribe(&self, kick: Box<dyn Fn() + Send>) -> Subscription {
        let mut inner = self.lock();
        // The held step is in the history already: out to the others first,
        // so that the new client does not get it twice.
        inner.send_held();
        let (tx, live) = mpsc::sync_channel(CLIENT_QUEUE);
        inner.next_id += 1;
        let id = inner.next_id;
        inner.clients.push(Slot { id, tx, kick });
        Subscription { id, history: inner.history.snapshot(), live }
    }

    pub fn unsubscribe(&self, id: u64) {
        self.lock().clients.retain(|c| c.id != id);
    }

    pub fn client_count(&self) -> usize {
        self.lock().clients.len()
    }
}

/// The trainer's side: queues records for the fan-out thread.
pub struct Publisher<E> {
    tx: Sender<E>,
    pending: Arc<AtomicUsize>,
}

impl<E> Clone for Publisher<E> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone(), pending: Arc::clone(&self.pending) }
    }
}

impl<E: Send + 'static> Publisher<E> {
    /// Starts the fan-out thread; `encode` turns a record into its line and
    /// history rule (on that thread, not the trainer's).
    pub fn start(fanout: Arc<Fanout>, encode: impl Fn(&E) -> (Line, Keep) + Send + 'static) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<E>();
        let pending = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&pending);
        std::thread::Builder::new().name("fanout".into()).spawn(move || {
            let mut holding = false;
            loop {
                let record = match holding {
                    false => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    true => rx.recv_timeout(fanout.step_interval),
                };
                match record {
                    Ok(record) => {
                        count.fetch_sub(1, Ordering::Relaxed);
                        let (line, keep) = encode(&record);
                        fanout.publish(line, keep);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        fanout.lock().send_held();
                        return;
                    }
                }
                holding = fanout.send_held_when_due();
            }
        })?;
        Ok(Self { tx, pending })
    }

    /// Queues a record. A `droppable` one (a step) is dropped when the
    /// fan-out thread is far behind; others always queue (they are few).
    pub fn send(&self, record: E, droppable: bool) {
        if droppable && self.pending.load(Ordering::Relaxed) >= PUBLISH_QUEUE {
            return;
        }
        self.pending.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(record).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> Line {
        Arc::from(s)
    }

    #[test]
    fn a_late_client_gets_the_history_then_the_live_lines_once() {
        let f = Fanout::with_step_interval(Duration::ZERO);
        f.publish(line("start"), Keep::Always);
        f.publish(line("tech 1"), Keep::Latest("tech"));
        f.publish(line("step 1"), Keep::Series("step"));
        f.publish(line("tech 2"), Keep::Latest("tech"));
        let sub = f.subscribe(Box::new(|| {}));
        assert_eq!(sub.history, vec![line("start"), line("step 1"), line("tech 2")]);
        f.publish(line("step 2"), Keep::Series("step"));
        assert_eq!(sub.live.try_recv().unwrap(), line("step 2"));
        assert!(sub.live.try_recv().is_err());
    }

    #[test]
    fn long_series_are_thinned_and_end_on_the_latest_point() {
        let f = Fanout::default();
        for i in 1..=10 * SERIES_CAP {
            f.publish(line(&format!("{i}")), Keep::Series("step"));
        }
        let history = f.subscribe(Box::new(|| {})).history;
        assert!(history.len() <= SERIES_CAP + 2, "{}", history.len());
        assert!(history.len() >= SERIES_CAP / 2, "{}", history.len());
        assert_eq!(history.last().unwrap().as_ref(), format!("{}", 10 * SERIES_CAP));
        let values: Vec<usize> = history.iter().map(|l| l.parse().unwrap()).collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]), "in order");
    }

    #[test]
    fn a_client_that_stops_reading_is_cut_off_and_the_others_go_on() {
        let f = Fanout::with_step_interval(Duration::ZERO);
        let kicked = Arc::new(AtomicUsize::new(0));
        let k = Arc::clone(&kicked);
        let stuck = f.subscribe(Box::new(move || {
            k.fetch_add(1, Ordering::SeqCst);
        }));
        let reader = f.subscribe(Box::new(|| {}));
        for i in 0..CLIENT_QUEUE + 10 {
            f.publish(line(&format!("{i}")), Keep::Never);
            assert!(reader.live.try_recv().is_ok());
        }
        assert_eq!(kicked.load(Ordering::SeqCst), 1);
        assert_eq!(f.client_count(), 1);
        drop(stuck);
    }

    #[test]
    fn the_publisher_never_blocks_and_keeps_the_rare_records() {
        let f = Arc::new(Fanout::default());
        let keep = |s: &String| if s == "kept" { Keep::Always } else { Keep::Log };
        let p = Publisher::start(Arc::clone(&f), move |s: &String| (Arc::from(s.as_str()), keep(s))).unwrap();
        p.send("kept".to_string(), false);
        let started = std::time::Instant::now();
        for i in 0..100_000 {
            p.send(format!("{i}"), true);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        drop(p);
        for _ in 0..100 {
            if f.subscribe(Box::new(|| {})).history.first().map(|l| l.as_ref() == "kept") == Some(true) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the record never arrived");
    }

    #[test]
    fn steps_go_out_coalesced_and_the_newest_is_never_lost() {
        let f = Fanout::with_step_interval(Duration::from_secs(3600));
        let sub = f.subscribe(Box::new(|| {}));
        for i in 1..=100 {
            f.publish(line(&format!("step {i}")), Keep::Series("step"));
        }
        // The first went out; the others wait, and only the newest stays.
        assert_eq!(sub.live.try_recv().unwrap(), line("step 1"));
        assert!(sub.live.try_recv().is_err());
        assert!(f.send_held_when_due(), "not due for an hour");
        // Any other record sends the held step first, in order.
        f.publish(line("marker"), Keep::Log);
        assert_eq!(sub.live.try_recv().unwrap(), line("step 100"));
        assert_eq!(sub.live.try_recv().unwrap(), line("marker"));
        // A new client gets a held step once: in its history, not live.
        f.publish(line("step 101"), Keep::Series("step"));
        let late = f.subscribe(Box::new(|| {}));
        assert_eq!(sub.live.try_recv().unwrap(), line("step 101"));
        assert_eq!(late.history.last().unwrap(), &line("step 101"));
        assert!(late.live.try_recv().is_err());
    }

    #[test]
    fn a_held_step_goes_out_once_an_interval_has_passed() {
        let f = Fanout::with_step_interval(Duration::from_millis(5));
        let sub = f.subscribe(Box::new(|| {}));
        f.publish(line("step 1"), Keep::Series("step"));
        f.publish(line("step 2"), Keep::Series("step"));
        std::thread::sleep(Duration::from_millis(10));
        assert!(!f.send_held_when_due());
        let got: Vec<Line> = sub.live.try_iter().collect();
        assert_eq!(got, vec![line("step 1"), line("step 2")]);
    }
}
