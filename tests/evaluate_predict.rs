//! `traintop evaluate`, `predict` and `diff` on real run folders, and CSV
//! files a user brings: quoted fields, CRLF with a BOM, categorical columns.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{repo, run, run_dir, stderr, stdout, summary, train};
use traintop::config::RunConfig;
use traintop::data::{self, split};

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/csv").join(name)
}

/// Trains a fixture config headlessly; returns (folder guard, run folder).
fn train_fixture(name: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let cfg = fixture(name);
    let mut args = vec!["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", out.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{name}: {}\n{}", stderr(&o), stdout(&o));
    let dir = run_dir(out.path());
    (out, dir)
}

fn evaluate_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["evaluate"];
    all.extend_from_slice(args);
    all.push("--json");
    let o = run(&all);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn evaluate_on_the_validation_split_equals_the_runs_final_figures() {
    for (guard, dir) in [
        {
            let (g, d, _) = train("digits.toml", &[]);
            (g, d)
        },
        train_fixture("weather.toml", &[]),
    ] {
        let s = summary(&dir);
        let r = evaluate_json(&[dir.to_str().unwrap()]);
        // Same f32 figures, to the last bit (both are printed by serde).
        assert_eq!(r["loss"], s["final_val_loss"], "{}", dir.display());
        assert_eq!(r["accuracy"], s["final_val_acc"], "{}", dir.display());
        let confusion = &r["confusion"];
        let counts: Vec<Vec<u64>> = serde_json::from_value(confusion["counts"].clone()).unwrap();
        let total: u64 = counts.iter().flatten().sum();
        assert_eq!(total, r["rows"].as_u64().unwrap());
        let diagonal: u64 = (0..counts.len()).map(|c| counts[c][c]).sum();
        let acc = r["accuracy"].as_f64().unwrap();
        assert!((diagonal as f64 / total as f64 - acc).abs() < 1e-6, "argmax agrees with the graph's count");
        assert_eq!(confusion["precision"].as_array().unwrap().len(), counts.len());
        // The run counted the same matrix at its last epoch end, and one at
        // every epoch end (metrics.jsonl, which attach and view read too).
        let records: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|v: &serde_json::Value| v["event"] == "confusion")
            .collect();
        assert_eq!(records.len() as u64, s["epochs_run"].as_u64().unwrap(), "{}", dir.display());
        let last = records.last().unwrap();
        assert_eq!(serde_json::from_value::<Vec<Vec<u64>>>(last["counts"].clone()).unwrap(), counts);
        assert_eq!(last["classes"], r["classes"], "{}", dir.display());
        drop(guard);
    }
}

#[test]
fn evaluate_report_names_classes_and_checkpoint() {
    let (_g, dir) = train_fixture("weather.toml", &[]);
    let o = run(&["evaluate", dir.to_str().unwrap(), "--checkpoint", "best"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("checkpoints/best.safetensors"), "{text}");
    assert!(text.contains("confusion matrix (rows: true class, columns: predicted)"), "{text}");
    assert!(text.contains("class precision    recall   support"), "{text}");
    assert!(text.lines().any(|l| l.trim_start().starts_with("yes ")), "class names, not indices: {text}");
}

/// Writes the rows of `ds` as CSV with `columns` and the target named `target`.
fn write_rows(path: &Path, ds: &data::Dataset, target: &str) {
    let mut text = ds.encoding.columns.join(",") + "," + target + "\n";
    for i in 0..ds.len() {
        let row: Vec<String> = ds.row(i).iter().map(|v| v.to_string()).collect();
        text += &format!("{},{}\n", row.join(","), ds.targets[i]);
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn predict_on_the_training_rows_reproduces_the_training_accuracy() {
    // Few epochs, so the accuracy is not simply 1.
    let (_g, dir, _) = train("digits.toml", &["--set", "run.epochs=1", "--set", "model.hidden=[8]"]);
    let config = RunConfig::from_file(&dir.join("config.toml"), &[]).unwrap();
    let full = data::load(&config.data_spec()).unwrap();
    let train_rows = split(&full, config.data.validation, config.run.seed).train;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("train.csv");
    write_rows(&file, &train_rows, "label");

    let out = tmp.path().join("predictions.csv");
    let o = run(&["predict", dir.to_str().unwrap(), "--data", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("wrote {} predictions", train_rows.len())), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert_eq!(header, "prediction,p_0,p_1,p_2,p_3,p_4,p_5,p_6,p_7,p_8,p_9");
    let predicted: Vec<usize> = lines
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            let p: f32 = fields[1..].iter().map(|v| v.parse::<f32>().unwrap()).sum();
            assert!((p - 1.0).abs() < 1e-4, "probabilities sum to 1: {l}");
            fields[0].parse().unwrap()
        })
        .collect();
    assert_eq!(predicted.len(), train_rows.len());
    let correct = predicted.iter().zip(&train_rows.targets).filter(|(p, t)| **p as f32 == **t).count();
    let from_predictions = correct as f64 / train_rows.len() as f64;

    let on_split = evaluate_json(&[dir.to_str().unwrap(), "--split", "train"]);
    let on_file = evaluate_json(&[dir.to_str().unwrap(), "--data", file.to_str().unwrap()]);
    let graph_acc = on_split["accuracy"].as_f64().unwrap();
    assert!(graph_acc < 0.999 && graph_acc > 0.2, "a partly trained model: {graph_acc}");
    assert!((from_predictions - graph_acc).abs() < 1e-6, "predict {from_predictions} vs evaluate {graph_acc}");
    assert_eq!(on_file["accuracy"], on_split["accuracy"]);
    assert_eq!(on_file["loss"], on_split["loss"]);
}

#[test]
fn a_file_with_other_columns_is_refused_naming_them() {
    let (_g, dir) = train_fixture("weather.toml", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let check = |text: &str, args: &[&str], want: &str| {
        let file = tmp.path().join("new.csv");
        std::fs::write(&file, text).unwrap();
        let mut all = vec![args[0], dir.to_str().unwrap(), "--data", file.to_str().unwrap()];
        all.extend_from_slice(&args[1..]);
        let o = run(&all);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(want), "wanted {want:?} in {}", stderr(&o));
    };
    check(
        "outlook,temperature,windy,play\nsunny,20,no,yes\n",
        &["evaluate"],
        "new.csv: missing column humidity; the model was trained on outlook, temperature, humidity, windy",
    );
    check(
        "outlook,temperature,humidity,windy,station,play\nsunny,20,50,no,x,yes\n",
        &["evaluate"],
        "new.csv: extra column station; the model was trained on",
    );
    check("outlook,temperature,humidity,windy\nsunny,20,50,no\n", &["evaluate"], "missing the target column \"play\"");
    check(
        "outlook,temperature,humidity,windy\nfoggy,20,50,no\n",
        &["predict", "--out", "/dev/null"],
        "new.csv:2: column outlook: \"foggy\" is not a category the model was trained with (\"overcast\", \"rainy\", \"sunny\")",
    );
}

#[test]
fn predict_without_targets_writes_class_names_in_any_column_order() {
    let (_g, dir) = train_fixture("weather.toml", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("days.csv");
    std::fs::write(&file, "windy,humidity,temperature,outlook\nno,50,20,overcast\r\nyes,95,10,rainy\r\n").unwrap();
    let o = run(&["predict", dir.to_str().unwrap(), "--data", file.to_str().unwrap(), "--out", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "prediction,p_no,p_yes");
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].starts_with("yes,"), "overcast days are play days: {text}");
    assert!(lines[2].starts_with("no,"), "rainy and windy: {text}");
}

#[test]
fn regression_runs_report_mse_and_mae() {
    let (_g, dir, _) = train(
        "iris.toml",
        &["--set", "data.path=synthetic:sine", "--set", "run.epochs=3", "--set", "data.samples=200"],
    );
    let r = evaluate_json(&[dir.to_str().unwrap()]);
    let s = summary(&dir);
    assert_eq!(r["loss"], s["final_val_loss"]);
    let (mse, mae) = (r["mse"].as_f64().unwrap(), r["mae"].as_f64().unwrap());
    let loss = r["loss"].as_f64().unwrap();
    assert!((mse - loss).abs() <= 1e-5 * loss.max(1.0), "host MSE {mse} vs graph loss {loss}");
    assert!(mae > 0.0 && mae * mae <= mse + 1e-9, "MAE^2 <= MSE: {mae} {mse}");
    assert!(r.get("confusion").is_none());
}

#[test]
fn csv_fixtures_quoted_crlf_bom_and_categorical_train() {
    let (_g, dir) = train_fixture("quoted.toml", &[]);
    let encoding: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("encoding.json")).unwrap()).unwrap();
    assert_eq!(encoding["columns"], serde_json::json!(["station", "temperature, C", "pressure"]));
    assert_eq!(
        encoding["categories"]["station"],
        serde_json::json!(["Bergen \"Florida\"", "Kirkenes, Ost", "Oslo, Blindern", "Tromsø"])
    );
    let (_g, dir) = train_fixture("crlf_bom.toml", &[]);
    let encoding: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("encoding.json")).unwrap()).unwrap();
    assert_eq!(encoding["columns"], serde_json::json!(["x1", "x2"]), "no BOM in the first column's name");
    let (_g, dir) = train_fixture("weather.toml", &[]);
    let encoding: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("encoding.json")).unwrap()).unwrap();
    assert_eq!(encoding["categories"]["play"], serde_json::json!(["no", "yes"]));
    assert!(summary(&dir)["final_val_acc"].as_f64().unwrap() > 0.85, "the weather rule is learnable");

    let cfg = fixture("text_feature.toml");
    let o = run(&[
        "run",
        cfg.to_str().unwrap(),
        "--headless",
        "--out",
        tempfile::tempdir().unwrap().path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "text_feature.csv:3: column city: expected a number, got \"Paris\" (list the column in data.categorical to one-hot encode it)"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn resume_refuses_a_data_file_whose_categories_changed() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("weather.csv"), tmp.path().join("weather.csv")).unwrap();
    std::fs::copy(fixture("weather.toml"), tmp.path().join("weather.toml")).unwrap();
    let cfg = tmp.path().join("weather.toml");
    let out = tmp.path().join("runs");
    let o = run(&[
        "run",
        cfg.to_str().unwrap(),
        "--headless",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "run.epochs=1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = run_dir(&out);
    // "sunny" renamed: still three categories (same shapes), other meanings.
    let text = std::fs::read_to_string(tmp.path().join("weather.csv")).unwrap().replace("sunny", "bright");
    std::fs::write(tmp.path().join("weather.csv"), text).unwrap();
    let o = run(&["resume", dir.to_str().unwrap(), "--headless", "--set", "run.epochs=2"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the data's columns or categories are not the ones the run started with"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn diff_prints_config_differences_and_figures_side_by_side() {
    let (_a, a, _) = train("iris.toml", &["--set", "run.epochs=4"]);
    let (_b, b, _) = train("iris.toml", &["--set", "run.epochs=4", "--set", "technique.input_norm.enabled=false"]);
    let o = run(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let line =
        |key: &str| text.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("{key} in {text}")).to_string();
    let enabled: Vec<String> = line("technique.input_norm.enabled").split_whitespace().map(String::from).collect();
    assert_eq!(enabled[1..], ["true".to_string(), "false".to_string()], "{text}");
    assert!(!text.contains("run.epochs"), "equal keys are not listed: {text}");
    let (sa, sb) = (summary(&a), summary(&b));
    let acc: Vec<String> = line("final_val_acc").split_whitespace().map(String::from).collect();
    assert_eq!(acc[1], format!("{:.4}", sa["final_val_acc"].as_f64().unwrap()));
    assert_eq!(acc[2], format!("{:.4}", sb["final_val_acc"].as_f64().unwrap()));
    assert_eq!(line("steps").split_whitespace().collect::<Vec<_>>(), ["steps", "32", "32", "+0"]);

    let o = run(&["diff", a.to_str().unwrap(), "/nonexistent"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/config.toml: not a run folder"), "{}", stderr(&o));
}
