use traintop::cli::bench::{run, BenchOptions};
use traintop::engine::{Backend, Optimizer};
fn main() {
    let opt = match std::env::args().nth(1).as_deref() { Some("adam") => Optimizer::Adam{beta1:0.9,beta2:0.999,eps:1e-8}, Some("mom") => Optimizer::Momentum{momentum:0.9}, _ => Optimizer::Sgd };
    let r = run(&BenchOptions { layers: vec![784, 256, 10], batch: 128, steps: 300, warmup: 20, optimizer: opt, backend: Backend::Cpu, seed: 1 }).unwrap();
    println!("{}", serde_json::to_string(&r).unwrap());
}
