//! `traintop sweep` end to end with the real binary and real runs: a local
//! ablation whose report shows batch norm's effect on the deep sigmoid net
//! with intervals apart; bad `--vary` keys refused before anything starts;
//! a sweep stopped and resumed with nothing lost, then extended with seeds;
//! runs spread over two ssh hosts (the test sshd on 127.0.0.1 under two
//! names); and a Slurm array on a one-node cluster started by the test, one
//! task cancelled, then submitted again by `sweep resume`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::cli::{bin, config, run, stderr, stdout};
use common::served::poll;
use serde_json::Value;

const BN: &str = "technique.batch_norm.enabled=false,true";

fn manifest(sweep: &Path) -> Value {
    try_manifest(sweep).unwrap_or_else(|| panic!("no sweep.json in {}", sweep.display()))
}

/// The manifest, once the sweep has written it.
fn try_manifest(sweep: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(sweep.join("sweep.json")).ok()?).ok()
}

/// The sweep folder a `sweep` printed.
fn sweep_dir(out: &str) -> PathBuf {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("sweep folder: "))
        .unwrap_or_else(|| panic!("no sweep folder in {out}"));
    PathBuf::from(line.trim())
}

/// Each task's run folder (one per task folder).
fn run_dirs(sweep: &Path) -> Vec<PathBuf> {
    manifest(sweep)["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let out = PathBuf::from(t["out"].as_str().unwrap());
            let dirs: Vec<PathBuf> = std::fs::read_dir(&out)
                .unwrap()
                .filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| p.join("config.toml").exists())
                .collect();
            assert_eq!(dirs.len(), 1, "one run folder in {}: {dirs:?}", out.display());
            dirs[0].clone()
        })
        .collect()
}

/// Every task's `task.log` (what its runs printed), for failure messages.
fn task_logs(sweep: &Path) -> String {
    manifest(sweep)["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let log = PathBuf::from(t["out"].as_str().unwrap()).join("task.log");
            format!("--- {}\n{}", log.display(), std::fs::read_to_string(&log).unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Starts `command` (a `sweep`) into `out` in the background; returns it
/// and its sweep folder once made.
fn spawn_sweep(mut command: std::process::Command, out: &Path) -> (std::process::Child, PathBuf) {
    let child = command.arg("--out").arg(out).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let sweep =
        poll("the sweep folder", || std::fs::read_dir(out).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).next());
    (child, sweep)
}

fn summary(run: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

/// `[low, high]` of a leaderboard row whose variant is `label`.
fn interval(report: &str, label: &str) -> (f64, f64) {
    let row = report
        .lines()
        .find(|l| l.contains(&format!("| {label} |")))
        .unwrap_or_else(|| panic!("no row {label}:\n{report}"));
    let inside = row.rsplit_once('[').unwrap().1.split_once(']').unwrap().0;
    let (a, b) = inside.split_once(',').unwrap();
    (a.trim().parse().unwrap(), b.trim().parse().unwrap())
}

#[test]
fn a_local_sweep_shows_what_batch_norm_does_with_intervals_apart() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let cfg = config("deep-sigmoid.toml");
    let ran = run(&["sweep", cfg.to_str().unwrap(), "--vary", BN, "--seeds", "3", "--jobs", "2", "--out", o]);
    assert!(ran.status.success(), "sweep failed: {}{}", stdout(&ran), stderr(&ran));
    let sweep = sweep_dir(&stdout(&ran));
    assert_eq!(run_dirs(&sweep).len(), 6);
    let rep = run(&["sweep", "report", sweep.to_str().unwrap()]);
    assert!(rep.status.success(), "{}", stderr(&rep));
    let report = stdout(&rep);
    let on = interval(&report, "batch_norm.enabled=true");
    let off = interval(&report, "batch_norm.enabled=false");
    assert!(off.1 < on.0, "batch norm's interval {on:?} should lie above the plain net's {off:?}:\n{report}");
    assert!(report.contains("| batch_norm.enabled | true vs false | +0."), "{report}");
    assert!(report.lines().any(|l| l.starts_with("| batch_norm.enabled") && l.ends_with("| helped |")), "{report}");
    let csv = std::fs::read_to_string(sweep.join("report.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.contains(",done,completed,20,")), "{csv}");
    let svg = std::fs::read_to_string(sweep.join("curves.svg")).unwrap();
    assert_eq!(svg.matches("<polyline").count(), 2, "one mean curve per variant");
    assert!(svg.contains("batch_norm.enabled=true") && svg.trim_end().ends_with("</svg>"));

    // Extended with a fourth seed: two runs more, the six done ones kept.
    let before: Vec<_> = run_dirs(&sweep)
        .iter()
        .map(|d| std::fs::metadata(d.join("summary.json")).unwrap().modified().unwrap())
        .collect();
    let more = run(&["sweep", "resume", sweep.to_str().unwrap(), "--seeds", "4"]);
    assert!(more.status.success(), "{}{}", stdout(&more), stderr(&more));
    assert!(stdout(&more).contains("2 runs added"), "{}", stdout(&more));
    let dirs = run_dirs(&sweep);
    assert_eq!(dirs.len(), 8);
    let after: Vec<_> =
        dirs[..6].iter().map(|d| std::fs::metadata(d.join("summary.json")).unwrap().modified().unwrap()).collect();
    assert_eq!(before, after, "done runs are not run again");
    assert_eq!(manifest(&sweep)["seeds"], serde_json::json!([42, 43, 44, 45]));
}

#[test]
fn bad_vary_keys_and_values_are_refused_before_anything_starts() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let cfg = config("deep-sigmoid.toml");
    let c = cfg.to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["--vary", "technique.batch_norm.enabledd=false,true"], "unknown parameter `enabledd`"),
        (&["--vary", "optimizer.lr=0.1,fast"], "variant optimizer.lr=fast"),
        (&["--vary", "model.hiden=[8]"], "unknown field `hiden`"),
        (&["--vary", "optimizer.lr"], "expected KEY=V1,V2"),
        (&["--vary", "run.seed=1,2"], "--seeds N"),
        (&["--vary", "optimizer.lr=0.1,0.1"], "listed twice"),
        (&["--vary", BN, "--seeds", "3", "--max-runs", "5"], "6 runs (2 variants x 3 seeds), more than --max-runs 5"),
    ];
    for (args, expected) in cases {
        let ran = run(&[&["sweep", c, "--out", o][..], args].concat());
        assert_eq!(ran.status.code(), Some(2), "{args:?}: {}", stderr(&ran));
        assert!(stderr(&ran).contains(expected), "{args:?}: expected {expected:?} in {}", stderr(&ran));
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "no sweep folder was made");
    let missing = run(&["sweep", "report", o]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("not a sweep folder"), "{}", stderr(&missing));
}

#[test]
fn a_stopped_sweep_resumes_from_its_checkpoints_with_nothing_lost() {
    let out = tempfile::tempdir().unwrap();
    let cfg = config("deep-sigmoid.toml");
    let mut command = bin();
    command.args([
        "sweep",
        cfg.to_str().unwrap(),
        "--vary",
        BN,
        "--seeds",
        "2",
        "--jobs",
        "2",
        "--set",
        "run.epochs=300",
    ]);
    let (child, sweep) = spawn_sweep(command, out.path());
    // Both running runs past a few epochs.
    poll("two runs training", || {
        let m = try_manifest(&sweep)?;
        let training = m["tasks"].as_array()?.iter().filter(|t| {
            let out = PathBuf::from(t["out"].as_str().unwrap_or_default());
            std::fs::read_dir(&out).into_iter().flatten().filter_map(|e| e.ok()).any(|e| {
                std::fs::read_to_string(e.path().join("metrics.jsonl"))
                    .is_ok_and(|m| m.matches("\"event\":\"epoch\"").count() >= 3)
            })
        });
        (training.count() >= 2).then_some(())
    });
    common::procs::signal(child.id(), "INT");
    let ended = child.wait_with_output().unwrap();
    assert_eq!(ended.status.code(), Some(130), "{}{}", stdout(&ended), stderr(&ended));
    assert!(stderr(&ended).contains("traintop sweep resume"), "{}", stderr(&ended));
    let status = stdout(&run(&["sweep", "status", sweep.to_str().unwrap()]));
    assert_eq!(status.matches(" stopped ").count(), 2, "{status}");
    assert_eq!(status.matches(" pending ").count(), 2, "{status}");

    let resumed = run(&["sweep", "resume", sweep.to_str().unwrap()]);
    assert!(resumed.status.success(), "{}{}\n{}", stdout(&resumed), stderr(&resumed), task_logs(&sweep));
    for dir in run_dirs(&sweep) {
        let s = summary(&dir);
        assert_eq!(s["stop_reason"], "completed", "{}", dir.display());
        assert_eq!(s["steps"], 300 * 45, "{}: every step trained once", dir.display());
        let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        let mut epochs: Vec<u64> = metrics
            .lines()
            .filter(|l| l.contains("\"event\":\"epoch\""))
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["epoch"].as_u64().unwrap())
            .collect();
        epochs.dedup();
        assert_eq!(epochs, (1..=300).collect::<Vec<u64>>(), "{}: every epoch recorded", dir.display());
    }
}

#[test]
fn a_sweep_spreads_its_runs_over_two_ssh_hosts() {
    let Some(sshd) = common::sshd::Sshd::start() else {
        eprintln!("skipped: no sshd");
        return;
    };
    let ssh_config = sshd.dir().join("ssh_config");
    let text = std::fs::read_to_string(&ssh_config).unwrap();
    let second = format!("{} {}-2", common::sshd::HOST, common::sshd::HOST);
    std::fs::write(&ssh_config, text.replacen(&format!("Host {}", common::sshd::HOST), &format!("Host {second}"), 1))
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let cfg = config("deep-sigmoid.toml");
    let hosts = format!("{h},{h}-2", h = common::sshd::HOST);
    let ran = bin()
        .env("TRAINTOP_SSH", sshd.ssh_command())
        .env("TRAINTOP_REMOTE", env!("CARGO_BIN_EXE_traintop"))
        .args(["sweep", cfg.to_str().unwrap(), "--vary", BN, "--seeds", "2", "--hosts", &hosts])
        .args(["--out", out.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(ran.status.success(), "{}{}\n{}", stdout(&ran), stderr(&ran), sshd.log());
    let sweep = sweep_dir(&stdout(&ran));
    let m = manifest(&sweep);
    let used: Vec<&str> = m["tasks"].as_array().unwrap().iter().map(|t| t["host"].as_str().unwrap()).collect();
    assert!(used.contains(&common::sshd::HOST) && used.contains(&hosts.split(',').nth(1).unwrap()), "{used:?}");
    for dir in run_dirs(&sweep) {
        assert_eq!(summary(&dir)["stop_reason"], "completed");
    }
    assert!(stdout(&ran).contains("| helped |"), "{}", stdout(&ran));
}

#[test]
fn a_slurm_sweep_runs_as_an_array_and_a_cancelled_task_is_submitted_again() {
    let Some(cluster) = common::slurm::Cluster::start() else { return };
    let out = tempfile::tempdir().unwrap();
    let cfg = config("deep-sigmoid.toml");
    let sweep_cmd = |args: &[&str]| {
        let mut c = bin();
        c.env("SLURM_CONF", cluster.conf()).args(args);
        c
    };
    let (child, sweep) = spawn_sweep(
        sweep_cmd(&[
            "sweep",
            cfg.to_str().unwrap(),
            "--slurm",
            "--vary",
            BN,
            "--seeds",
            "2",
            "--set",
            "run.epochs=100",
        ]),
        out.path(),
    );
    let job = poll("the array job's id", || {
        Some(try_manifest(&sweep)?["launcher"]["jobs"].as_array()?.first()?.as_str()?.to_string())
    });
    let q = cluster.queue();
    assert!(q.contains(&format!("{job}_3")), "the four tasks are one array job:\n{q}");
    cluster.scancel(&format!("{job}_3"));
    let ended = child.wait_with_output().unwrap();
    assert_eq!(ended.status.code(), Some(1), "{}{}\n{}", stdout(&ended), stderr(&ended), cluster.logs());
    assert!(
        stderr(&ended).contains("1 runs did not finish") && stderr(&ended).contains("seed43"),
        "{}",
        stderr(&ended)
    );
    let status = stdout(&sweep_cmd(&["sweep", "status", sweep.to_str().unwrap()]).output().unwrap());
    assert!(status.contains(&format!("slurm job {job}_3 left the queue unfinished")), "{status}");

    let resumed = sweep_cmd(&["sweep", "resume", sweep.to_str().unwrap()]).output().unwrap();
    assert!(resumed.status.success(), "{}{}\n{}", stdout(&resumed), stderr(&resumed), cluster.logs());
    assert_eq!(
        manifest(&sweep)["launcher"]["jobs"].as_array().unwrap().len(),
        2,
        "the cancelled task went in a second job"
    );
    for dir in run_dirs(&sweep) {
        assert_eq!(summary(&dir)["stop_reason"], "completed", "{}", dir.display());
    }
    assert!(sweep.join("slurm").join("task-3.log").exists());
}

#[test]
fn top_ranks_a_3x2_sweeps_variants_live() {
    if !common::served::terminals_ready() {
        return;
    }
    let place = common::served::Place::new();
    let cfg = config("deep-sigmoid.toml");
    let mut sweep = place
        .bin()
        .args(["sweep", cfg.to_str().unwrap(), "--vary", BN, "--vary", "optimizer.lr=0.05,0.1,0.2", "--seeds", "2"])
        .args(["--jobs", "2", "--set", "run.epochs=400", "--out", place.out().to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let term = common::tmux::Tmux::start(100, 30, &format!("{}; sleep 60", place.shell("top")));
    let screen = term.wait_until("the sweep's leaderboard, live", std::time::Duration::from_secs(60), |s| {
        s.contains("ranked by val_acc") && s.contains("live)") && s.contains("helped")
    });
    let ranks: Vec<&str> = screen
        .lines()
        .filter(|l| {
            l.starts_with("│") && l[3..].trim_start().starts_with(char::is_numeric) && l.contains("batch_norm.enabled=")
        })
        .collect();
    assert_eq!(ranks.len(), 6, "six variants ranked:\n{screen}");
    assert!(ranks[0].contains("batch_norm.enabled=true"), "batch norm leads:\n{screen}");
    assert!(screen.contains("batch_norm.enabled true vs false: +0."), "{screen}");
    assert!(screen.contains("-seed4"), "runs named by their task:\n{screen}");
    term.send_keys(&["q"]);
    let _ = sweep.kill();
    let _ = sweep.wait();
}

#[test]
fn a_sweep_table_in_the_config_gives_the_grid_and_gpus_are_shared_per_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(config("deep-sigmoid.toml")).unwrap();
    let data = common::cli::repo().join("data").join("digits.csv");
    let text = text.replace("../data/digits.csv", data.to_str().unwrap()).replace("epochs = 20", "epochs = 3");
    let table = "\n[sweep]\nseeds = 2\nvary = { \"technique.batch_norm.enabled\" = [false, true] }\n";
    let cfg = dir.path().join("sweep.toml");
    std::fs::write(&cfg, format!("{text}{table}")).unwrap();
    let out = dir.path().join("out");
    let ran = bin()
        .env("CUDA_VISIBLE_DEVICES", "0,1")
        .args(["sweep", cfg.to_str().unwrap(), "--per-gpu", "2", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(ran.status.success(), "{}{}", stdout(&ran), stderr(&ran));
    assert!(stdout(&ran).contains("4 runs: 2 variants x 2 seeds, 4 at once, 2 per GPU"), "{}", stdout(&ran));
    let sweep = sweep_dir(&stdout(&ran));
    assert_eq!(run_dirs(&sweep).len(), 4);

    std::fs::write(&cfg, format!("{text}\n[sweep]\nseed = 2\n")).unwrap();
    let bad = run(&["sweep", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    let line = text.lines().count() + 3;
    assert!(
        stderr(&bad).contains(&format!("sweep.toml:{line}:")) && stderr(&bad).contains("unknown field `seed`"),
        "{}",
        stderr(&bad)
    );
}
