//! The dashboard in a real terminal: `traintop run` inside a detached tmux
//! session, steered with keys while the screen and the run folder are
//! watched. Skipped (with a notice) only where tmux is not installed.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cli::{config, repo, run_dir, summary};
use common::tmux::{self, shell_quote, Tmux};

/// The longest wait for any one thing to show up.
const TIMEOUT: Duration = Duration::from_secs(20);

fn q(p: &Path) -> String {
    shell_quote(p.to_str().unwrap())
}
/// How long a paused run must keep its step count.
const PAUSE_HOLD: Duration = Duration::from_secs(2);

/// The `step N` of the header's second line.
fn header_step(screen: &str) -> Option<u64> {
    let line = screen.lines().nth(1)?;
    let rest = &line[line.find(" step ")? + " step ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The state word in brackets at the end of the header's first line.
fn header_state(screen: &str) -> Option<String> {
    let line = screen.lines().next()?.trim_end();
    let inner = line.strip_suffix(']')?;
    Some(inner[inner.rfind('[')? + 1..].to_string())
}

/// The technique under the `>` cursor: (name, on).
fn selected_technique(screen: &str) -> Option<(String, bool)> {
    screen.lines().find_map(|line| {
        let (on, rest) = if let Some(i) = line.find("> [on ] ") {
            (true, &line[i + "> [on ] ".len()..])
        } else {
            let i = line.find("> [off] ")?;
            (false, &line[i + "> [off] ".len()..])
        };
        Some((rest.split_whitespace().next()?.to_string(), on))
    })
}

/// The techniques panel's names, top to bottom, and whether the cursor is on
/// each.
fn techniques(screen: &str) -> Vec<(String, bool)> {
    let mut list = Vec::new();
    for line in screen.lines() {
        for flag in ["[on ] ", "[off] "] {
            if let Some(i) = line.find(flag) {
                if let Some(name) = line[i + flag.len()..].split_whitespace().next() {
                    list.push((name.to_string(), line[..i].ends_with("> ")));
                }
            }
        }
    }
    list
}

/// The technique's first panel line, e.g. `[on ] dropout        rate=0.2 ...`.
fn technique_line<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen.lines().find(|l| {
        ["[on ] ", "[off] "]
            .iter()
            .any(|flag| l.find(flag).is_some_and(|i| l[i + flag.len()..].split_whitespace().next() == Some(name)))
    })
}

/// The entries of the run's `events.jsonl` (lines still being written are
/// skipped).
fn events(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits for an `events.jsonl` entry that `check` accepts; returns it.
fn wait_event(run: &Path, what: &str, check: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    tmux::poll(&format!("{what} in {}", run.join("events.jsonl").display()), TIMEOUT, || {
        events(run).into_iter().find(|e| check(e))
    })
}

/// Prints what the program wrote to stderr if the test fails.
struct StderrOnFailure(PathBuf);

impl Drop for StderrOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.0).unwrap_or_default();
            eprintln!("--- traintop stderr ---\n{text}\n---");
        }
    }
}

#[test]
fn dashboard_pause_toggle_edit_stop_quit() {
    if !tmux::available() {
        eprintln!("skipping dashboard_e2e: tmux is not installed");
        return;
    }
    // The plugins are built with the binary (next to it, or in its deps/).
    common::plugins::plugin_path("dropout");
    let bin = Path::new(env!("CARGO_BIN_EXE_traintop"));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exit_file = tmp.path().join("exit_code");
    let stderr_file = tmp.path().join("stderr.txt");
    let _stderr = StderrOnFailure(stderr_file.clone());
    let q = |p: &Path| shell_quote(p.to_str().unwrap());
    let command = format!(
        "cd {repo} && env -u TRAINTOP_PLUGIN_PATH NO_COLOR=1 {bin} run {cfg} --out {out} \
         --set run.epochs=100000 --set run.log_every=1 2>{err}; echo $? >{exit}",
        repo = q(&repo()),
        bin = q(bin),
        cfg = q(&config("digits.toml")),
        out = q(&out),
        err = q(&stderr_file),
        exit = q(&exit_file),
    );
    let term = Tmux::start(120, 40, &command);

    // (a) Progress: the header's step count moves.
    let first = term.wait_for("a step count above 0", TIMEOUT, |s| header_step(s).filter(|&n| n > 0));
    term.wait_until("the step count to move", TIMEOUT, |s| header_step(s).is_some_and(|n| n > first));
    let run = run_dir(&out);

    // (b) Pause: the header says so and the count holds still.
    term.send_keys(&["p"]);
    let paused =
        term.wait_until("the header to show paused", TIMEOUT, |s| header_state(s).as_deref() == Some("paused"));
    let held = header_step(&paused).expect("a step count while paused");
    let start = std::time::Instant::now();
    while start.elapsed() < PAUSE_HOLD {
        std::thread::sleep(tmux::POLL);
        let s = term.capture();
        assert_eq!(header_state(&s).as_deref(), Some("paused"), "the run left the paused state:\n{s}");
        assert_eq!(header_step(&s), Some(held), "the step count moved while paused:\n{s}");
    }

    // (c) Resume: the count moves again.
    term.send_keys(&["p"]);
    term.wait_until("the run to resume and the count to move", TIMEOUT, |s| {
        header_state(s).as_deref() == Some("running") && header_step(s).is_some_and(|n| n > held)
    });

    // (d) Select dropout and switch it on.
    let screen =
        term.wait_until("dropout in the techniques panel", TIMEOUT, |s| technique_line(s, "dropout").is_some());
    assert!(
        technique_line(&screen, "dropout").unwrap().contains("[off] dropout"),
        "dropout should start off:\n{screen}"
    );
    // An empty layer list is every hidden layer, and says so.
    // (cut to the panel's width: "layers=a…" at 120 columns).
    assert!(technique_line(&screen, "dropout").unwrap().contains("layers=a"), "{screen}");
    // Move the cursor one line at a time towards dropout.
    for _ in 0..32 {
        let s = term.capture();
        let list = techniques(&s);
        let at = list.iter().position(|(_, sel)| *sel).unwrap_or_else(|| panic!("no technique under the cursor:\n{s}"));
        let goal = list.iter().position(|(n, _)| n == "dropout").expect("dropout listed");
        if at == goal {
            break;
        }
        term.send_keys(&[if goal > at { "j" } else { "k" }]);
        let was = list[at].0.clone();
        term.wait_until("the cursor to move", TIMEOUT, |s| selected_technique(s).is_some_and(|(n, _)| n != was));
    }
    term.wait_until("the cursor on dropout", TIMEOUT, |s| {
        selected_technique(s) == Some(("dropout".to_string(), false))
    });
    term.send_keys(&["Space"]);
    term.wait_until("dropout on in the panel", TIMEOUT, |s| s.contains("> [on ] dropout"));
    let toggle = wait_event(&run, "a toggle entry for dropout", |e| {
        e["event"] == "accepted" && e["command"] == "toggle" && e["technique"] == "dropout" && e["enabled"] == true
    });
    // The footer acknowledges it with the step it took effect at.
    let ack = format!("dropout on: applied at step {}", toggle["step"]);
    term.wait_until("the toggle acknowledged", TIMEOUT, |s| s.contains(&ack));
    let rebuild = wait_event(&run, "a rebuild entry", |e| e["event"] == "rebuild");
    assert!(rebuild["rebuild_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "rebuild without rebuild_ms: {rebuild}");

    // (e) Edit dropout's rate: the editor's field starts with the current
    // value, so clear it (Ctrl+U) before typing.
    term.send_keys(&["e"]);
    term.wait_until("the dropout editor", TIMEOUT, |s| s.contains("edit dropout"));
    term.send_keys(&["C-u"]);
    term.type_text("0.2");
    term.wait_until("0.2 in the editor", TIMEOUT, |s| s.contains("[0.2"));
    term.send_keys(&["Enter"]);
    let set = wait_event(&run, "a set_param entry for dropout.rate", |e| {
        e["event"] == "accepted" && e["command"] == "set_param" && e["technique"] == "dropout" && e["param"] == "rate"
    });
    let value = &set["value"];
    let value = value.as_f64().or_else(|| value.as_str().and_then(|v| v.parse().ok()));
    assert_eq!(value, Some(0.2), "set_param value: {set}");
    term.wait_until("rate=0.2 in the techniques panel", TIMEOUT, |s| {
        technique_line(s, "dropout").is_some_and(|l| l.contains("rate=0.2"))
    });

    // (f) Stop: s asks, as q does; Esc says no and the run goes on.
    term.send_keys(&["s"]);
    term.wait_until("the stop question", TIMEOUT, |s| s.contains("Stop the run (checkpoint and summary)? y stop"));
    term.send_keys(&["Escape"]);
    let asked = term.wait_for("the question gone", TIMEOUT, |s| {
        (!s.contains("Stop the run (checkpoint")).then(|| header_step(s)).flatten()
    });
    term.wait_until("the run going on", TIMEOUT, |s| {
        header_state(s).as_deref() == Some("running") && header_step(s).is_some_and(|n| n > asked)
    });
    // Then s y stops; wait for the end and quit (no question once finished).
    term.send_keys(&["s"]);
    term.wait_until("the stop question", TIMEOUT, |s| s.contains("Stop the run (checkpoint and summary)?"));
    term.send_keys(&["y"]);
    term.wait_until("the header to show finished: user", TIMEOUT, |s| {
        header_state(s).as_deref() == Some("finished: user")
    });
    term.send_keys(&["q"]);
    let code = tmux::poll("the exit code file", TIMEOUT, || {
        std::fs::read_to_string(&exit_file).ok().filter(|s| s.ends_with('\n'))
    });
    assert_eq!(code.trim(), "0", "traintop exit code");
    let s = summary(&run);
    assert_eq!(s["stop_reason"], "user", "summary.json: {s}");
    assert!(run.join("checkpoints/last.safetensors").exists(), "no checkpoints/last.safetensors");
    let ends = events(&run).iter().filter(|e| e["event"] == "finished").count();
    assert_eq!(ends, 1, "one finished entry in events.jsonl");
}

/// Reading the screen in a real terminal at 80x24: Tab gives the page keys
/// to the gradients (eight layers do not fit), the arrow keys put a cursor
/// on the charts with each curve's value there, z zooms, Esc hides the
/// cursor without detaching.
#[test]
fn tab_scrolls_the_gradients_and_the_cursor_reads_the_charts() {
    if !tmux::available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let command = tmux::traintop_line(
        &format!("run configs/deep-sigmoid.toml --out {} --set run.epochs=20000", q(&out)),
        "sleep 60",
    );
    let term = Tmux::start(80, 24, &command);
    let s = term.wait_until("the gradients, cut", TIMEOUT, |s| s.contains("gradients 1-"));
    assert!(s.contains("▸ techniques"), "the techniques have the keys first:\n{s}");
    term.send_keys(&["Tab", "PageDown"]);
    term.wait_until("the gradients scrolled", TIMEOUT, |s| {
        s.contains("▸ gradients") && !s.contains("gradients 1-") && s.contains("layer7")
    });
    term.send_keys(&["Left"]);
    term.wait_until("the cursor's readout", TIMEOUT, |s| s.contains("loss · step ") && s.contains("val "));
    term.send_keys(&["z"]);
    term.wait_until("the zoom in the title", TIMEOUT, |s| s.contains("loss · last 10,000"));
    term.send_keys(&["Escape"]);
    let s = term.wait_until("the cursor hidden", TIMEOUT, |s| !s.contains("loss · step "));
    assert!(s.contains("[running]"), "Esc hid the cursor and left the screen open:\n{s}");
    term.send_keys(&["s", "y"]);
    term.wait_until("the run to finish", TIMEOUT, |s| s.contains("[finished: user]"));
}
