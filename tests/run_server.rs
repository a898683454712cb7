//! Every run serves itself on a Unix socket: the socket and its folder are
//! the owner's only, a peer of another uid is refused, requests name their
//! client, garbage is answered and closed without touching the run, and a
//! run outlives a hang-up (`nohup` included). Black-box: the real binary,
//! a real socket, raw JSON lines.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::procs;
use common::served::{self, poll, records, script, socket, wait_exit, Conn, Place};
use serde_json::json;

/// A run long enough to be stopped by the test.
const LONG: &[&str] = &["--set", "run.epochs=100000"];

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn metrics_lines(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl")).map(|t| t.lines().count()).unwrap_or(0)
}

/// Waits until metrics.jsonl has grown past `from`.
fn wait_growth(run: &Path, from: usize) {
    poll("metrics.jsonl to grow", || (metrics_lines(run) > from).then_some(()));
}

#[test]
fn a_run_serves_its_owner_only_and_requests_name_their_client() {
    let place = Place::new();
    let mut child = place.start_headless("digits.toml", LONG);
    let run = place.wait_run();
    let record = served::record(&run);
    assert_eq!(record["pid"], child.id(), "{record}");
    assert!(!record["host"].as_str().unwrap().is_empty());
    let sock = socket(&run);
    assert_eq!(sock.parent().unwrap(), place.sock_dir());
    assert_eq!(mode(&place.sock_dir()), 0o700, "the socket folder is its owner's only");
    assert_eq!(mode(&sock), 0o600, "the socket is its owner's only");
    // Written just after the folder's copy (each synced): waited for.
    let entry = place.sock_dir().join(format!("{}.json", child.id()));
    poll("the registry entry beside the socket", || entry.exists().then_some(()));

    let mut conn = Conn::connect(&sock);
    let status = conn.handshake(script("tests"), false);
    assert_eq!(status["pid"], child.id());
    conn.wait_for("the run's start", |e| e["event"] == "started");
    conn.wait_for("a live step", |e| e["event"] == "step");
    // A command from a newer version is answered, not obeyed.
    conn.send(&json!({ "from": script("tests"), "command": "explode" }));
    let rejected = conn.wait_for("the unknown command's rejection", |e| e["event"] == "rejected");
    let me = json!(std::process::id());
    assert_eq!(rejected["from"]["pid"], me, "the sender as the socket says: {rejected}");
    conn.send(&json!({ "from": script("ignored"), "command": "pause" }));
    let paused = conn.wait_for("the pause to take effect", |e| e["event"] == "state" && e["state"] == "paused");
    let accepted = poll("the accepted pause in events.jsonl", || {
        records(&run, "events.jsonl").into_iter().find(|e| e["event"] == "accepted" && e["command"] == "pause")
    });
    assert_eq!(accepted["from"]["pid"], me, "the client is the one the socket says, not a request's: {accepted}");
    let attached = records(&run, "events.jsonl").into_iter().find(|e| e["event"] == "attached").expect("attached");
    assert_eq!(attached["client"]["pid"], me, "{attached}");
    assert_eq!(attached["says"], "tests", "the hello's name, as a label: {attached}");
    let held = metrics_lines(&run);
    std::thread::sleep(Duration::from_millis(500));
    assert!(metrics_lines(&run) <= held + 1, "paused at step {}", paused["step"]);

    conn.send(&json!({ "from": script("tests"), "command": "stop" }));
    assert_eq!(wait_exit(&mut child), 0);
    assert_eq!(common::cli::summary(&run)["stop_reason"], "user");
    assert!(run.join("checkpoints/last.safetensors").exists());
    assert!(!sock.exists(), "the socket goes with the run");
    assert!(!run.join("server.json").exists(), "and its record");
}

/// Sends `line` as a new connection's first line (or after a valid hello);
/// the server must answer with an `error` event and close.
fn refused(sock: &Path, hello_first: bool, line: &[u8]) -> Result<(), String> {
    let mut conn = Conn::connect(sock);
    conn.next().ok_or("no hello")?;
    conn.next().ok_or("no status")?;
    if hello_first {
        conn.send(&json!({ "protocol": { "major": 1, "minor": 0 }, "program": "t", "client": script("garbage") }));
    }
    let _ = conn.writer.write_all(line).and_then(|_| conn.writer.write_all(b"\n"));
    loop {
        match conn.next() {
            Some(e) if e["event"] == "error" => break,
            Some(_) if hello_first => continue,
            Some(e) => return Err(format!("answered {e} to {:?}", String::from_utf8_lossy(line))),
            None => return Err(format!("closed without an error line after {:?}", String::from_utf8_lossy(line))),
        }
    }
    match conn.next() {
        None => Ok(()),
        Some(e) if !hello_first => Err(format!("still open after the error: {e}")),
        Some(_) => Ok(()),
    }
}

#[test]
fn garbage_on_the_socket_is_refused_and_the_run_goes_on() {
    let place = Place::new();
    let mut child = place.start_headless("digits.toml", LONG);
    let run = place.wait_run();
    let sock = socket(&run);
    wait_growth(&run, 0);
    // Deterministic "random" lines: bytes, broken and wrong JSON, commands
    // that do not exist, a hello from another major version.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let kinds: [&dyn Fn(u64) -> Vec<u8>; 7] = [
        &|r| (0..1 + (r % 200) as usize).map(|i| ((r >> (i % 56)) as u8) | 0x80).collect(),
        &|r| format!("{{\"command\": \"pause\", \"from\": {r}").into_bytes(),
        &|r| format!("[{r}, 2, 3]").into_bytes(),
        &|r| {
            format!(
                "{{\"from\": {{\"kind\": \"script\", \"name\": \"x\"}}, \"command\": \"toggle\", \"technique\": {r}}}"
            )
            .into_bytes()
        },
        &|_| {
            b"{\"protocol\": {\"major\": 99, \"minor\": 0}, \"program\": \"future\", \"client\": {\"kind\": \"dashboard\"}}".to_vec()
        },
        &|r| format!("{{\"command\": \"set_learning_rate\", \"lr\": \"{r}\"}}").into_bytes(),
        &|r| (r as u32).to_string().into_bytes(),
    ];
    let lines: Vec<(bool, Vec<u8>)> = (0..10_000)
        .map(|i| {
            let r = next();
            // Now and then after a good hello, where requests are expected.
            (i % 10 == 0 && i % 70 != 0, kinds[(r % kinds.len() as u64) as usize](r))
        })
        .collect();
    let before = metrics_lines(&run);
    let failures: Vec<String> = std::thread::scope(|s| {
        let chunks: Vec<_> = lines
            .chunks(2500)
            .map(|chunk| {
                let sock = &sock;
                s.spawn(move || chunk.iter().filter_map(|(h, l)| refused(sock, *h, l).err()).collect::<Vec<_>>())
            })
            .collect();
        chunks.into_iter().flat_map(|c| c.join().unwrap()).collect()
    });
    assert!(
        failures.is_empty(),
        "{} of 10000 lines not refused, e.g. {:?}",
        failures.len(),
        &failures[..3.min(failures.len())]
    );
    // A line far past the limit, too.
    let mut huge = vec![b'x'; 2 << 20];
    huge.push(b'"');
    refused(&sock, true, &huge).unwrap();
    assert!(child.try_wait().unwrap().is_none(), "the run survived");
    wait_growth(&run, metrics_lines(&run).max(before));
    let notes = records(&run, "events.jsonl").into_iter().filter(|e| e["event"] == "refused").count();
    assert!((1..200).contains(&notes), "refusals are noted, at most about once a second: {notes}");
    let mut conn = Conn::connect(&sock);
    conn.handshake(script("tests"), false);
    conn.send(&json!({ "from": script("tests"), "command": "stop" }));
    assert_eq!(wait_exit(&mut child), 0);
    assert_eq!(common::cli::summary(&run)["stop_reason"], "user");
}

fn setpriv() -> bool {
    std::process::Command::new("setpriv").arg("--version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn a_peer_of_another_uid_is_refused() {
    if rustix_uid() != 0 || !setpriv() {
        eprintln!("skipping: needs root and setpriv (util-linux) to connect as another uid");
        return;
    }
    let place = Place::new();
    let mut child = place.start_headless("digits.toml", LONG);
    let run = place.wait_run();
    let sock = socket(&run);
    // Open the folder and the socket to everyone, so that only the peer
    // check stands between uid 65534 and the run.
    std::fs::set_permissions(place.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(place.sock_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    // The server's record beside the socket is private (0600) like the run
    // folder's files: opened too, so that `ls` finds the run.
    for entry in std::fs::read_dir(place.sock_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "json") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    // The binary where uid 65534 may run it.
    let bin_dir = place.tmp.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    std::fs::set_permissions(&bin_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = bin_dir.join("traintop");
    std::fs::copy(env!("CARGO_BIN_EXE_traintop"), &bin).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args(["ls", "--json"])
        .env("TRAINTOP_SOCKET_DIR", place.sock_dir())
        .current_dir("/")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("\"unreachable\""), "uid 65534 sees the run but gets nothing from it: {listing}");
    assert!(!listing.contains("\"step\""), "no status for another uid: {listing}");
    let refusal = poll("the refusal in events.jsonl", || {
        records(&run, "events.jsonl").into_iter().find(|e| e["event"] == "refused")
    });
    assert!(refusal["reason"].as_str().unwrap().contains("uid 65534"), "{refusal}");
    assert!(child.try_wait().unwrap().is_none(), "the run goes on");
    procs::signal(child.id(), "TERM");
    assert_eq!(wait_exit(&mut child), 0);
    assert_eq!(common::cli::summary(&run)["stop_reason"], "user", "SIGTERM stops gracefully");
}

fn rustix_uid() -> u32 {
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_hang_up_detaches_a_headless_run_and_nohup_keeps_it_ignored() {
    // Long enough to be signalled mid-run, short enough to finish.
    let epochs = ["--set", "run.epochs=300"];
    for nohup in [false, true] {
        let place = Place::new();
        let cfg = common::cli::config("digits.toml");
        let out = place.out();
        let mut c = if nohup { std::process::Command::new("nohup") } else { place.bin() };
        if nohup {
            c.arg(env!("CARGO_BIN_EXE_traintop"))
                .env("TRAINTOP_SOCKET_DIR", place.sock_dir())
                .env_remove("TRAINTOP_PLUGIN_PATH");
        }
        c.args(["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", out.to_str().unwrap()]).args(epochs);
        c.current_dir(place.tmp.path()).stdin(std::process::Stdio::null());
        c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        let run = place.wait_run();
        wait_growth(&run, 0);
        procs::signal(child.id(), "HUP");
        assert_eq!(wait_exit(&mut child), 0, "nohup: {nohup}");
        let summary = common::cli::summary(&run);
        assert_eq!(summary["stop_reason"], "completed", "nohup {nohup}: a hang-up does not stop the run");
        let detached = records(&run, "events.jsonl").into_iter().any(|e| e["event"] == "detached");
        assert_eq!(detached, !nohup, "nohup {nohup}: detached is recorded unless SIGHUP was ignored");
    }
}

#[test]
fn ls_shows_live_and_dead_runs() {
    let place = Place::new();
    let ls = |json: bool| {
        let mut c = place.bin();
        c.arg("ls");
        if json {
            c.arg("--json");
        }
        let o = c.output().unwrap();
        assert!(o.status.success());
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(ls(false).contains("no runs"));
    let mut dead = place.start_headless("digits.toml", LONG);
    let dead_run = place.wait_run();
    wait_growth(&dead_run, 0);
    procs::signal(dead.id(), "KILL");
    let _ = dead.wait();
    std::fs::rename(place.out(), place.tmp.path().join("out-dead")).unwrap();
    let mut live = place.start_headless("wine.toml", LONG);
    let live_run = place.wait_run();
    wait_growth(&live_run, 0);
    let list: serde_json::Value = serde_json::from_str(&ls(true)).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let dead_entry = &list[0];
    assert_eq!(dead_entry["state"], "dead", "{dead_entry}");
    // Killed before its first checkpoint: nothing to resume from.
    let hint = dead_entry["resume"].as_str().unwrap();
    assert!(hint.starts_with("no checkpoint yet; start again: traintop run "), "{hint}");
    let stale = Path::new(dead_entry["socket"].as_str().unwrap());
    assert!(!stale.exists(), "the dead run's socket is cleaned up: {}", stale.display());
    let live_entry = &list[1];
    assert_eq!(live_entry["state"], "running", "{live_entry}");
    assert!(live_entry["status"]["step"].as_u64().unwrap() > 0);
    assert_eq!(live_entry["status"]["clients"], 0);
    let table = ls(false);
    assert!(table.contains("dead") && table.contains("running") && table.contains("start again"), "{table}");
    procs::signal(live.id(), "TERM");
    assert_eq!(wait_exit(&mut live), 0);
    let after: serde_json::Value = serde_json::from_str(&ls(true)).unwrap();
    assert_eq!(after.as_array().unwrap().len(), 1, "the finished run is gone, the dead one stays: {after}");
}

#[test]
fn a_killed_run_resumed_shows_once_in_ls() {
    let place = Place::new();
    // A checkpoint every epoch, so that there is one to resume from.
    let mut killed =
        place.start_headless("digits.toml", &["--set", "run.epochs=100000", "--set", "run.checkpoint_secs=0"]);
    let run = place.wait_run();
    poll("a checkpoint", || run.join("checkpoints/last.safetensors").exists().then_some(()));
    procs::signal(killed.id(), "KILL");
    let _ = killed.wait();
    let ls = || -> Vec<serde_json::Value> {
        let o = place.bin().args(["ls", "--json"]).output().unwrap();
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap().as_array().unwrap().clone()
    };
    let before = ls();
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["state"], "dead", "{before:?}");
    let mut resumed = place
        .bin()
        .args(["resume", run.to_str().unwrap(), "--headless", "--quiet"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let after = poll("ls to show the resumed run", || {
        let l = ls();
        (l.iter().any(|e| e["state"] == "running")).then_some(l)
    });
    assert_eq!(after.len(), 1, "the dead entry gives way to the resumed run: {after:?}");
    assert_eq!(after[0]["pid"], resumed.id(), "{after:?}");
    assert_eq!(after[0]["run_dir"], before[0]["run_dir"]);
    assert!(run.join("server.json").exists(), "the resumed run's own record stays");
    procs::signal(resumed.id(), "TERM");
    assert_eq!(wait_exit(&mut resumed), 0);
}

/// `n` pressed five times while paused trains five steps, not one: a
/// command sent after them is taken five steps after the pause.
#[test]
fn each_step_once_while_paused_trains_one_step() {
    let place = Place::new();
    let mut child = place.start_headless("digits.toml", LONG);
    let run = place.wait_run();
    let mut conn = Conn::connect(&socket(&run));
    conn.handshake(script("tests"), false);
    let send = |conn: &mut Conn, command: &str| conn.send(&json!({ "from": script("tests"), "command": command }));
    send(&mut conn, "pause");
    let paused = conn.wait_for("the pause", |e| e["event"] == "state" && e["state"] == "paused");
    let at = paused["step"].as_u64().unwrap();
    for _ in 0..5 {
        send(&mut conn, "step_once");
    }
    for n in 1..=5 {
        conn.wait_for(&format!("step_once {n} accepted"), |e| e["event"] == "accepted" && e["command"] == "step_once");
    }
    // The steps are trained after the commands at that boundary: give
    // them time, then ask where the run is.
    std::thread::sleep(Duration::from_secs(1));
    send(&mut conn, "checkpoint");
    let taken = conn.wait_for("the checkpoint", |e| e["event"] == "accepted" && e["command"] == "checkpoint");
    assert_eq!(taken["step"].as_u64(), Some(at + 5), "five presses, five steps, then paused again");
    send(&mut conn, "stop");
    assert_eq!(wait_exit(&mut child), 0);
}
