//! A live fork's two branches are exact continuations: branch A (this run,
//! with the change) equals the run stopped at the fork step and resumed with
//! the change, branch B (its own folder) the same run resumed without it,
//! to 1e-6. Driven through the trainer's command channel, the way the
//! dashboard's `f` and `A` reach it.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;

use traintop::config::RunConfig;
use traintop::protocol::{ClientId, ForkBranch, Request, RunCommand, RunEvent, StopReason};
use traintop::train::checkpoint;
use traintop::train::trainer::Channels;
use traintop::train::{prepare, Launch, Prepared};

const FORK_AT: u64 = 50;
const KEEP_AT: u64 = 100;

fn config() -> RunConfig {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sets = ["run.epochs=3", "run.log_every=1", "technique.dropout.rate=0.2", "technique.batch_norm.enabled=false"]
        .map(String::from);
    RunConfig::from_file(&root.join("configs/digits.toml"), &sets).unwrap()
}

/// Trains `prepared` to its end; `on_step` may send commands at each logged step.
fn drive(prepared: Prepared, mut on_step: impl FnMut(u64, &Sender<Request>)) -> (StopReason, Vec<RunEvent>) {
    let (tx, rx) = channel();
    let mut seen = Vec::new();
    let mut on_event = |e: RunEvent| {
        if let RunEvent::Step(r) = &e {
            on_step(r.step, &tx);
        }
        seen.push(e);
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut ch = Channels { events: &mut on_event, commands: Some(rx), stop };
    let summary = prepared.into_trainer().run(&mut ch).unwrap();
    (summary.stop_reason, seen)
}

fn send(tx: &Sender<Request>, command: RunCommand) {
    tx.send(Request::new(ClientId::Script { name: "test".into() }, command)).unwrap();
}

fn new_run(out: &Path) -> Prepared {
    prepare(Launch::New { config: Box::new(config()), out_dir: out.to_path_buf() }, &mut |_| {}).unwrap()
}

fn resume(dir: &Path, sets: &[&str]) -> Prepared {
    let overrides = sets.iter().map(|s| s.to_string()).collect();
    prepare(Launch::Resume { dir: dir.to_path_buf(), overrides, trust: Default::default() }, &mut |_| {}).unwrap()
}

fn last(dir: &Path) -> checkpoint::Loaded {
    checkpoint::load(&dir.join("checkpoints/last.safetensors")).unwrap()
}

fn assert_same(a: &Path, b: &Path) {
    let (x, y) = (last(a), last(b));
    assert_eq!(x.position.step, y.position.step);
    let mut xs = x.states;
    let mut ys = y.states;
    xs.sort_by(|p, q| p.0.cmp(&q.0));
    ys.sort_by(|p, q| p.0.cmp(&q.0));
    assert_eq!(xs.iter().map(|s| &s.0).collect::<Vec<_>>(), ys.iter().map(|s| &s.0).collect::<Vec<_>>());
    for ((name, _, u), (_, _, v)) in xs.iter().zip(&ys) {
        for (i, (p, q)) in u.iter().zip(v).enumerate() {
            assert!((p - q).abs() <= 1e-6 * p.abs().max(1.0), "{name}[{i}]: {p} vs {q}");
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest)
        } else {
            std::fs::copy(&path, &dest).map(|_| ()).unwrap()
        }
    }
}

fn only_dir(out: &Path, except: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p != except && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// Dropout (no state of its own, draws masks) and batch norm (state that
/// starts fresh when it is switched on).
#[test]
fn both_branches_of_a_live_fork_equal_stop_and_resume_with_and_without_the_change() {
    for technique in ["dropout", "batch_norm"] {
        forked_at(technique);
    }
}

fn forked_at(technique: &str) {
    let tmp = tempfile::tempdir().unwrap();
    // The live run: fork at FORK_AT (dropout on in A), keep A at KEEP_AT.
    let live_out = tmp.path().join("live");
    let live = new_run(&live_out);
    let parent = live.run_dir.path.clone();
    let (reason, events) = drive(live, |step, tx| match step {
        FORK_AT => send(tx, RunCommand::Fork { technique: technique.into(), enabled: true }),
        KEEP_AT => send(tx, RunCommand::Keep { branch: ForkBranch::A }),
        _ => {}
    });
    assert_eq!(reason, StopReason::Completed, "{technique}");
    let branch_b = only_dir(&live_out, &parent);
    let started = events.iter().find_map(|e| match e {
        RunEvent::ForkStarted { step, branch_dir, .. } => Some((*step, branch_dir.clone())),
        _ => None,
    });
    assert_eq!(started, Some((FORK_AT, branch_b.display().to_string())));
    let b_steps =
        events.iter().filter(|e| matches!(e, RunEvent::Branch { record } if matches!(**record, RunEvent::Step(_))));
    assert_eq!(b_steps.count() as u64, KEEP_AT - FORK_AT, "B trained in step with A until the keep");
    assert!(events.iter().any(|e| matches!(e, RunEvent::ForkEnded { step: KEEP_AT, kept: ForkBranch::A, .. })));
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(branch_b.join("fork.json")).unwrap()).unwrap();
    assert_eq!(info["step"], FORK_AT);
    assert_eq!(last(&branch_b).position.step, KEEP_AT, "B's folder has its checkpoint at the keep");

    // The reference: the same run stopped at FORK_AT, then resumed twice.
    let ref_out = tmp.path().join("ref");
    let stopped = new_run(&ref_out);
    let with_change = stopped.run_dir.path.clone();
    let (reason, _) = drive(stopped, |step, tx| {
        if step == FORK_AT {
            send(tx, RunCommand::Stop)
        }
    });
    assert_eq!((reason, last(&with_change).position.step), (StopReason::User, FORK_AT));
    let without = tmp.path().join("without");
    copy_dir(&with_change, &without);
    drive(resume(&with_change, &[&format!("technique.{technique}.enabled=true")]), |_, _| {});
    drive(resume(&without, &[]), |step, tx| {
        if step == KEEP_AT {
            send(tx, RunCommand::Stop)
        }
    });
    assert_same(&parent, &with_change);
    assert_same(&branch_b, &without);
}

/// Keeping B: this run takes B's state and goes on without the change, so it
/// ends where the run resumed without the change ends; B's folder stops at
/// the keep.
#[test]
fn keeping_b_goes_on_from_bs_state() {
    let tmp = tempfile::tempdir().unwrap();
    let live_out = tmp.path().join("live");
    let live = new_run(&live_out);
    let parent = live.run_dir.path.clone();
    let (reason, events) = drive(live, |step, tx| match step {
        FORK_AT => send(tx, RunCommand::Fork { technique: "dropout".into(), enabled: true }),
        KEEP_AT => send(tx, RunCommand::Keep { branch: ForkBranch::B }),
        _ => {}
    });
    assert_eq!(reason, StopReason::Completed);
    assert!(events.iter().any(|e| matches!(e, RunEvent::ForkEnded { step: KEEP_AT, kept: ForkBranch::B, .. })));
    let branch_b = only_dir(&live_out, &parent);
    assert_eq!(last(&branch_b).position.step, KEEP_AT);

    let ref_out = tmp.path().join("ref");
    let stopped = new_run(&ref_out);
    let without = stopped.run_dir.path.clone();
    drive(stopped, |step, tx| {
        if step == FORK_AT {
            send(tx, RunCommand::Stop)
        }
    });
    drive(resume(&without, &[]), |_, _| {});
    assert_same(&parent, &without);
}
