//! The run folder's files under faults (README "Run folders"): their modes
//! whatever the umask, temporary files that no planted symlink can redirect,
//! logs of whole lines that never lag behind the checkpoint covering them,
//! a torn last line cut off before a resume appends, and a disk that fills
//! during a checkpoint write.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use common::cli::{bin, repo, run, run_dir, stderr, stdout, summary};
use traintop::config::{ConfigSource, RunConfig};
use traintop::data::{self, split};
use traintop::protocol::RunEvent;
use traintop::train::checkpoint;
use traintop::train::run_dir::RunDir;
use traintop::train::trainer::Channels;
use traintop::train::Trainer;

/// A small, fast run: xor, no plugins.
const XOR: &str = "[run]\nname = \"files\"\nepochs = 2\nbatch_size = 16\nlog_every = 1\ncheckpoint_secs = 0\n\
                   [data]\npath = \"synthetic:xor\"\nsamples = 160\nvalidation = 0.2\n[model]\nhidden = [8]\n";

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("run.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `traintop ARGS` through a shell with umask 022 (the common default, which
/// would leave files world-readable).
fn run_with_umask(args: &[&str]) -> std::process::Output {
    let bin_path = bin().get_program().to_owned();
    let mut c = Command::new("sh");
    c.arg("-c").arg("umask 022; exec \"$@\"").arg("sh").arg(bin_path).args(args);
    c.env_remove("TRAINTOP_PLUGIN_PATH").env("NO_COLOR", "1");
    c.output().unwrap()
}

/// Every entry under `dir` with its permission bits.
fn modes(dir: &Path, out: &mut Vec<(PathBuf, u32, bool)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        out.push((path.clone(), meta.mode() & 0o7777, meta.is_dir()));
        if meta.is_dir() {
            modes(&path, out);
        }
    }
}

fn check_modes(shared: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), XOR);
    let out = tmp.path().join("runs");
    let mut args = vec!["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", out.to_str().unwrap()];
    if shared {
        args.extend(["--set", "run.shared_group=true"]);
    }
    let o = run_with_umask(&args);
    assert!(o.status.success(), "{}\n{}", stderr(&o), stdout(&o));
    let dir = run_dir(&out);
    // A resume appends to the logs and rewrites the checkpoints: same modes.
    let o = run_with_umask(&["resume", dir.to_str().unwrap(), "--headless", "--quiet", "--set", "run.epochs=3"]);
    assert!(o.status.success(), "{}\n{}", stderr(&o), stdout(&o));
    let (dir_mode, file_mode) = if shared { (0o750, 0o640) } else { (0o700, 0o600) };
    let folder = std::fs::metadata(&dir).unwrap().mode() & 0o7777;
    assert_eq!(folder, dir_mode, "{}: {folder:o}", dir.display());
    let mut all = vec![];
    modes(&dir, &mut all);
    assert!(all.iter().any(|(p, _, _)| p.ends_with("checkpoints/last.safetensors")), "{all:?}");
    for (path, mode, is_dir) in all {
        let want = if is_dir { dir_mode } else { file_mode };
        assert_eq!(mode, want, "{}: mode {mode:o}, expected {want:o}", path.display());
    }
}

#[test]
fn run_folders_are_private_whatever_the_umask() {
    check_modes(false);
}

#[test]
fn shared_group_lets_the_group_read() {
    check_modes(true);
}

/// The folder of a finished headless run of the XOR config under `tmp`.
fn trained_xor(tmp: &Path) -> PathBuf {
    let cfg = write_config(tmp, XOR);
    let out = tmp.join("runs");
    let o = run(&["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}\n{}", stderr(&o), stdout(&o));
    run_dir(&out)
}

#[test]
fn a_planted_symlink_at_a_temporary_name_redirects_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = trained_xor(tmp.path());
    // Where the old fixed temporary names were: a symlink to a file outside.
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let planted = [
        dir.join("checkpoints/.last.safetensors.tmp"),
        dir.join("checkpoints/.best.safetensors.tmp"),
        dir.join(".summary.json.tmp"),
        dir.join("checkpoints/last.safetensors.tmp"),
    ];
    for link in &planted {
        std::os::unix::fs::symlink(&victim, link).unwrap();
    }
    let o = run(&["resume", dir.to_str().unwrap(), "--headless", "--quiet", "--set", "run.epochs=3"]);
    assert!(o.status.success(), "{}\n{}", stderr(&o), stdout(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious", "the file outside was written through");
    for name in ["checkpoints/last.safetensors", "checkpoints/best.safetensors", "summary.json"] {
        let meta = std::fs::symlink_metadata(dir.join(name)).unwrap();
        assert!(meta.file_type().is_file(), "{name} is not a plain file");
    }
    assert_eq!(checkpoint::load(&dir.join("checkpoints/last.safetensors")).unwrap().position.epoch, 3);
}

/// Every line of a log parses as JSON, and the file ends with a newline.
fn whole_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "{}: the last line is torn", path.display());
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {l:?}: {e}", path.display()))).collect()
}

#[test]
fn a_resume_cuts_off_a_torn_last_line_before_appending() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = trained_xor(tmp.path());
    // What a crash in the middle of a write leaves: half a record, no newline.
    for log in ["metrics.jsonl", "events.jsonl"] {
        let mut text = std::fs::read_to_string(dir.join(log)).unwrap();
        text.push_str("{\"time\": 1.5, \"event\": \"st");
        std::fs::write(dir.join(log), text).unwrap();
    }
    let o = run(&["resume", dir.to_str().unwrap(), "--headless", "--quiet", "--set", "run.epochs=4"]);
    assert!(o.status.success(), "{}\n{}", stderr(&o), stdout(&o));
    let metrics = whole_lines(&dir.join("metrics.jsonl"));
    let events = whole_lines(&dir.join("events.jsonl"));
    assert!(metrics.iter().any(|r| r["event"] == "epoch" && r["epoch"] == 4), "the resume's records are there");
    let said = events.iter().any(|r| r["event"] == "log" && r["message"].as_str().unwrap_or("").contains("torn"));
    assert!(said, "the resume says what it cut off: {events:?}");
}

/// Step numbers and epoch records in `metrics.jsonl` as it is on disk now.
fn on_disk(dir: &Path) -> (Vec<u64>, usize) {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap_or_default();
    let records: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let steps = records.iter().filter(|r| r["event"] == "step").filter_map(|r| r["step"].as_u64()).collect();
    (steps, records.iter().filter(|r| r["event"] == "epoch").count())
}

#[test]
fn metrics_reach_the_disk_before_the_checkpoint_that_covers_them() {
    // In process, so the check runs at every event the trainer reports,
    // synchronously, at whatever point a kill -9 could have come.
    let overrides = vec!["run.epochs=4".to_string()];
    let cfg = RunConfig::from_str(XOR, ConfigSource::embedded(repo().join("configs")), &overrides).unwrap();
    let full = data::load(&cfg.data_spec()).unwrap();
    let s = split(&full, cfg.data.validation, cfg.run.seed);
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = RunDir::create(tmp.path(), "order", &cfg.to_toml_string()).unwrap();
    let dir = run_dir.path.clone();
    let (plugins, _) = traintop::plugin::setup(&cfg).unwrap();
    let mut trainer = Trainer::new(cfg, s.train, s.validation, run_dir, plugins, None);
    let mut checked = 0;
    let mut on_event = |_: RunEvent| {
        let last = dir.join("checkpoints/last.safetensors");
        if !last.exists() {
            return;
        }
        let position = checkpoint::load(&last).unwrap().position;
        let (steps, epochs) = on_disk(&dir);
        for step in 1..=position.step {
            assert!(steps.contains(&step), "checkpoint at step {} but step {step} is not on disk", position.step);
        }
        assert!(epochs >= position.epoch, "checkpoint after epoch {} but {epochs} epoch records", position.epoch);
        checked += 1;
    };
    let mut ch = Channels { events: &mut on_event, commands: None, stop: Arc::new(AtomicBool::new(false)) };
    trainer.run(&mut ch).unwrap();
    assert!(checked > 0, "a checkpoint was seen");
}

/// A tmpfs of `bytes` at `dir`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, bytes: u64) -> Result<Self, String> {
        std::fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes},mode=0700"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if o.status.success() {
            Ok(Tmpfs(dir.to_path_buf()))
        } else {
            Err(format!("mount -t tmpfs: {}", String::from_utf8_lossy(&o.stderr).trim()))
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_disk_that_fills_during_a_checkpoint_keeps_the_last_one_and_says_why() {
    // Big enough tensors that a second checkpoint cannot fit beside the first.
    let text = "[run]\nname = \"full\"\nepochs = 3\nbatch_size = 50\nlog_every = 1000\ncheckpoint_secs = 0\n\
                [data]\npath = \"synthetic:blobs\"\nsamples = 100\nvalidation = 0\n[model]\nhidden = [400, 400]\n";
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), text);
    // The size of one checkpoint, from a run on a roomy disk.
    let roomy = tmp.path().join("roomy");
    let o = run(&["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--set", "run.epochs=1", "--out"]
        .into_iter()
        .chain([roomy.to_str().unwrap()])
        .collect::<Vec<_>>());
    assert!(o.status.success(), "{}\n{}", stderr(&o), stdout(&o));
    let size = std::fs::metadata(run_dir(&roomy).join("checkpoints/last.safetensors")).unwrap().len();
    let full = tmp.path().join("full");
    let _mount = match Tmpfs::mount(&full, size + size / 2 + (256 << 10)) {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED: no tmpfs to fill ({why}); run as root where mounting is allowed");
            return;
        }
    };
    let o = run(&["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", full.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "a run-time failure: {}\n{}", stderr(&o), stdout(&o));
    assert!(stderr(&o).contains("No space left"), "{}", stderr(&o));
    let dir = run_dir(&full);
    // The previous `last` (epoch 1) is intact and nothing temporary is left.
    let last = checkpoint::load(&dir.join("checkpoints/last.safetensors")).unwrap();
    assert_eq!(last.position.epoch, 1);
    let left: Vec<_> = std::fs::read_dir(dir.join("checkpoints")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("last.safetensors")], "temporary files left behind");
    let s = summary(&dir);
    assert_eq!(s["stop_reason"], "error");
    let error = s["error"].as_str().unwrap_or("");
    assert!(error.contains("checkpoints/last.safetensors") && error.contains("No space left"), "{s}");
    assert_eq!(error.matches("No space left").count(), 1, "the cause, said once: {error}");
    whole_lines(&dir.join("metrics.jsonl"));
    whole_lines(&dir.join("events.jsonl"));
}
