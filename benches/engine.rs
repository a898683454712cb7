//! `cargo bench`: training-step throughput of the CPU engine for a few MLP
//! sizes and each optimizer, and the time a graph rebuild (a technique toggle)
//! takes. Prints figures; compares nothing (see cpu_vs_pytorch.sh for that).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use traintop::cli::bench::{run, BenchOptions};
use traintop::engine::{Activation, Backend, MlpSpec, Objective, Optimizer, Session};
use traintop::plugin::{loader, PluginHost};

/// `cargo bench --bench engine -- NAME` runs only the sections whose name
/// contains NAME (`throughput`, `toggle`).
fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if wanted("throughput") {
        throughput();
    }
    if wanted("toggle") {
        toggle_costs();
    }
}

/// Training-step throughput per model size and optimizer.
fn throughput() {
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
                activation: Activation::Relu,
                roofline: false,
            })
            .expect("bench runs");
            let label = layers.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("-");
            println!("{label:<22} {batch:>6} {name:<10} {:>12.0} {:>10.3}", r.samples_per_sec, r.ms_per_step);
        }
    }
}

/// A technique toggle's cost on configs/deep-sigmoid.toml's model (8 x 64
/// sigmoid, SGD): switching batch norm on the first time (building and
/// compiling all three programs), then off and on again (programs seen before).
fn toggle_costs() {
    let spec = MlpSpec {
        inputs: 64,
        hidden: vec![64; 8],
        outputs: 10,
        activation: Activation::Sigmoid,
        objective: Objective::Classification,
    };
    let file = format!("{}traintop_plugin_batch_norm{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let exe = std::env::current_exe().expect("bench path");
    let dir = exe.parent().expect("bench folder");
    let Some(path) = [dir.join(&file), dir.join("..").join(&file)].into_iter().find(|p| p.exists()) else {
        println!("batch norm toggle: {file} not built next to the bench (cargo build --release), skipped");
        return;
    };
    let lib = loader::load(&path).expect("batch norm plugin loads");
    let mut host = PluginHost::new(vec![lib], &["batch_norm".to_string()], 42);
    host.set_layers(spec.layer_count());
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut session = Session::new(spec, Optimizer::Sgd, Backend::Cpu, &mut host, &mut rng);
    let mut toggle = |on: bool| {
        host.set_enabled("batch_norm", on, &mut session.store).expect("batch norm toggles");
        session.rebuild(&mut host);
        (session.build_time.as_secs_f64() * 1e3, session.reused_programs)
    };
    let (first, _) = toggle(true);
    let mut again = vec![];
    let mut reused = 0;
    for _ in 0..10 {
        for on in [false, true] {
            let (ms, hits) = toggle(on);
            again.push(ms);
            reused += hits;
        }
    }
    again.sort_by(f64::total_cmp);
    println!(
        "batch norm toggle (8 x 64 sigmoid, SGD): first on {first:.2} ms; toggled back and forth {} times: \
         median {:.2} ms (max {:.2}), {reused} of {} programs from the cache",
        again.len(),
        again[again.len() / 2],
        again[again.len() - 1],
        3 * again.len()
    );
}
