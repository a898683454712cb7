//! Each technique's effect on a real run, end to end through the binary.

mod common;

use common::cli::{sets, summary, train};
use traintop::train::checkpoint;

fn val_acc(config: &str, extra: &[&str]) -> f64 {
    let (_t, dir, _) = train(config, extra);
    summary(&dir)["final_val_acc"].as_f64().unwrap()
}

#[test]
fn batch_norm_rescues_the_deep_sigmoid_net() {
    let without = val_acc("deep-sigmoid.toml", &[]);
    assert!(without < 0.5, "without batch norm: {without}");
    let with = val_acc("deep-sigmoid.toml", &["--set", "technique.batch_norm.enabled=true"]);
    assert!(with >= 0.9, "with batch norm: {with}");
}

#[test]
fn input_normalization_lifts_wine() {
    let with = val_acc("wine.toml", &[]);
    assert!(with >= 0.95, "with input_norm: {with}");
    let without = val_acc("wine.toml", &["--set", "technique.input_norm.enabled=false"]);
    assert!(without < with - 0.1, "without input_norm: {without}, with: {with}");
}

#[test]
fn early_stopping_ends_an_overfitting_run_at_the_best_epoch() {
    let (_t, dir, _) = train("early-stopping.toml", &[]);
    let s = summary(&dir);
    assert_eq!(s["stop_reason"], "early_stopping");
    let epochs = s["epochs_run"].as_u64().unwrap();
    assert!(epochs < 300, "ran all {epochs} epochs");
    // The best checkpoint is the epoch with the lowest validation loss.
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let epochs: Vec<(u64, f64)> = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "epoch")
        .map(|v| (v["epoch"].as_u64().unwrap(), v["val_loss"].as_f64().unwrap()))
        .collect();
    let best = epochs.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert_eq!(s["best_epoch"].as_u64(), Some(best.0));
    let saved = checkpoint::load(&dir.join("checkpoints/best.safetensors")).unwrap();
    assert_eq!(saved.position.best_epoch, Some(best.0 as usize));
    assert_eq!(saved.position.epoch, best.0 as usize, "best was written at its own epoch");
    // The run ends with the best weights restored: its final validation loss is the best one.
    let final_loss = s["final_val_loss"].as_f64().unwrap();
    assert!((final_loss - best.1).abs() < 1e-5, "final {final_loss} vs best {}", best.1);
    // Without early stopping the same run goes on to the end.
    let (_t2, dir2, _) =
        train("early-stopping.toml", &["--set", "technique.early_stopping.enabled=false", "--set", "run.epochs=40"]);
    assert_eq!(summary(&dir2)["epochs_run"], 40);
}

#[test]
fn dropout_with_batch_norm_on_the_same_layer_is_warned_about() {
    let both = ["run.epochs=1", "technique.batch_norm.enabled=true", "technique.dropout.enabled=true"];
    let (_t, dir, out) = train("deep-sigmoid.toml", &sets(&both));
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    assert!(events.contains("dropout and batch_norm are both on"), "{events}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("dropout and batch_norm"));
    // Different layers: no warning.
    let apart = [&both[..], &["technique.batch_norm.layers=[0, 1]", "technique.dropout.layers=[5]"]].concat();
    let (_t, dir, _) = train("deep-sigmoid.toml", &sets(&apart));
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    assert!(!events.contains("dropout and batch_norm are both on"), "{events}");
}
