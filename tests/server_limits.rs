//! What one peer may cost a run, and who the run says a peer is. Black-box:
//! a real headless run, its real socket, raw JSON lines:
//! connections beyond the cap get one error line (no hello, no thread); a
//! hello trickled byte by byte is cut at an absolute deadline; a 1 MiB
//! request is rejected with a short echo; a flood of 40k toggles is rate
//! limited while training goes on; and a client is recorded as the socket
//! says (pid, terminal, ssh address), not as its hello declares.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::served::{poll, records, script, server_pid, socket, wait_exit, Conn, Place, TIMEOUT};
use serde_json::{json, Value};

/// A run long enough to be stopped by the test.
const LONG: &[&str] = &["--set", "run.epochs=100000"];
/// The server's connection cap (README, "Over SSH").
const MAX_CONNECTIONS: usize = 64;
/// Longer than any record about a peer's line may be (the techniques
/// record, the longest the run writes itself, is a few kB).
const SHORT_RECORD: usize = 16 << 10;

fn metrics_lines(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl")).map(|t| t.lines().count()).unwrap_or(0)
}

/// Waits until training has taken `n` more metrics lines than `from`.
#[track_caller]
fn wait_steps(run: &Path, from: usize, n: usize) {
    poll("training to go on", || (metrics_lines(run) >= from + n).then_some(()));
}

fn stop(run: &Path, child: &mut std::process::Child) {
    let mut conn = Conn::connect(&socket(run));
    conn.handshake(script("tests"), false);
    conn.send(&json!({ "from": script("tests"), "command": "stop" }));
    assert_eq!(wait_exit(child), 0);
}

fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn hello_line(client: Value) -> String {
    json!({ "protocol": { "major": 1, "minor": 0 }, "program": "tests", "client": client, "read_only": true })
        .to_string()
}

/// Reads (and drops) what the watching connections are sent, so none falls
/// behind and is cut off while the test holds it.
fn drain(conns: Vec<UnixStream>, done: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while !done.load(Ordering::SeqCst) {
            for mut c in &conns {
                let _ = c.read(&mut buf);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    })
}

#[test]
fn connections_beyond_the_cap_get_one_error_line_and_no_thread() {
    let place = Place::new();
    let mut child = place.start_headless("digits.toml", LONG);
    let run = place.wait_run();
    let sock = socket(&run);
    wait_steps(&run, 0, 1);
    // Watching clients up to the cap: each said hello, so no deadline frees
    // its place while the test holds it.
    let mut watching = Vec::new();
    let refused = loop {
        assert!(watching.len() <= MAX_CONNECTIONS, "no connection refused after {} watching clients", watching.len());
        let mut conn = Conn::connect(&sock);
        let first = conn.next().expect("a first line");
        if first["event"] == "error" {
            assert!(conn.next().is_none(), "closed after the error line");
            break first;
        }
        assert_eq!(first["event"], "hello", "{first}");
        conn.send_line(&hello_line(script("watcher")));
        conn.writer.set_nonblocking(true).unwrap();
        watching.push(conn.writer);
    };
    assert!(watching.len() >= MAX_CONNECTIONS - 4, "only {} served", watching.len());
    assert!(refused["message"].as_str().unwrap().contains("at most 64 connections"), "{refused}");
    let done = Arc::new(AtomicBool::new(false));
    let drainer = drain(watching, Arc::clone(&done));
    // A storm beyond the cap: each one answered by one short line, no thread.
    let pid = server_pid(&run);
    let before = threads(pid);
    let storm: Vec<UnixStream> = (0..300).map(|_| UnixStream::connect(&sock).unwrap()).collect();
    for mut s in storm.iter() {
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut line = String::new();
        s.read_to_string(&mut line).unwrap();
        assert!(line.len() < 512 && line.contains("\"error\""), "{line}");
    }
    // 300 refused connections: a thread each would show as ~300 more;
    // the run's own threads (compute pools, writers) may come and go by a few.
    assert!(threads(pid) <= before + 16, "threads grew from {before} to {}", threads(pid));
    let from = metrics_lines(&run);
    wait_steps(&run, from, 2);
    done.store(true, Ordering::SeqCst);
    drainer.join().unwrap();
    drop(storm);
    // The places come back when the clients leave.
    poll("a place for a new client", || {
        let mut conn = Conn::connect(&sock);
        (conn.next()?["event"] == "hello").then_some(())
    });
    stop(&run, &mut child);
}

#[test]
fn a_hello_trickled_byte_by_byte_is_cut_at_the_deadline() {
    let place = Place::new();
    let mut child = place.start_headless("digits.toml", LONG);
    let run = place.wait_run();
    let mut conn = Conn::connect(&socket(&run));
    conn.next().expect("a hello");
    conn.next().expect("a status");
    conn.reader.get_ref().set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    // A byte every 200 ms never finishes a line; a timeout that restarts on
    // every byte would keep this connection for ever.
    let started = Instant::now();
    let hello = hello_line(script("slow"));
    let mut answer = String::new();
    for b in hello.bytes().cycle() {
        assert!(started.elapsed() < Duration::from_secs(60), "still open after a minute of trickling");
        // A write fails once the server has closed: its answer is waiting.
        let _ = conn.writer.write_all(&[b]);
        match conn.reader.read_to_string(&mut answer) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(answer.contains("no client hello within 5 s"), "{answer:?}");
    stop(&run, &mut child);
}

#[test]
fn a_huge_request_is_rejected_with_a_short_echo() {
    let place = Place::new();
    let mut child = place.start_headless("digits.toml", LONG);
    let run = place.wait_run();
    let sock = socket(&run);
    let mut watcher = Conn::connect(&sock);
    watcher.handshake(script("watcher"), true);
    watcher.wait_for("a live step", |e| e["event"] == "step");
    // A toggle naming a technique of almost 1 MiB: a well-formed request.
    let mut conn = Conn::connect(&sock);
    conn.handshake(script("tests"), false);
    let name = "\u{1b}".repeat((1 << 20) / 8);
    conn.send(&json!({ "from": script("tests"), "command": "toggle", "technique": name, "enabled": true }));
    let rejected = watcher.wait_for("the rejection", |e| e["event"] == "rejected");
    assert!(rejected.to_string().len() < 1024, "a long echo: {} bytes", rejected.to_string().len());
    // A request the parser quotes in its error: the line's start, no more.
    let junk = "y".repeat((1 << 20) - 200);
    conn.send(&json!({ "from": script("tests"), "command": "toggle", "technique": "dropout", "enabled": junk }));
    let error = conn.wait_for("the error", |e| e["event"] == "error");
    assert!(error.to_string().len() < 1024, "a long error: {} bytes", error.to_string().len());
    assert!(conn.next().is_none(), "closed after the error");
    watcher.wait_for("the detach", |e| e["event"] == "detached");
    watcher.wait_for("steps after it", |e| e["event"] == "step");
    let events = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    let longest = events.lines().map(str::len).max().unwrap();
    assert!(longest < SHORT_RECORD, "events.jsonl has a line of {longest} bytes");
    stop(&run, &mut child);
}

#[test]
fn a_flood_of_toggles_is_rate_limited_and_training_goes_on() {
    let place = Place::new();
    let mut child = place.start_headless("digits.toml", LONG);
    let run = place.wait_run();
    let sock = socket(&run);
    wait_steps(&run, 0, 1);
    let events_before = std::fs::metadata(run.join("events.jsonl")).unwrap().len();
    let mut conn = Conn::connect(&sock);
    conn.handshake(script("flood"), false);
    let mut flood = String::new();
    for i in 0..40_000 {
        let line =
            json!({ "from": script("flood"), "command": "toggle", "technique": "dropout", "enabled": i % 2 == 0 });
        flood.push_str(&format!("{line}\n"));
    }
    conn.writer.write_all(flood.as_bytes()).unwrap();
    let sent = metrics_lines(&run);
    wait_steps(&run, sent, 20);
    // The rate limiter's note goes into the log with the rest.
    let limited = poll("the rate limit's rejection", || {
        let n = records(&run, "events.jsonl")
            .iter()
            .filter(|e| e["event"] == "rejected" && e["reason"].as_str().is_some_and(|r| r.contains("rate limited")))
            .count();
        (n > 0).then_some(n)
    });
    assert!(limited <= 3, "one rejection per flood, not one per command: {limited}");
    let accepted = records(&run, "events.jsonl").iter().filter(|e| e["event"] == "accepted").count();
    assert!(accepted < 1000, "{accepted} of 40000 toggles went through");
    drop(conn);
    stop(&run, &mut child);
    let grown = std::fs::metadata(run.join("events.jsonl")).unwrap().len() - events_before;
    assert!(grown < 4 << 20, "events.jsonl grew by {grown} bytes");
}

#[test]
fn a_client_is_recorded_as_the_socket_says_not_as_it_declares() {
    let place = Place::new();
    let mut child = place.start_headless("digits.toml", LONG);
    let run = place.wait_run();
    let sock = socket(&run);
    let me = std::process::id();
    let my_tty = std::fs::read_link("/proc/self/fd/0")
        .ok()
        .map(|p| p.display().to_string())
        .filter(|p| p.starts_with("/dev/pts/") || p.starts_with("/dev/tty"));
    for declared in
        [json!({ "kind": "ssh", "host": "10.0.0.7" }), json!({ "kind": "local", "pid": 1, "tty": "/dev/pts/99" })]
    {
        let mut conn = Conn::connect(&sock);
        conn.handshake(declared.clone(), false);
        conn.send(&json!({ "from": declared, "command": "checkpoint" }));
        let accepted = conn.wait_for("the checkpoint's acceptance", |e| e["event"] == "accepted");
        assert_eq!(accepted["from"]["kind"], "local", "{accepted}");
        assert_eq!(accepted["from"]["pid"], me, "{accepted}");
        assert_eq!(accepted["from"]["tty"].as_str(), my_tty.as_deref(), "{accepted}");
    }
    let attached: Vec<Value> = records(&run, "events.jsonl").into_iter().filter(|e| e["event"] == "attached").collect();
    assert_eq!(attached[0]["client"]["pid"], me, "{attached:?}");
    assert_eq!(attached[0]["says"], "ssh from 10.0.0.7", "kept as a label only: {attached:?}");
    assert!(attached[1].get("says").is_none(), "{attached:?}");
    // The ssh relay (`attach --stdio`, run by sshd) is known by the address
    // in its environment.
    let mut relay = place
        .bin()
        .args(["attach", "--stdio", run.to_str().unwrap()])
        .env("SSH_CONNECTION", "10.9.8.7 51000 10.0.0.1 22")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = relay.stdin.take().unwrap();
    writeln!(stdin, "{}", hello_line(json!({ "kind": "local", "pid": 1 }))).unwrap();
    let attached = poll("the relay's attach", || {
        records(&run, "events.jsonl").into_iter().filter(|e| e["event"] == "attached").nth(2)
    });
    assert_eq!(attached["client"], json!({ "kind": "ssh", "host": "10.9.8.7" }), "{attached}");
    drop(stdin);
    let _ = relay.wait();
    stop(&run, &mut child);
}
