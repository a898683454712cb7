//! The memory estimate before training honours the limits the process runs
//! under: a data file too big for `ulimit -v` (RLIMIT_AS) is refused with
//! exit 2, naming the limit and the estimate, instead of aborting in the
//! allocator (exit 134, no summary) part way through the load; a run that
//! fits trains as before under the same kind of limit.

mod common;

use std::path::Path;
use std::process::Output;

use common::cli::{config, run_dir, stderr, summary};

/// `sh -c 'ulimit -v KIB; exec traintop run digits.toml --headless ARGS'`.
fn run_limited(kib: u64, out: &Path, args: &[&str]) -> Output {
    let bin = std::env::var("TRAINTOP_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_traintop").to_string());
    let cfg = config("digits.toml");
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(bin)
        .args(["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", out.to_str().unwrap()])
        .args(args)
        .env_remove("TRAINTOP_PLUGIN_PATH")
        .output()
        .unwrap()
}

/// digits.csv's rows 150 times over: about 40 MB, 600 MB to load.
fn big_csv(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(common::cli::repo().join("data/digits.csv")).unwrap();
    let (header, rows) = text.split_once('\n').unwrap();
    let path = dir.join("big.csv");
    let mut body = String::with_capacity(rows.len() * 150 + header.len() + 1);
    body.push_str(header);
    body.push('\n');
    for _ in 0..150 {
        body.push_str(rows.trim_end());
        body.push('\n');
    }
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn data_that_cannot_fit_under_ulimit_v_is_refused_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = big_csv(tmp.path());
    let set = format!("data.path={:?}", csv.display().to_string());
    // 300 MiB of address space: room for traintop itself, not for the load.
    let o = run_limited(300 << 10, &tmp.path().join("out"), &["--set", &set, "--set", "run.epochs=1"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "refused, not aborted: {:?} {e}", o.status);
    for part in ["data.path", "CSV file", "needs about", "ulimit -v", "available"] {
        assert!(e.contains(part), "the message names {part}: {e}");
    }
}

#[test]
fn a_run_that_fits_trains_under_a_roomy_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_limited(2 << 20, &out, &["--set", "run.epochs=2"]);
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
    assert_eq!(summary(&run_dir(&out))["stop_reason"], "completed");
}
