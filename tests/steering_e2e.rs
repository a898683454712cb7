//! In a real terminal (tmux): the no-argument demo's hint and the key it
//! names, and `traintop view A B` overlaying two runs. Skipped (with a
//! notice) only where tmux is not installed.

mod common;

use std::path::Path;
use std::time::Duration;

use common::cli::{repo, run_dir, train};
use common::tmux::{self, shell_quote, Tmux};

const TIMEOUT: Duration = Duration::from_secs(30);

fn q(p: &Path) -> String {
    shell_quote(p.to_str().unwrap())
}

#[test]
fn the_demo_hints_at_batch_norm_and_space_switches_it_on() {
    if !tmux::available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    common::plugins::plugin_path("batch_norm");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exit_file = tmp.path().join("exit_code");
    let command = format!(
        "cd {repo} && env -u TRAINTOP_PLUGIN_PATH NO_COLOR=1 {bin} run --out {out} --set run.log_every=1; echo $? >{exit}",
        repo = q(&repo()),
        bin = q(Path::new(env!("CARGO_BIN_EXE_traintop"))),
        out = q(&out),
        exit = q(&exit_file),
    );
    // The whole hint fits the footer of the smallest terminal.
    let term = Tmux::start(80, 24, &command);
    let hint = traintop::cli::run::EMBEDDED_CONFIG.lines().find_map(|l| l.strip_prefix("hint = ")).unwrap();
    let screen = term.wait_until("the hint in the footer", TIMEOUT, |s| {
        s.lines().last().is_some_and(|l| l.contains(hint.trim_matches('"')))
    });
    assert!(screen.contains("> [off] batch_norm"), "batch_norm is selected when the dashboard opens:\n{screen}");
    term.send_keys(&["Space"]);
    let screen = term.wait_until("batch_norm on and the hint gone", TIMEOUT, |s| {
        s.contains("> [on ] batch_norm") && !s.contains("press space to switch")
    });
    assert!(screen.contains("batch_norm on"), "the toggle is marked:\n{screen}");
    // Stop the run, then quit the finished dashboard.
    term.send_keys(&["s"]);
    term.wait_until("the stop question", TIMEOUT, |s| s.contains("Stop the run"));
    term.send_keys(&["y"]);
    term.wait_until("the run to finish", TIMEOUT, |s| s.contains("[finished: user]"));
    term.send_keys(&["q"]);
    let code =
        tmux::poll("the exit code", TIMEOUT, || std::fs::read_to_string(&exit_file).ok().filter(|s| s.ends_with('\n')));
    assert_eq!(code.trim(), "0");
    let events = std::fs::read_to_string(run_dir(&out).join("events.jsonl")).unwrap();
    assert!(events.contains("\"technique\":\"batch_norm\",\"enabled\":true"), "{events}");
}

#[test]
fn view_overlays_two_runs_and_switches_to_epochs() {
    if !tmux::available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let (_a, a, _) = train("iris.toml", &["--set", "run.epochs=6"]);
    let (_b, b, _) = train("iris.toml", &["--set", "run.epochs=6", "--set", "technique.input_norm.enabled=false"]);
    let tmp = tempfile::tempdir().unwrap();
    let exit_file = tmp.path().join("exit_code");
    let command = format!(
        "NO_COLOR=1 {bin} view {a} {b}; echo $? >{exit}",
        bin = q(Path::new(env!("CARGO_BIN_EXE_traintop"))),
        a = q(&a),
        b = q(&b),
        exit = q(&exit_file),
    );
    let term = Tmux::start(80, 24, &command);
    let screen = term.wait_until("the legend", TIMEOUT, |s| s.contains("runs (what differs)"));
    let (na, nb) = (a.file_name().unwrap().to_str().unwrap(), b.file_name().unwrap().to_str().unwrap());
    assert!(screen.contains(&format!("━ A {na}")) && screen.contains(&format!("• B {nb}")), "{screen}");
    assert!(screen.contains("input_norm.enabled=true") && screen.contains("input_norm.enabled=false"), "{screen}");
    assert!(screen.contains("validation loss") && screen.contains("validation accuracy"), "{screen}");
    term.send_keys(&["x"]);
    term.wait_until("epochs on the x axis", TIMEOUT, |s| s.contains("curves by epoch") && s.contains("epoch"));
    term.send_keys(&["q"]);
    // The shell creates the file before `echo` writes into it: wait for the line.
    let code =
        tmux::poll("the exit code", TIMEOUT, || std::fs::read_to_string(&exit_file).ok().filter(|s| s.ends_with('\n')));
    assert_eq!(code.trim(), "0");
}

#[test]
fn a_baseline_run_is_drawn_behind_the_live_run_and_b_hides_it() {
    if !tmux::available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let (_a, base, _) = train("iris.toml", &["--set", "run.epochs=6", "--set", "technique.input_norm.enabled=false"]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exit_file = tmp.path().join("exit_code");
    let command = format!(
        "cd {repo} && env -u TRAINTOP_PLUGIN_PATH NO_COLOR=1 {bin} run configs/iris.toml --out {out} \
         --set run.epochs=6 --baseline {base}; echo $? >{exit}",
        repo = q(&repo()),
        bin = q(Path::new(env!("CARGO_BIN_EXE_traintop"))),
        out = q(&out),
        base = q(&base),
        exit = q(&exit_file),
    );
    let term = Tmux::start(120, 40, &command);
    let name = base.file_name().unwrap().to_str().unwrap();
    let legend = format!("▄ base {}", &name[..6]);
    let screen = term.wait_until("the baseline in both legends", TIMEOUT, |s| s.matches(&legend).count() == 2);
    assert!(screen.matches('▄').count() > 20, "the baseline's curve is drawn:\n{screen}");
    term.send_keys(&["b"]);
    term.wait_until("the baseline hidden", TIMEOUT, |s| !s.contains(&legend) && s.contains("hidden (b shows it)"));
    term.send_keys(&["b"]);
    term.wait_until("the baseline back", TIMEOUT, |s| s.matches(&legend).count() == 2);
    term.wait_until("the run to finish", TIMEOUT, |s| s.contains("[finished: completed]"));
    term.send_keys(&["q"]);
    // The shell creates the file before `echo` writes into it: wait for the line.
    let code =
        tmux::poll("the exit code", TIMEOUT, || std::fs::read_to_string(&exit_file).ok().filter(|s| s.ends_with('\n')));
    assert_eq!(code.trim(), "0");
}

#[test]
fn a_bad_baseline_folder_is_an_error_before_anything_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (cfg, out_s) = (common::cli::config("iris.toml"), out.to_str().unwrap().to_string());
    let missing = tmp.path().join("no-such-run");
    let o = common::cli::run(&["run", cfg.to_str().unwrap(), "--out", &out_s, "--baseline", missing.to_str().unwrap()]);
    let err = common::cli::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("--baseline {}: no such folder", missing.display())), "{err}");
    assert!(!out.exists(), "nothing was trained");
    // A folder that is not a run's.
    let o = common::cli::run(&["attach", "--baseline", tmp.path().to_str().unwrap(), "whatever"]);
    let err = common::cli::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no metrics.jsonl or events.jsonl"), "{err}");
}

#[test]
fn f_forks_the_live_demo_at_batch_norm_and_a_keeps_branch_a() {
    if !tmux::available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    common::plugins::plugin_path("batch_norm");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exit_file = tmp.path().join("exit_code");
    let command = format!(
        "cd {repo} && env -u TRAINTOP_PLUGIN_PATH NO_COLOR=1 {bin} run --out {out} --set run.log_every=1; echo $? >{exit}",
        repo = q(&repo()),
        bin = q(Path::new(env!("CARGO_BIN_EXE_traintop"))),
        out = q(&out),
        exit = q(&exit_file),
    );
    let term = Tmux::start(120, 40, &command);
    term.wait_until("batch_norm selected", TIMEOUT, |s| s.contains("> [off] batch_norm"));
    term.send_keys(&["f"]);
    let screen = term.wait_until("the fork and B's curve", TIMEOUT, |s| {
        s.contains("A = batch_norm on (this run), B = as before") && s.matches("█ B as before").count() == 2
    });
    assert!(screen.contains("> [on ] batch_norm"), "this run is branch A, batch_norm on:\n{screen}");
    term.send_keys(&["A"]);
    term.wait_until("A kept", TIMEOUT, |s| s.contains("kept A; B is in"));
    term.send_keys(&["s"]);
    term.wait_until("the stop question", TIMEOUT, |s| s.contains("Stop the run"));
    term.send_keys(&["y"]);
    term.wait_until("the run to finish", TIMEOUT, |s| s.contains("[finished: user]"));
    term.send_keys(&["q"]);
    let code =
        tmux::poll("the exit code", TIMEOUT, || std::fs::read_to_string(&exit_file).ok().filter(|s| s.ends_with('\n')));
    assert_eq!(code.trim(), "0");
    // Two folders: the run (A) and B's, marked as a fork at the fork step.
    let mut dirs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    dirs.sort_by_key(|p| p.file_name().unwrap().to_string_lossy().contains("-fork-"));
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let (a, b) = (&dirs[0], &dirs[1]);
    let events = std::fs::read_to_string(a.join("events.jsonl")).unwrap();
    let started: serde_json::Value =
        serde_json::from_str(events.lines().find(|l| l.contains("\"fork_started\"")).unwrap()).unwrap();
    assert!(events.contains("\"event\":\"fork_ended\"") && events.contains("\"kept\":\"a\""), "{events}");
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(b.join("fork.json")).unwrap()).unwrap();
    assert_eq!(info["step"], started["step"]);
    assert_eq!(info["parent"].as_str().unwrap(), std::path::absolute(a).unwrap().to_str().unwrap());
    let b_summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("summary.json")).unwrap()).unwrap();
    assert_eq!(b_summary["stop_reason"], "user");
    assert!(b.join("checkpoints/last.safetensors").exists());
}

/// `r` at the end of `traintop run`'s dashboard: the same run again, in a
/// new folder, watched on the same screen; q then quits as usual.
#[test]
fn r_at_the_end_runs_it_again_in_a_new_folder() {
    if !tmux::available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let exit_file = tmp.path().join("exit_code");
    let command = tmux::traintop_line(
        &format!("run configs/iris.toml --out {} --set run.epochs=3", q(&out)),
        &format!("echo $? >{}", q(&exit_file)),
    );
    let term = Tmux::start(80, 24, &command);
    term.wait_until("the end, offering r", TIMEOUT, |s| {
        s.contains("[finished: completed]") && s.contains("r runs it again")
    });
    let folders = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&out).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default()
    };
    let first = run_dir(&out);
    term.send_keys(&["r"]);
    let second = tmux::poll("a second run folder", TIMEOUT, || folders().into_iter().find(|p| *p != first));
    tmux::poll("the second run to end", TIMEOUT, || second.join("summary.json").exists().then_some(()));
    let screen = term.wait_until("the second run's end on the same screen", TIMEOUT, |s| {
        s.contains("[finished: completed]") && s.contains("started on cpu")
    });
    assert!(screen.contains("r runs it again"), "{screen}");
    term.send_keys(&["q"]);
    let code =
        tmux::poll("the exit code", TIMEOUT, || std::fs::read_to_string(&exit_file).ok().filter(|s| s.ends_with('\n')));
    assert_eq!(code.trim(), "0");
    assert_eq!(folders().len(), 2, "q after the second run starts no third");
}

/// The issue's reproduction: deep-sigmoid with batch norm on, `j j f` forks
/// on dropout, and both the fork and the branch kept afterwards go on
/// training (the run once ended "diverged" within 0.1 s of the fork).
#[test]
fn a_fork_on_dropout_and_the_branch_kept_keep_training() {
    if !tmux::available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let command = tmux::traintop_line(
        &format!(
            "run configs/deep-sigmoid.toml --out {} --set run.epochs=20000 --set technique.batch_norm.enabled=true",
            q(&out)
        ),
        "sleep 60",
    );
    let term = Tmux::start(120, 40, &command);
    let steps = |s: &str| common::screen::header_step(s);
    term.wait_until("training", TIMEOUT, |s| steps(s).is_some_and(|n| n > 0));
    for _ in 0..4 {
        let s = term.capture();
        if s.contains("> [off] dropout") {
            break;
        }
        term.send_keys(&["j"]);
        std::thread::sleep(Duration::from_millis(300));
    }
    term.wait_until("dropout selected", TIMEOUT, |s| s.contains("> [off] dropout"));
    term.send_keys(&["f"]);
    let s = term.wait_until("the fork", TIMEOUT, |s| s.contains("A = dropout on (this run), B = as before"));
    let at = steps(&s).unwrap();
    let s = term.wait_until("the fork training on", TIMEOUT, |s| steps(s).is_some_and(|n| n > at + 2000));
    assert!(s.contains("[running]") && !s.contains("diverged"), "{s}");
    term.send_keys(&["B"]);
    let s = term.wait_until("B kept", TIMEOUT, |s| s.contains("kept B"));
    let at = steps(&s).unwrap();
    let s = term.wait_until("B training on", TIMEOUT, |s| steps(s).is_some_and(|n| n > at + 2000));
    assert!(s.contains("[running]") && !s.contains("diverged"), "{s}");
    term.send_keys(&["s", "y"]);
    term.wait_until("the run to finish", TIMEOUT, |s| s.contains("[finished: user]"));
}

/// `resume` of a finished run in its dashboard: the history it replays ends
/// with the old end, and the screen must not keep saying "run finished"
/// (nor anything but running) once the run goes on.
#[test]
fn a_resumed_run_reads_running_not_finished() {
    if !tmux::available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    let (_t, dir, _) = train("iris.toml", &["--set", "run.epochs=2"]);
    let command = tmux::traintop_line(&format!("resume {} --set run.epochs=100000", q(&dir)), "sleep 60");
    let term = Tmux::start(80, 24, &command);
    let s = term.wait_until("the resumed run", TIMEOUT, |s| {
        s.contains("[running]") && common::screen::header_step(s).is_some_and(|n| n > 100)
    });
    assert!(!s.contains("run finished"), "the old end's footer stays behind:\n{s}");
    term.send_keys(&["s", "y"]);
    term.wait_until("the run to finish", TIMEOUT, |s| s.contains("[finished: user]") && s.contains("run finished"));
}
