//! A run served on its socket, for tests: the real binary started with a
//! private socket directory, its record read from the run folder, and a
//! line-level client that speaks the protocol as raw JSON (so the tests see
//! what any other client would).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::cli::{config, repo};
use super::procs;

/// The longest wait for anything to show up.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A temp folder holding a test's runs (`out/`) and sockets (`sock/`), with
/// every process whose command line names it killed at the end.
pub struct Place {
    pub tmp: tempfile::TempDir,
    _kill: procs::KillOnDrop,
}

impl Place {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let kill = procs::KillOnDrop(tmp.path().display().to_string());
        Self { tmp, _kill: kill }
    }

    pub fn out(&self) -> PathBuf {
        self.tmp.path().join("out")
    }

    pub fn sock_dir(&self) -> PathBuf {
        self.tmp.path().join("sock")
    }

    /// `traintop` with this place's socket folder.
    pub fn bin(&self) -> Command {
        let mut c = super::cli::bin();
        c.env("TRAINTOP_SOCKET_DIR", self.sock_dir()).current_dir(repo());
        c
    }

    /// `traintop run CONFIG --headless --out OUT ARGS` in the background.
    pub fn start_headless(&self, config_name: &str, args: &[&str]) -> Child {
        let cfg = config(config_name);
        let out = self.out();
        let mut c = self.bin();
        c.args(["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", out.to_str().unwrap()]).args(args);
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        c.spawn().expect("traintop starts")
    }

    /// A shell command line running traintop with this place's socket
    /// folder, for a terminal (stderr to `stderr.txt` in the place).
    pub fn shell(&self, args: &str) -> String {
        let q = |p: &Path| super::tmux::shell_quote(p.to_str().unwrap());
        format!(
            "cd {repo} && env -u TRAINTOP_PLUGIN_PATH NO_COLOR=1 TRAINTOP_SOCKET_DIR={sock} {bin} {args} 2>>{err}",
            repo = q(&repo()),
            sock = q(&self.sock_dir()),
            bin = q(Path::new(env!("CARGO_BIN_EXE_traintop"))),
            err = q(&self.tmp.path().join("stderr.txt")),
        )
    }

    /// `traintop run digits.toml --detach EXTRA`: checks that it returns at
    /// once, printing the folder and how to attach; returns the folder.
    pub fn detach(&self, extra: &[&str]) -> PathBuf {
        let cfg = config("digits.toml");
        let out = self.out();
        let started = Instant::now();
        let o = self
            .bin()
            .args(["run", cfg.to_str().unwrap(), "--detach", "--out", out.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "run --detach: {text}{}", String::from_utf8_lossy(&o.stderr));
        assert!(started.elapsed() < TIMEOUT, "--detach returns at once");
        let run = self.wait_run();
        assert!(text.contains(&run.display().to_string()), "prints the folder: {text}");
        assert!(text.contains("traintop attach"), "and how to attach: {text}");
        run
    }

    /// `traintop ls --json`.
    pub fn ls(&self) -> Value {
        let o = self.bin().args(["ls", "--json"]).output().unwrap();
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("ls --json: {e}: {}", String::from_utf8_lossy(&o.stdout)))
    }

    /// The only run folder, once its server record exists.
    pub fn wait_run(&self) -> PathBuf {
        poll("a run folder with server.json", || {
            let dirs: Vec<PathBuf> = std::fs::read_dir(self.out())
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("server.json").exists())
                .collect();
            (dirs.len() == 1).then(|| dirs[0].clone())
        })
    }
}

/// False (with a notice) where tmux is missing, so that a terminal test
/// skips; otherwise makes sure the plugins are built for the runs it serves.
pub fn terminals_ready() -> bool {
    if !super::tmux::available() {
        eprintln!("skipping: tmux is not installed");
        return false;
    }
    super::plugins::plugin_path("dropout");
    true
}

/// The run folder's server record.
pub fn record(run: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("server.json")).unwrap()).unwrap()
}

/// The run server's pid, from its record.
pub fn server_pid(run: &Path) -> u32 {
    record(run)["pid"].as_u64().unwrap() as u32
}

/// Stops the run server with SIGTERM and waits for it to exit.
pub fn stop_server(run: &Path) {
    let pid = server_pid(run);
    procs::signal(pid, "TERM");
    poll("the run server to exit", || (!procs::alive(pid)).then_some(()));
}

pub fn socket(run: &Path) -> PathBuf {
    PathBuf::from(record(run)["socket"].as_str().unwrap())
}

/// Polls `check` every 50 ms; panics naming `what` after [`TIMEOUT`].
#[track_caller]
pub fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        if start.elapsed() > TIMEOUT {
            let mine: Vec<String> = std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|p| {
                    Some(format!(
                        "{p}: {}",
                        std::fs::read_to_string(format!("/proc/{p}/cmdline")).ok()?.replace('\0', " ")
                    ))
                })
                .filter(|c| c.contains("traintop"))
                .collect();
            panic!("timed out after {TIMEOUT:?} waiting for {what}; traintop processes: {mine:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The records of a run folder's `events.jsonl` or `metrics.jsonl`.
pub fn records(run: &Path, file: &str) -> Vec<Value> {
    std::fs::read_to_string(run.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits for the process to end; its exit code.
pub fn wait_exit(child: &mut Child) -> i32 {
    poll("the run to end", || child.try_wait().ok().flatten()).code().unwrap_or(-1)
}

/// A protocol connection as raw JSON lines.
pub struct Conn {
    pub reader: BufReader<UnixStream>,
    pub writer: UnixStream,
}

impl Conn {
    pub fn connect(socket: &Path) -> Self {
        let stream = UnixStream::connect(socket).unwrap_or_else(|e| panic!("{}: {e}", socket.display()));
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        Self { writer: stream.try_clone().unwrap(), reader: BufReader::new(stream) }
    }

    /// The next line as JSON; `None` at the end of the stream.
    pub fn next(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))),
        }
    }

    pub fn send_line(&mut self, line: &str) {
        let _ = self.writer.write_all(line.as_bytes()).and_then(|_| self.writer.write_all(b"\n"));
    }

    pub fn send(&mut self, value: &Value) {
        self.send_line(&value.to_string());
    }

    /// Reads the server's hello and status, says ours; returns the status.
    pub fn handshake(&mut self, client: Value, read_only: bool) -> Value {
        let hello = self.next().expect("a hello");
        assert_eq!(hello["event"], "hello", "{hello}");
        let status = self.next().expect("a status");
        assert_eq!(status["event"], "status", "{status}");
        self.send(&json!({
            "protocol": hello["protocol"], "program": "traintop tests", "client": client, "read_only": read_only
        }));
        status
    }

    /// Reads until an event `check` accepts; panics naming `what` at the end.
    #[track_caller]
    pub fn wait_for(&mut self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        loop {
            match self.next() {
                Some(v) if check(&v) => return v,
                Some(_) => {}
                None => panic!("the stream ended before {what}"),
            }
        }
    }
}

/// A script client, as requests name it.
pub fn script(name: &str) -> Value {
    json!({ "kind": "script", "name": name })
}
