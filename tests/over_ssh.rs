//! `attach --ssh` and `ls --ssh` through a real OpenSSH server on
//! 127.0.0.1 (a throwaway host key and user key; see common/sshd.rs), with
//! the protocol over ssh's pipe and nothing listening but sshd itself; and
//! the errors a user meets (no traintop there, no such run, another protocol
//! version) as sentences. Skipped (with a notice) where openssh-server or
//! tmux is missing; `.ci/run` installs both.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::cli::{repo, summary};
use common::procs;
use common::screen::header_step;
use common::served::{self, poll, records, Place};
use common::sshd::{Sshd, HOST};
use common::tmux::{shell_quote, Tmux};

const TIMEOUT: Duration = Duration::from_secs(30);

fn q(p: &Path) -> String {
    shell_quote(p.to_str().unwrap())
}

/// A remote `traintop` for this place: the test binary with the place's
/// socket folder (sshd gives sessions a clean environment).
fn remote_traintop(place: &Place) -> PathBuf {
    let path = place.tmp.path().join("remote-traintop");
    let script = format!(
        "#!/bin/sh\nexport TRAINTOP_SOCKET_DIR={}\nexec {} \"$@\"\n",
        q(&place.sock_dir()),
        q(Path::new(env!("CARGO_BIN_EXE_traintop")))
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// An executable shell script `name` with `body`, standing in for a remote
/// traintop.
fn script(place: &Place, name: &str, body: &str) -> PathBuf {
    let path = place.tmp.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The ssh client on PATH.
fn which_ssh() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join("ssh")).find(|p| p.is_file()).expect("ssh on PATH")
}

/// The shell line of a test terminal that attaches to `run` over the test's
/// sshd (`remote` the far side's traintop, no local runs), then `after`.
fn attach_line(sshd: &Sshd, remote: &Path, run: &Path, after: &str) -> String {
    format!(
        "cd {repo} && env -u TRAINTOP_PLUGIN_PATH NO_COLOR=1 TRAINTOP_SOCKET_DIR=/nonexistent-traintop-sockets \
         TRAINTOP_SSH={ssh} TRAINTOP_REMOTE={remote} {bin} attach --ssh {HOST} {run} {after}",
        repo = q(&repo()),
        ssh = shell_quote(&sshd.ssh_command()),
        remote = q(remote),
        bin = q(Path::new(env!("CARGO_BIN_EXE_traintop"))),
        run = q(run),
    )
}

/// Local traintop reaching the test's sshd, with `remote` as the far side.
fn local(sshd: &Sshd, remote: &Path) -> Command {
    let mut c = common::cli::bin();
    // The local side has no runs of its own.
    c.env("TRAINTOP_SOCKET_DIR", "/nonexistent-traintop-sockets")
        .env("TRAINTOP_SSH", sshd.ssh_command())
        .env("TRAINTOP_REMOTE", remote)
        .current_dir(repo());
    c
}

#[test]
fn attach_and_ls_over_a_real_ssh_connection() {
    let Some(sshd) = Sshd::start() else {
        eprintln!("skipping: openssh-server is not installed");
        return;
    };
    if !served::terminals_ready() {
        return;
    }
    let place = Place::new();
    let run = place.detach(&["--set", "run.epochs=100000"]);
    let remote = remote_traintop(&place);

    // ls --ssh: the remote run, live.
    let o = local(&sshd, &remote).args(["ls", "--ssh", HOST]).output().unwrap();
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "ls --ssh: {table}{}", String::from_utf8_lossy(&o.stderr));
    let folder = run.file_name().unwrap().to_str().unwrap();
    assert!(table.contains(folder) && table.contains("running") && table.contains(HOST), "{table}");
    let o = local(&sshd, &remote).args(["ls", "--json", "--ssh", HOST]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json[HOST][0]["state"], "running", "{json}");

    // A remote whose login prints first (a .bashrc echo), reached through an
    // ssh whose path has a space in it (TRAINTOP_SSH split as a shell would).
    let chatty =
        script(&place, "chatty-traintop", &format!("echo 'Welcome to {HOST}'\necho\nexec {} \"$@\"", q(&remote)));
    let spaced = place.tmp.path().join("my ssh");
    std::os::unix::fs::symlink(which_ssh(), &spaced).unwrap();
    let quoted_ssh = format!("{} -F {}", q(&spaced), q(&sshd.dir().join("ssh_config")));
    let o = local(&sshd, &chatty).env("TRAINTOP_SSH", &quoted_ssh).args(["ls", "--ssh", HOST]).output().unwrap();
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && table.contains(folder),
        "ls past a banner: {table}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A banner and no traintop after it: the error quotes the banner.
    let mute = script(&place, "mute-traintop", "echo 'Welcome to the cluster'\necho 'quota: 91% used'");
    let o = local(&sshd, &mute).args(["attach", "--ssh", HOST]).stdin(std::process::Stdio::null()).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("\"Welcome to the cluster\", \"quota: 91% used\""), "{e}");
    assert!(!e.contains("expected value"), "{e}");

    // attach --ssh in a terminal: the live run, steerable, named by ssh.
    let err = format!("2>>{}; sleep 60", q(&place.tmp.path().join("stderr.txt")));
    let command = attach_line(&sshd, &remote, &run, &err);
    let term = Tmux::start(120, 40, &command);
    term.wait_until("the live step over ssh", TIMEOUT, |s| header_step(s).is_some_and(|n| n > 0));
    term.send_keys(&["t"]);
    let accepted = poll("the toggle in events.jsonl", || {
        records(&run, "events.jsonl").into_iter().find(|e| e["event"] == "accepted" && e["command"] == "toggle")
    });
    assert_eq!(accepted["from"]["kind"], "ssh", "{accepted}");
    assert_eq!(accepted["from"]["host"], "127.0.0.1", "{accepted}");

    // The link cut (the far side's relay gone, as when the run cuts off a
    // stalled client): the dashboard opens it again and goes on live.
    let relays = || procs::traintops("--stdio");
    let relay = poll("the remote relay", || relays().first().copied());
    procs::signal(relay, "KILL");
    // A new relay is the dashboard's new ssh connection (its "reconnected"
    // log line may already have scrolled out of the events panel).
    let new_relay = poll("a new relay", || relays().into_iter().find(|&p| p != relay));
    let step = header_step(&term.capture()).unwrap();
    term.wait_until("steps after reconnecting", TIMEOUT, |s| header_step(s).is_some_and(|n| n > step));

    term.send_keys(&["d"]);
    term.wait_until("the detach message", TIMEOUT, |s| s.contains("detached; the run goes on"));
    poll("the relay to end with the dashboard", || (!procs::alive(new_relay)).then_some(()));
    let server = served::record(&run)["pid"].as_u64().unwrap() as u32;
    assert!(procs::alive(server), "the run goes on");
    drop(term);

    // Errors as sentences.
    let o = local(&sshd, Path::new("/nonexistent/traintop")).args(["attach", "--ssh", HOST]).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("was not found there"), "{e}");
    let o = local(&sshd, &remote).args(["attach", "--ssh", HOST, "no-such-run"]).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("no run named") && e.contains("no-such-run"), "{e}");
    let future = place.tmp.path().join("future-traintop");
    std::fs::write(
        &future,
        "#!/bin/sh\necho '{\"time\":0,\"event\":\"hello\",\"protocol\":{\"major\":99,\"minor\":0},\"program\":\"traintop 99.0.0\"}'\ncat >/dev/null\n",
    )
    .unwrap();
    std::fs::set_permissions(&future, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = local(&sshd, &future).args(["attach", "--ssh", HOST]).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("99.0") && e.contains("traintop 99.0.0"), "{e}");
    let o = local(&sshd, &remote)
        .args(["ls", "--ssh", "127.0.0.1", "--ssh", HOST])
        .env("TRAINTOP_SSH", "ssh -o BatchMode=yes -o ConnectTimeout=3 -p 1")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("ssh could not connect"), "{e}");

    procs::signal(server, "TERM");
    poll("the run to stop", || (!procs::alive(server)).then_some(()));
    assert_eq!(summary(&run)["stop_reason"], "user");
}

/// The host unreachable mid-run (sshd down, the session gone): the header
/// says the connection is lost and counts while it reconnects, never that
/// the run stopped; with the host back, the same screen goes on live.
#[test]
fn a_lost_ssh_link_says_reconnecting_and_comes_back_live() {
    let Some(mut sshd) = Sshd::start() else {
        eprintln!("skipping: openssh-server is not installed");
        return;
    };
    if !served::terminals_ready() {
        return;
    }
    let place = Place::new();
    let run = place.detach(&["--set", "run.epochs=100000"]);
    let remote = remote_traintop(&place);
    let command = attach_line(&sshd, &remote, &run, "; sleep 60");
    let term = Tmux::start(80, 24, &command);
    term.wait_until("the live step over ssh", TIMEOUT, |s| header_step(s).is_some_and(|n| n > 0));

    sshd.stop();
    let relay = poll("the remote relay", || procs::traintops("--stdio").first().copied());
    procs::signal(relay, "KILL");
    term.wait_until("the lost link in the header", TIMEOUT, |s| s.contains("[connection lost, reconnecting"));
    // Several failed tries later, still reconnecting, never "stopped".
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(6) {
        let s = term.capture();
        assert!(!s.contains("stopped without finishing") && !s.contains("[finished"), "{s}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let counted = |s: &str| {
        let at = s.find("reconnecting ")? + "reconnecting ".len();
        s[at..].split('s').next()?.parse::<u64>().ok()
    };
    let s = term.capture();
    assert!(counted(&s).is_some_and(|n| n >= 5), "the header counts the seconds:\n{s}");
    assert!(s.contains("connection lost: reconnecting"), "the events panel says so:\n{s}");

    sshd.restart();
    let s = term.wait_until("the run live again", TIMEOUT, |s| s.contains("[running]"));
    let step = header_step(&s).unwrap();
    term.wait_until("steps after reconnecting", TIMEOUT, |s| header_step(s).is_some_and(|n| n > step));
    let server = served::record(&run)["pid"].as_u64().unwrap() as u32;
    assert!(procs::alive(server), "the run went on all along");
    term.send_keys(&["d"]);
    term.wait_until("the detach message", TIMEOUT, |s| s.contains("detached; the run goes on"));
    procs::signal(server, "TERM");
    poll("the run to stop", || (!procs::alive(server)).then_some(()));
}
