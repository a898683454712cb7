//! The run server under hostile peers: random and mutated records (valid
//! hellos and requests with bytes flipped, lines cut short, huge lines,
//! invalid UTF-8, other protocol versions) sent to a real run's socket, and
//! connection patterns (open/close storms, half-written hellos, idle
//! clients held). Properties: the server never dies, training keeps
//! stepping, a bad peer gets at most one short error line, a valid client
//! keeps working (a fresh one, and one watching all along), and
//! events.jsonl stays whole JSON lines. One run serves every case.

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{json, Value};

use super::{apply, config, edit, Edit};
use crate::common::procs;
use crate::common::served::{self, poll, script, socket, Conn, Place};

/// The reader's line limit (`protocol::framing::MAX_LINE`).
const MAX_LINE: usize = 1 << 20;
/// The longest error line a bad peer may get.
const SHORT: usize = 1024;

/// Records a peer might start from: the client hello and requests that
/// leave the run training (no pause or stop: a mutation is as likely to
/// keep those as any other).
fn templates() -> Vec<Value> {
    let from = script("fuzz");
    vec![
        json!({ "protocol": { "major": 1, "minor": 3 }, "program": "fuzz", "client": from, "read_only": false }),
        json!({ "from": from, "command": "toggle", "technique": "dropout", "enabled": true }),
        json!({ "from": from, "command": "set_param", "technique": "dropout", "param": "rate", "value": "0.2" }),
        json!({ "from": from, "command": "resume" }),
        json!({ "from": from, "command": "keep", "branch": "a" }),
    ]
}

/// How a line is sent.
#[derive(Clone, Debug)]
enum Line {
    /// A template with edits, newline-terminated or cut (then the write side
    /// is shut).
    Mutated { which: usize, edits: Vec<Edit>, newline: bool },
    /// A template grown to `size` bytes inside a string.
    Huge { which: usize, size: usize },
    /// A hello of another version.
    Version { major: u32, minor: u32 },
}

/// What one case does.
#[derive(Clone, Debug)]
enum Case {
    /// One peer: a valid hello first (or not), then the line.
    Peer { hello_first: bool, line: Line },
    /// Connections opened and closed at once.
    Storm(usize),
    /// Part of a hello, then gone.
    HalfHello(usize),
    /// Idle connections held while a peer sends a mutated line.
    Idle(usize, Line),
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        6 => (0usize..5, prop::collection::vec(edit(), 0..6), any::<bool>())
            .prop_map(|(which, edits, newline)| Line::Mutated { which, edits, newline }),
        1 => (0usize..5, prop::sample::select(vec![MAX_LINE - 64, MAX_LINE + 1, 2 * MAX_LINE]))
            .prop_map(|(which, size)| Line::Huge { which, size }),
        1 => (0u32..4, any::<u32>()).prop_map(|(major, minor)| Line::Version { major, minor }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![
        8 => (any::<bool>(), line()).prop_map(|(hello_first, line)| Case::Peer { hello_first, line }),
        1 => (1usize..40).prop_map(Case::Storm),
        1 => (0usize..120).prop_map(Case::HalfHello),
        1 => (1usize..20, line()).prop_map(|(n, l)| Case::Idle(n, l)),
    ]
}

fn bytes_of(line: &Line) -> (Vec<u8>, bool) {
    let t = templates();
    match line {
        Line::Mutated { which, edits, newline } => {
            let mut b = t[*which].to_string().into_bytes();
            apply(&mut b, edits);
            (b, *newline)
        }
        Line::Huge { which, size } => {
            let text = t[*which].to_string();
            let cut = text.rfind('"').unwrap_or(0);
            let fill = "x".repeat(size.saturating_sub(text.len()));
            (format!("{}{fill}{}", &text[..cut], &text[cut..]).into_bytes(), true)
        }
        Line::Version { major, minor } => {
            let hello =
                json!({ "protocol": { "major": major, "minor": minor }, "program": "fuzz", "client": script("v") });
            (hello.to_string().into_bytes(), true)
        }
    }
}

fn fail(why: String) -> TestCaseError {
    TestCaseError::fail(why)
}

/// A connection and the server's greeting (hello, then status); `None`
/// when the run turned it away at its connection cap with one short error
/// line, which the fuzzer's own storms and idle peers may reach before the
/// server has reaped the connections they closed.
fn greeted(sock: &Path) -> Result<Option<(Conn, Value)>, TestCaseError> {
    let mut conn = Conn::connect(sock);
    let first = conn.next().ok_or_else(|| fail("no greeting".into()))?;
    match first["event"].as_str() {
        Some("hello") => {
            let status = conn.next().ok_or_else(|| fail("no status".into()))?;
            if status["event"] != "status" {
                return Err(fail(format!("a hello, then {status}")));
            }
            Ok(Some((conn, first)))
        }
        Some("error")
            if first.to_string().len() <= SHORT && first["message"].as_str().is_some_and(|m| m.contains("at most")) =>
        {
            Ok(None)
        }
        _ => Err(fail(format!("greeted with {first}"))),
    }
}

/// Says the client's hello after the server's `hello`.
fn say_hello(conn: &mut Conn, hello: &Value, client: Value) {
    conn.send(
        &json!({ "protocol": hello["protocol"], "program": "traintop tests", "client": client, "read_only": false }),
    );
}

/// One peer: sends `line` (after a valid hello or not), shuts its write
/// side, and reads what comes back to the end: at most one error, short.
fn peer(sock: &Path, hello_first: bool, line: &Line) -> Result<(), TestCaseError> {
    let Some((mut conn, hello)) = greeted(sock)? else { return Ok(()) };
    if hello_first {
        say_hello(&mut conn, &hello, script("fuzz"));
    }
    let (mut bytes, newline) = bytes_of(line);
    if newline {
        bytes.push(b'\n');
    }
    let _ = conn.writer.write_all(&bytes);
    let _ = conn.writer.shutdown(std::net::Shutdown::Write);
    let mut errors = 0;
    for got in conn.reader.split(b'\n') {
        let Ok(got) = got else { break };
        let v: Value = serde_json::from_slice(&got).map_err(|e| fail(format!("not JSON ({e})")))?;
        if v["event"] == "error" {
            errors += 1;
            if got.len() > SHORT || errors > 1 {
                return Err(fail(format!("error {errors} of {} bytes", got.len())));
            }
        }
    }
    Ok(())
}

fn run_case(sock: &Path, case: &Case) -> Result<(), TestCaseError> {
    match case {
        Case::Peer { hello_first, line } => peer(sock, *hello_first, line),
        Case::Storm(n) => {
            let conns: Vec<_> = (0..*n).filter_map(|_| UnixStream::connect(sock).ok()).collect();
            drop(conns);
            Ok(())
        }
        Case::HalfHello(n) => {
            let mut s = UnixStream::connect(sock).map_err(|e| fail(e.to_string()))?;
            let hello = templates()[0].to_string();
            let _ = s.write_all(&hello.as_bytes()[..(*n).min(hello.len())]);
            Ok(())
        }
        Case::Idle(n, line) => {
            let idle: Vec<_> = (0..*n).filter_map(|_| UnixStream::connect(sock).ok()).collect();
            let result = peer(sock, true, line);
            drop(idle);
            result
        }
    }
}

/// A client watching through every case: each line it gets must be whole
/// JSON within the line limit, and its stream must not end.
fn watch_all_along(sock: &Path) -> Arc<Mutex<Vec<String>>> {
    let problems = Arc::new(Mutex::new(Vec::new()));
    let mut conn = Conn::connect(sock);
    conn.handshake(script("watcher"), true);
    conn.reader.get_ref().set_read_timeout(None).unwrap();
    let found = Arc::clone(&problems);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(conn.reader.into_inner());
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.by_ref().take(MAX_LINE as u64 + 2).read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(n) if n > MAX_LINE || serde_json::from_slice::<Value>(&line).is_err() => {
                    found.lock().unwrap().push(format!("a bad line of {n} bytes"));
                }
                Ok(_) => {}
            }
        }
        found.lock().unwrap().push("the watcher's stream ended".into());
    });
    problems
}

/// A fresh valid client is served and its command answered; training
/// has stepped since `from` metrics lines.
fn still_serving(sock: &Path, run: &Path, from: usize) -> usize {
    // Turned away at the cap only until the closed peers are reaped (a
    // half-written hello at the latest when its deadline passes).
    let (mut conn, hello) = poll("a connection under the cap", || greeted(sock).ok().flatten());
    say_hello(&mut conn, &hello, script("probe"));
    conn.send(&json!({ "from": script("probe"), "command": "resume" }));
    conn.wait_for("the probe's answer", |e| e["event"] == "accepted" && e["command"] == "resume");
    poll("training to step", || {
        let n = std::fs::read_to_string(run.join("metrics.jsonl")).ok()?.lines().count();
        (n > from).then_some(n)
    })
}

fn events_are_whole_lines(run: &Path) {
    let text = std::fs::read(run.join("events.jsonl")).unwrap();
    for (i, line) in text.split(|&b| b == b'\n').enumerate().filter(|(_, l)| !l.is_empty()) {
        assert!(line.len() <= MAX_LINE, "events.jsonl line {}: {} bytes", i + 1, line.len());
        if let Err(e) = serde_json::from_slice::<Value>(line) {
            panic!("events.jsonl line {}: {e}", i + 1);
        }
    }
    assert!(text.ends_with(b"\n"), "events.jsonl ends inside a line");
}

#[test]
fn the_run_server_survives_hostile_peers_and_keeps_training() {
    let place = Place::new();
    let mut child = place.start_headless("digits.toml", &["--set", "run.epochs=1000000"]);
    let run: PathBuf = place.wait_run();
    let sock = socket(&run);
    let steps = Cell::new(still_serving(&sock, &run, 0));
    let watcher = watch_all_along(&sock);
    let pid = child.id();
    let done = Cell::new(0u32);
    let mut runner = TestRunner::new(config());
    let result = runner.run(&case(), |case| {
        run_case(&sock, &case)?;
        if !procs::alive(pid) {
            return Err(fail(format!("the run ended after {case:?}")));
        }
        done.set(done.get() + 1);
        if done.get().is_multiple_of(64) {
            steps.set(still_serving(&sock, &run, steps.get()));
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    still_serving(&sock, &run, steps.get());
    let problems = watcher.lock().unwrap().clone();
    assert!(problems.is_empty(), "the watcher: {problems:?}");
    events_are_whole_lines(&run);
    served::stop_server(&run);
    let _ = child.wait();
}
