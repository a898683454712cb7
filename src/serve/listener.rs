//! The run's socket: accepts connections, checks each peer's uid
//! (SO_PEERCRED), greets it with the protocol's hello and the run's status,
//! and gives every watching client two threads: one reads its requests and
//! hands them to the [`Handler`], one writes the run's history and then its
//! live events from the client's bounded queue. A line that is not the
//! protocol gets one `error` event back and the connection closed; nothing
//! a peer sends reaches the trainer except a well-formed request.
//!
//! What a peer may cost is bounded ([`super::limits`]): connections beyond
//! the cap get one error line from the listener itself; a hello must be
//! complete within a fixed time of the accept; errors and rejections echo
//! only a short, cleaned prefix of what the peer sent; commands pass a
//! per-client [`Bucket`]. Who a client is comes from the socket
//! ([`identify`]), not from its hello.

use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::deadline::{timed_out, Deadline};
use super::fanout::{Fanout, Line};
use super::identity::identify;
use super::limits::{echo, Slot, Slots, ECHO_CHARS, HELLO_DEADLINE, MAX_CONNECTIONS, MESSAGE_CHARS};
use super::rate::{Bucket, COMMANDS_PER_SEC};
use crate::protocol::framing::encode;
use crate::protocol::{
    ClientHello, ClientId, ConnectionMessage, FrameError, Hello, LineReader, RecordRef, Request, RunEvent, RunStatus,
    Want,
};

/// The longest technique, parameter or value a command may carry
/// (characters); longer ones are rejected by the server, echoed cut short.
const MAX_COMMAND_TEXT: usize = 1024;
/// A flood of commands is over once none was dropped for this long (the
/// bucket has filled up again).
const QUIET_AFTER_FLOOD: Duration = Duration::from_secs(2);

/// A connected client.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Counts connections from 1 within this run.
    pub number: u64,
    /// Who it is (a local client's pid is in it), as its requests are recorded.
    pub client: ClientId,
    pub read_only: bool,
}

/// The run's side of the server.
pub trait Handler: Send + Sync + 'static {
    /// The run as it is now (sent to every peer after the hello).
    fn status(&self) -> RunStatus;
    /// A request from a client that may send them.
    fn request(&self, peer: &Peer, request: Request);
    /// Something for the run's event log and its clients (a client came,
    /// went, was refused).
    fn note(&self, event: RunEvent);
}

/// A bound socket, removed when dropped.
pub struct Listener {
    pub path: PathBuf,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds `path` (mode 0600) and serves it on a thread for the life of the
/// process.
pub fn serve(path: &Path, fanout: Arc<Fanout>, handler: Arc<dyn Handler>) -> io::Result<Listener> {
    // The name carries our pid: a file left there belongs to a dead process
    // that had the same pid.
    let _ = std::fs::remove_file(path);
    let listener =
        UnixListener::bind(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let me = rustix::process::geteuid().as_raw();
    let limiter = Arc::new(Limiter::default());
    let slots = Slots::default();
    std::thread::Builder::new().name("listener".into()).spawn(move || {
        let mut number = 0u64;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let Some(slot) = slots.take() else {
                turn_away(stream, handler.as_ref(), &limiter);
                continue;
            };
            number += 1;
            let (fanout, handler, limiter) = (Arc::clone(&fanout), Arc::clone(&handler), Arc::clone(&limiter));
            let _ = std::thread::Builder::new().name(format!("client-{number}")).spawn(move || {
                let _slot: Slot = slot;
                let connection =
                    Connection { number, me, fanout: &fanout, handler: handler.as_ref(), limiter: &limiter };
                connection.run(stream)
            });
        }
    })?;
    Ok(Listener { path: path.to_path_buf() })
}

/// A connection beyond the cap: one short error line (the socket's buffer is
/// empty, so the write cannot wait) and closed, on the listener's thread.
fn turn_away(stream: UnixStream, handler: &dyn Handler, limiter: &Limiter) {
    let why = format!("the run serves at most {MAX_CONNECTIONS} connections at once; try again later");
    let _ = stream.set_nonblocking(true);
    let _ = send(&stream, &ConnectionMessage::Error { message: why.clone() });
    if let Some(skipped) = limiter.admit() {
        handler.note(RunEvent::Refused { peer: "a new connection".into(), reason: with_skipped(&why, skipped) });
    }
}

fn with_skipped(why: &str, skipped: u64) -> String {
    match skipped {
        0 => why.to_string(),
        n => format!("{why} ({n} more refused since the last note)"),
    }
}

/// Records refusals of garbage at most once a second (a flood of bad lines
/// must not flood the event log); refusals of another uid always.
#[derive(Default)]
struct Limiter {
    last: Mutex<Option<Instant>>,
    suppressed: std::sync::atomic::AtomicU64,
}

impl Limiter {
    /// `Some(n)` when this one should be recorded, `n` the ones skipped since.
    fn admit(&self) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            self.suppressed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return None;
        }
        *last = Some(Instant::now());
        Some(self.suppressed.swap(0, std::sync::atomic::Ordering::Relaxed))
    }
}

struct Connection<'a> {
    number: u64,
    me: u32,
    fanout: &'a Fanout,
    handler: &'a dyn Handler,
    limiter: &'a Limiter,
}

impl Connection<'_> {
    fn run(&self, stream: UnixStream) {
        let (pid, uid) = match rustix::net::sockopt::socket_peercred(&stream) {
            Ok(c) => (c.pid.as_raw_nonzero().get() as u32, c.uid.as_raw()),
            Err(_) => (0, u32::MAX),
        };
        if uid != self.me {
            let reason = format!("uid {uid} is not the owner of this run (uid {})", self.me);
            self.handler.note(RunEvent::Refused { peer: format!("pid {pid}, uid {uid}"), reason: reason.clone() });
            let _ = send(&stream, &ConnectionMessage::Error { message: format!("refused: {reason}") });
            return;
        }
        let status =
            ConnectionMessage::Status(RunStatus { clients: self.fanout.client_count(), ..self.handler.status() });
        if send(&stream, &ConnectionMessage::Hello(Hello::ours())).and_then(|_| send(&stream, &status)).is_err() {
            return;
        }
        let Ok(read_half) = stream.try_clone() else { return };
        let mut reader = LineReader::new(Deadline::new(read_half, HELLO_DEADLINE));
        let hello: ClientHello = match reader.read() {
            Some(Ok(h)) => h,
            Some(Err(FrameError::Io(e))) if timed_out(&e) => {
                let why = format!("no client hello within {} s of connecting", HELLO_DEADLINE.as_secs());
                return self.refuse(&stream, pid, &why);
            }
            // Gone before a hello, e.g. `traintop ls` after the status.
            None | Some(Err(FrameError::Io(_))) => return,
            Some(Err(e)) => return self.refuse(&stream, pid, &format!("expected a client hello: {e}")),
        };
        if let Err(e) = hello.hello.check() {
            return self.refuse(&stream, pid, &e.to_string());
        }
        if hello.want == Want::Status {
            return;
        }
        reader.get_mut().lift();
        let (client, says) = identify(pid, &hello.client);
        let peer = Peer { number: self.number, client, read_only: hello.read_only };
        self.watch(stream, reader, peer, says);
    }

    /// A watching client: its writer thread, and its requests read here.
    fn watch(&self, stream: UnixStream, mut reader: LineReader<Deadline>, peer: Peer, says: Option<String>) {
        let (Ok(kick_half), Ok(write_half)) = (stream.try_clone(), stream.try_clone()) else { return };
        let subscription = self.fanout.subscribe(Box::new(move || {
            let _ = kick_half.shutdown(std::net::Shutdown::Both);
        }));
        let id = subscription.id;
        self.handler.note(RunEvent::Attached { client: peer.client.clone(), read_only: peer.read_only, says });
        let writer = Arc::new(Mutex::new(BufWriter::new(write_half)));
        let out = Arc::clone(&writer);
        let writer_thread = std::thread::Builder::new()
            .name(format!("client-{}-out", peer.number))
            .spawn(move || write_stream(&out, subscription.history, &subscription.live));
        let mut limit = Limit::default();
        let why = loop {
            match reader.read::<Request>() {
                None | Some(Err(FrameError::Io(_))) => break None,
                Some(Err(e)) => break Some(echo(&e.to_string(), MESSAGE_CHARS)),
                Some(Ok(_)) if peer.read_only => break Some("this client attached read-only".into()),
                Some(Ok(request)) => self.take(&peer, request, &mut limit),
            }
        };
        self.fanout.unsubscribe(id);
        self.flood_over(&peer, &mut limit);
        match &why {
            Some(why) => {
                let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
                let line = encode(&RecordRef::now(&ConnectionMessage::Error { message: why.clone() }));
                let _ = w.write_all(&line).and_then(|_| w.flush());
                self.handler.note(RunEvent::Detached { client: Some(peer.client.clone()), reason: why.clone() });
            }
            None => self.handler.note(RunEvent::Detached { client: Some(peer.client), reason: "left".into() }),
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
        if let Ok(t) = writer_thread {
            let _ = t.join();
        }
    }

    /// A request that passed the frame: to the trainer, unless its client
    /// is over its rate (one rejection per flood) or its text is too long.
    fn take(&self, peer: &Peer, request: Request, limit: &mut Limit) {
        if !limit.bucket.take() {
            if limit.dropped == 0 {
                let why = format!(
                    "rate limited: more than {COMMANDS_PER_SEC} commands a second; \
                     the ones that do not fit are dropped until the client slows down"
                );
                self.reject(peer, &request, why);
            }
            limit.dropped += 1;
            limit.last_drop = Instant::now();
            return;
        }
        if limit.last_drop.elapsed() >= QUIET_AFTER_FLOOD {
            self.flood_over(peer, limit);
        }
        let longest = request.command.longest_text();
        if longest > MAX_COMMAND_TEXT {
            let why = format!("a text of {longest} characters: at most {MAX_COMMAND_TEXT}");
            return self.reject(peer, &request, why);
        }
        self.handler.request(peer, request);
    }

    /// Says how many commands a flood cost, once it is over (the client
    /// slowed down or left).
    fn flood_over(&self, peer: &Peer, limit: &mut Limit) {
        let n = std::mem::take(&mut limit.dropped);
        if n > 0 {
            self.handler.note(RunEvent::log(format!("{n} commands from {} dropped (rate limited)", peer.client)));
        }
    }

    /// A request refused here, echoed cut short and with the sender the
    /// server knows.
    fn reject(&self, peer: &Peer, request: &Request, reason: String) {
        let request = Request::new(peer.client.clone(), request.command.shortened(ECHO_CHARS));
        self.handler.note(RunEvent::Rejected { step: self.handler.status().step, request, reason });
    }

    fn refuse(&self, stream: &UnixStream, pid: u32, why: &str) {
        let why = echo(why, MESSAGE_CHARS);
        let _ = send(stream, &ConnectionMessage::Error { message: why.clone() });
        if let Some(skipped) = self.limiter.admit() {
            let reason = with_skipped(&why, skipped);
            self.handler.note(RunEvent::Refused { peer: format!("pid {pid}"), reason });
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}

/// A client's command allowance, and the commands of its current flood
/// that were dropped.
struct Limit {
    bucket: Bucket,
    dropped: u64,
    last_drop: Instant,
}

impl Default for Limit {
    fn default() -> Self {
        Self { bucket: Bucket::default(), dropped: 0, last_drop: Instant::now() }
    }
}

/// Writes the history, then live lines as they come, flushing whenever the
/// queue is empty; ends when the client is cut off or gone.
fn write_stream(out: &Mutex<BufWriter<UnixStream>>, history: Vec<Line>, live: &Receiver<Line>) -> io::Result<()> {
    {
        let mut w = out.lock().unwrap_or_else(|e| e.into_inner());
        for line in history {
            w.write_all(line.as_bytes())?;
        }
        w.flush()?;
    }
    while let Ok(first) = live.recv() {
        let mut w = out.lock().unwrap_or_else(|e| e.into_inner());
        w.write_all(first.as_bytes())?;
        while let Ok(line) = live.try_recv() {
            w.write_all(line.as_bytes())?;
        }
        w.flush()?;
    }
    Ok(())
}

/// One connection message as a record line, in one write.
fn send(mut stream: &UnixStream, message: &ConnectionMessage) -> io::Result<()> {
    stream.write_all(&encode(&RecordRef::now(message)))
}
