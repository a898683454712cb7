//! Driving a program in a real terminal: a detached tmux session on a private
//! server (`tmux -L NAME`), so tests neither see nor touch the user's own
//! sessions. The server is killed when the [`Tmux`] guard drops, on panics
//! too, and a failing test prints the last screen it saw.
#![allow(dead_code)]

use std::cell::RefCell;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often [`Tmux::wait_until`] looks at the screen.
pub const POLL: Duration = Duration::from_millis(100);

/// Whether a `tmux` binary can be run.
pub fn available() -> bool {
    Command::new("tmux").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// True, after saying so, where tmux is not installed: the test skips.
pub fn missing() -> bool {
    let missing = !available();
    if missing {
        eprintln!("skipping: tmux is not installed");
    }
    missing
}

/// `s` as one word for `sh`.
/// The shell line a test terminal runs: this build's traintop with `args`
/// (already quoted where needed) from the repository, so that `configs/`
/// resolve, without colors and with its plugins found beside the binary;
/// then `after` (an exit-code file, or a sleep that keeps the pane open).
pub fn traintop_line(args: &str, after: &str) -> String {
    let repo = super::cli::repo();
    format!(
        "cd {} && env -u TRAINTOP_PLUGIN_PATH NO_COLOR=1 {} {args}; {after}",
        shell_quote(repo.to_str().unwrap()),
        shell_quote(env!("CARGO_BIN_EXE_traintop")),
    )
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A detached tmux session running one command, on its own server.
pub struct Tmux {
    socket: String,
    session: String,
    /// The server's socket file, removed at the end (tmux leaves it).
    socket_path: RefCell<Option<std::path::PathBuf>>,
    /// The pane's first process, which leads the pane's process group.
    pane_pid: RefCell<Option<u32>>,
    /// The latest screen captured, printed if the test fails.
    last: RefCell<String>,
}

impl Tmux {
    /// Starts `command` (a `sh` command line) in a `width`x`height` pane
    /// without a status line. The pane stays after the command exits
    /// (`remain-on-exit`), so its last output can still be captured.
    pub fn start(width: u16, height: u16, command: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let unique =
            format!("{}-{}-{}", std::process::id(), nanos % 1_000_000_000, COUNTER.fetch_add(1, Ordering::SeqCst));
        let tmux = Self {
            socket: format!("traintop-test-{unique}"),
            session: "t".into(),
            socket_path: RefCell::default(),
            pane_pid: RefCell::default(),
            last: RefCell::default(),
        };
        let (w, h) = (width.to_string(), height.to_string());
        // One client call, so the options hold before the command can exit.
        let out = tmux.run(&[
            "start-server",
            ";",
            "set-option",
            "-g",
            "status",
            "off",
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "set-option",
            "-g",
            "default-shell",
            "/bin/sh",
            ";",
            "new-session",
            "-d",
            "-s",
            &tmux.session,
            "-x",
            &w,
            "-y",
            &h,
            command,
        ]);
        assert!(out.status.success(), "tmux could not start a session: {}", String::from_utf8_lossy(&out.stderr));
        let target = tmux.target();
        let info = tmux.run(&["display-message", "-p", "-t", &target, "#{socket_path}\n#{pane_pid}"]);
        let info = String::from_utf8_lossy(&info.stdout).into_owned();
        let mut lines = info.lines();
        tmux.socket_path.replace(lines.next().filter(|p| !p.is_empty()).map(Into::into));
        tmux.pane_pid.replace(lines.next().and_then(|p| p.trim().parse().ok()));
        tmux
    }

    fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        // No user config; no nesting warnings when the tests run inside tmux.
        c.args(["-L", &self.socket, "-f", "/dev/null"]).env_remove("TMUX");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).stdin(Stdio::null()).output().expect("tmux runs")
    }

    fn target(&self) -> String {
        format!("={}:", self.session)
    }

    /// Appends everything the pane's program writes from now on, escape
    /// sequences and all, to `file` (what the terminal receives, before tmux
    /// interprets it).
    pub fn record_output(&self, file: &std::path::Path) {
        let target = self.target();
        let out =
            self.run(&["pipe-pane", "-o", "-t", &target, &format!("cat >> {}", shell_quote(file.to_str().unwrap()))]);
        assert!(out.status.success(), "tmux pipe-pane: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Sends tmux key names (`p`, `Space`, `Enter`, `C-u`, `Escape`), one key
    /// each.
    pub fn send_keys(&self, keys: &[&str]) {
        let target = self.target();
        let mut args = vec!["send-keys", "-t", &target];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "tmux send-keys {keys:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Types `text` as it is (no key-name lookup).
    pub fn type_text(&self, text: &str) {
        let target = self.target();
        let out = self.run(&["send-keys", "-t", &target, "-l", text]);
        assert!(out.status.success(), "tmux send-keys -l {text:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The visible screen as plain text, one line per row.
    pub fn capture(&self) -> String {
        let target = self.target();
        let out = self.run(&["capture-pane", "-p", "-t", &target]);
        assert!(out.status.success(), "tmux capture-pane: {}", String::from_utf8_lossy(&out.stderr));
        let screen = String::from_utf8_lossy(&out.stdout).into_owned();
        self.last.replace(screen.clone());
        screen
    }

    /// The pane's title, which a program sets with OSC 0 or 2: a hostile
    /// string that reaches the terminal raw changes it.
    pub fn pane_title(&self) -> String {
        let target = self.target();
        let out = self.run(&["display-message", "-p", "-t", &target, "#{pane_title}"]);
        assert!(out.status.success(), "tmux display-message: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// The last screen [`Tmux::capture`] returned.
    pub fn last_capture(&self) -> String {
        self.last.borrow().clone()
    }

    /// Captures the screen every [`POLL`] until `check` returns `Some`, and
    /// returns that; panics with the last screen after `timeout`.
    #[track_caller]
    pub fn wait_for<T>(&self, what: &str, timeout: Duration, mut check: impl FnMut(&str) -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if let Some(v) = check(&screen) {
                return v;
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what} (the last screen is printed below)");
            }
            std::thread::sleep(POLL);
        }
    }

    /// [`Tmux::wait_for`] with a yes/no check; returns the matching screen.
    #[track_caller]
    pub fn wait_until(&self, what: &str, timeout: Duration, mut check: impl FnMut(&str) -> bool) -> String {
        self.wait_for(what, timeout, |s| check(s).then(|| s.to_string()))
    }

    /// Ends the pane's processes (SIGTERM to its process group: closing the
    /// terminal alone does not reach a program started by a non-interactive
    /// shell) and kills the server; harmless when they are gone.
    pub fn kill(&self) {
        if let Some(pid) = self.pane_pid.take() {
            let group = format!("-{pid}");
            let _ = Command::new("kill")
                .args(["-s", "TERM", "--", &group])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.command().arg("kill-server").stdout(Stdio::null()).stderr(Stdio::null()).status();
        if let Some(path) = self.socket_path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Tmux {
    /// The pane's first process (the `sh` running the command).
    pub fn pane_pid(&self) -> Option<u32> {
        *self.pane_pid.borrow()
    }

    /// Kills only the tmux server, as a dropped connection does: the pane's
    /// terminal goes away, no signal is sent by the test itself.
    pub fn kill_server(&self) {
        let _ = self.command().arg("kill-server").stdout(Stdio::null()).stderr(Stdio::null()).status();
        if let Some(path) = self.socket_path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- last screen of tmux session {} ---\n{}\n---", self.socket, self.last.borrow());
        }
        self.kill();
    }
}

/// Polls `check` (not the screen) every [`POLL`] until it returns `Some`;
/// panics with `what` after `timeout`.
#[track_caller]
pub fn poll<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(POLL);
    }
}
