//! The CUDA path through luminal_cuda, on whatever CUDA driver, NVRTC and
//! cuBLAS the loader finds: a GPU's, or (CI, `scripts/cuda-compile-check.sh`)
//! tests/fake_cuda's test driver, which compiles every kernel with NVIDIA's
//! real NVRTC and runs luminal_cuda's CUDA C on the CPU. On the test driver
//! this tests the CUDA graph, our bindings, the kernels' launch arguments and
//! index arithmetic; only a GPU tests the GPU.
//!
//! Built with `--features cuda` only (scripts/cuda-compile-check.sh,
//! scripts/gpu-bundle.sh); without the feature this file is empty.
#![cfg(feature = "cuda")]

mod common;

use common::twin::{self, Case};
use traintop::engine::Backend;

/// The matrix (every activation, objective, optimizer and technique plugin)
/// and every shipped config, `config_overrides` applied to the configs.
fn cases(config_overrides: &[&str]) -> Vec<Case> {
    twin::matrix().into_iter().chain(twin::shipped_configs(config_overrides)).collect()
}

/// Every program of every case compiles: luminal_cuda's passes run to the end,
/// no luminal CPU primitive is left, each matmul is one cuBLAS GEMM (not an
/// `[m, n, k]` product), every value the host reads back sits on a copy node
/// (the program refuses to compile otherwise), and no tensor reaches 2^31
/// elements (the kernels index with `int`) at the config's batch size.
#[test]
fn every_program_compiles_for_cuda() {
    let mut problems = vec![];
    for case in cases(&[]) {
        for (program, r) in twin::compile(&case, Backend::Cuda) {
            let mut say = |what: String| problems.push(format!("{} ({program}): {what}", case.name));
            if let Some(failed) = &r.failed {
                say(format!("does not compile: {failed}"));
                continue;
            }
            if !r.primitives.is_empty() {
                say(format!("luminal CPU primitives left: {:?}", r.primitives));
            }
            if r.gemms != r.matmuls {
                say(format!("{} GEMMs for {} matmuls; ops: {:?}", r.gemms, r.matmuls, r.ops));
            }
            if r.largest_tensor >= 1 << 31 {
                say(format!("a tensor of {} elements (int indexing overflows)", r.largest_tensor));
            }
            eprintln!(
                "{} ({program}): {} ops, {} GEMMs, largest tensor {}",
                case.name,
                r.ops.values().sum::<usize>(),
                r.gemms,
                r.largest_tensor
            );
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// A few steps of every case on CUDA compute what luminal's reference ops
/// compute: losses, objectives, accuracy counts, gradient norms, saturation,
/// technique metrics, every state, and the eval loss and predictions, to 1e-5
/// relative.
#[test]
fn cuda_trains_like_the_reference() {
    let steps: usize = std::env::var("TRAINTOP_CUDA_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    for case in cases(&["run.batch_size=4"]) {
        let reference = twin::train(&case, Backend::Reference, steps);
        let cuda = twin::train(&case, Backend::Cuda, steps);
        twin::assert_same(&case.name, &reference, &cuda, 1e-5);
        let (train, eval) = cuda.transfers;
        eprintln!(
            "{}: same as the reference over {steps} steps; bytes per train step {} in, {} out; eval {} in, {} out",
            case.name,
            train.to_device_bytes / train.runs.max(1),
            train.to_host_bytes / train.runs.max(1),
            eval.to_device_bytes,
            eval.to_host_bytes
        );
    }
}

/// Per-step losses of a run folder's metrics.jsonl.
fn step_losses(dir: &std::path::Path) -> Vec<f64> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["event"] == "step")
        .map(|r| r["loss"].as_f64().unwrap())
        .collect()
}

/// As a user runs it: `traintop run` with `run.device = "cuda"` trains 64
/// steps, checkpoints and finishes as the same run on the CPU does (each
/// step's loss within 1e-3 relative: the CPU backend sums in another order),
/// and `traintop evaluate` reads the CUDA run's folder.
#[test]
fn traintop_run_on_cuda_follows_the_cpu_run() {
    use common::cli;
    let args = |device: &'static str| {
        cli::sets(&["run.epochs=8", "run.log_every=1", "run.checkpoint_secs=0", device]).into_iter().collect::<Vec<_>>()
    };
    let (_cpu_out, cpu, _) = cli::train("iris.toml", &args("run.device=cpu"));
    let (_cuda_out, cuda, _) = cli::train("iris.toml", &args("run.device=cuda"));
    assert_eq!(cli::summary(&cuda)["device"], "cuda");
    let (a, b) = (step_losses(&cpu), step_losses(&cuda));
    assert!(a.len() >= 60 && a.len() == b.len(), "{} and {} steps", a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= 1e-3 * x.abs().max(1e-3), "step {i}: loss {x} on the CPU, {y} on CUDA");
    }
    let eval = cli::run(&["evaluate", cuda.to_str().unwrap(), "--json"]);
    assert!(eval.status.success(), "evaluate: {}", cli::stderr(&eval));
    let scored: serde_json::Value = serde_json::from_str(&cli::stdout(&eval)).unwrap();
    let (loss, last) = (scored["loss"].as_f64().unwrap(), cli::summary(&cuda)["final_val_loss"].as_f64().unwrap());
    assert!((loss - last).abs() <= 1e-4 * last, "evaluate scores {loss}, the run ended at {last}");
}
