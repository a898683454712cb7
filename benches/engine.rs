//! `cargo bench`: training-step throughput of the CPU engine for a few MLP
//! sizes and each optimizer, and the time a graph rebuild (a technique toggle)
//! takes. Prints figures; compares nothing (see cpu_vs_pytorch.sh for that).

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use traintop::cli::bench::{run, BenchOptions};
use traintop::engine::{Activation, Backend, MlpSpec, NoHooks, Objective, Optimizer, Session};

fn main() {
    let adam = Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    println!("{:<22} {:>6} {:<10} {:>12} {:>10}", "layers", "batch", "optimizer", "samples/s", "ms/step");
    for (layers, batch) in [(vec![64, 64, 64, 10], 32), (vec![784, 256, 10], 128), (vec![784, 1024, 1024, 10], 256)] {
        for (name, optimizer) in
            [("sgd", Optimizer::Sgd), ("momentum", Optimizer::Momentum { momentum: 0.9 }), ("adam", adam)]
        {
            let steps = if layers[1] > 512 { 30 } else { 200 };
            let r = run(&BenchOptions {
                layers: layers.clone(),
                batch,
                steps,
                warmup: 5,
                optimizer,
                backend: Backend::Cpu,
                seed: 1,
            })
            .expect("bench runs");
            let label = layers.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("-");
            println!("{label:<22} {batch:>6} {name:<10} {:>12.0} {:>10.3}", r.samples_per_sec, r.ms_per_step);
        }
    }
    // A toggle's cost: rebuilding and compiling both graphs of a deep net.
    let spec = MlpSpec {
        inputs: 64,
        hidden: vec![64; 8],
        outputs: 10,
        activation: Activation::Sigmoid,
        objective: Objective::Classification,
    };
    let mut session = Session::new(spec, adam, Backend::Cpu, &mut NoHooks, &mut ChaCha8Rng::seed_from_u64(1));
    let start = Instant::now();
    let n = 20;
    for _ in 0..n {
        session.rebuild(&mut NoHooks);
    }
    println!("graph rebuild (8 x 64 sigmoid, Adam): {:.2} ms", start.elapsed().as_secs_f64() * 1e3 / n as f64);
}
