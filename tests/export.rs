//! `traintop view RUN --export FILE --csv FILE` on a real run: the SVG holds
//! the run's curves and labels, the PNG is a picture of the size asked with
//! ink on it, the CSV has the run's own numbers, a row per logged step; bad
//! targets are refused with exit 2 and leave nothing behind; and `E` in
//! `view`'s screen (under tmux) writes into the run folder and says so.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::cli::{run, stderr, stdout, train};
use common::tmux::{self, shell_quote, Tmux};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The run's metrics.jsonl records of one kind, as JSON.
fn records(dir: &Path, kind: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == kind)
        .collect()
}

fn f32_of(v: &serde_json::Value) -> f32 {
    v.as_f64().expect("a number") as f32
}

#[test]
fn a_real_run_exports_as_svg_png_and_csv() {
    let (_keep, dir, _) = train("iris.toml", &["--set", "run.epochs=4"]);
    let out = tempfile::tempdir().unwrap();
    let (svg, png) = (out.path().join("charts.svg"), out.path().join("charts.png"));
    let d = dir.to_str().unwrap();
    let o = run(&["view", d, "--export", svg.to_str().unwrap(), "--export", png.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "view",
        d,
        "--csv",
        out.path().to_str().unwrap(),
        "--export",
        png.to_str().unwrap(),
        "--size",
        "900x600",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let name = dir.file_name().unwrap().to_str().unwrap();
    let csv = out.path().join(format!("{name}.csv"));
    assert!(stdout(&o).contains(&format!("wrote {}", csv.display())), "{}", stdout(&o));
    check_svg(&std::fs::read_to_string(&svg).unwrap(), &dir);
    check_png(&std::fs::read(&png).unwrap(), (900, 600));
    check_csv(&std::fs::read_to_string(&csv).unwrap(), &dir);
}

fn check_svg(svg: &str, dir: &Path) {
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
    assert!(svg.contains(r#"width="1200" height="800""#), "the default size");
    assert_eq!(svg.matches('<').count(), svg.matches('>').count(), "every tag closed");
    let steps = records(dir, "step");
    let last = steps.last().unwrap()["step"].as_u64().unwrap();
    for label in ["loss", "accuracy", "gradient norm per parameter", "confusion matrix", "step", "predicted"] {
        assert!(svg.contains(&format!(">{label}")), "no label `{label}`");
    }
    assert!(svg.contains(&format!("step {last}, 4 epochs")), "the heading has the run's last step");
    for p in ["layer0.weight", "layer0.bias", "layer1.weight", "layer1.bias"] {
        assert!(svg.contains(&format!(">{p}</text>")), "no legend entry for {p}");
    }
    // One line with a point per logged step (train loss, train accuracy, and
    // each parameter's gradient norm): 2 + 4, plus validation loss and accuracy.
    let lines: Vec<usize> = svg
        .lines()
        .filter_map(|l| l.strip_prefix("<polyline points=\""))
        .map(|l| l.split('"').next().unwrap().split(' ').count())
        .collect();
    assert_eq!(lines.iter().filter(|n| **n == steps.len()).count(), 6, "{lines:?}");
    assert_eq!(lines.iter().filter(|n| **n == 4).count(), 2, "validation per epoch: {lines:?}");
    // The confusion matrix's cells are the last epoch's counts.
    let confusion = records(dir, "confusion").pop().unwrap();
    let counts: Vec<u64> = confusion["counts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().clone())
        .map(|c| c.as_u64().unwrap())
        .collect();
    for c in counts {
        assert!(svg.contains(&format!(">{c}</text>")), "no cell with {c}");
    }
}

fn check_png(png: &[u8], (w, h): (u32, u32)) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "the PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let size =
        (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    assert_eq!(size, (w, h));
    let pixmap = tiny_skia::Pixmap::decode_png(png).unwrap();
    let inked = pixmap.pixels().iter().filter(|p| (p.red(), p.green(), p.blue()) != (255, 255, 255)).count();
    let share = inked as f64 / f64::from(w * h);
    assert!((0.02..0.6).contains(&share), "{inked} pixels not white ({share:.3})");
    let dark = pixmap.pixels().iter().filter(|p| p.red() < 80 && p.green() < 80 && p.blue() < 80).count();
    assert!(dark > 500, "text and axes in black: {dark} dark pixels");
}

fn check_csv(csv: &str, dir: &Path) {
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("step,epoch,loss,acc,lr,epoch_loss,val_loss,val_acc,grad_norm:layer0.weight"),
        "{header}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let (steps, epochs) = (records(dir, "step"), records(dir, "epoch"));
    let all: BTreeSet<u64> = steps.iter().chain(&epochs).map(|r| r["step"].as_u64().unwrap()).collect();
    assert_eq!(rows.len(), all.len(), "a row per step or epoch end");
    let row = |step: u64| rows.iter().find(|r| r[0] == step.to_string()).expect("a row for the step");
    for s in &steps {
        let r = row(s["step"].as_u64().unwrap());
        assert_eq!(r[2].parse::<f32>().unwrap(), f32_of(&s["loss"]), "loss at {r:?}");
        assert_eq!(r[3].parse::<f32>().unwrap(), f32_of(&s["acc"]));
        assert_eq!(r[8].parse::<f32>().unwrap(), f32_of(&s["grad_norms"][0][1]));
    }
    for e in &epochs {
        let r = row(e["step"].as_u64().unwrap());
        assert_eq!(r[1], e["epoch"].to_string());
        assert_eq!(r[6].parse::<f32>().unwrap(), f32_of(&e["val_loss"]));
        assert_eq!(r[7].parse::<f32>().unwrap(), f32_of(&e["val_acc"]));
    }
}

#[test]
fn bad_targets_are_refused_and_nothing_is_written() {
    let (_keep, dir, _) = train("iris.toml", &["--set", "run.epochs=1"]);
    let out = tempfile::tempdir().unwrap();
    let good = out.path().join("good.svg");
    let d = dir.to_str().unwrap();
    let cases: [(Vec<String>, &str); 4] = [
        (
            vec!["--export".into(), "charts.jpg".into()],
            "--export charts.jpg: unknown extension `.jpg` (expected .svg or .png)",
        ),
        (
            vec!["--export".into(), "/nonexistent-folder/a.svg".into()],
            "--export /nonexistent-folder/a.svg: no folder /nonexistent-folder",
        ),
        (vec!["--csv".into(), out.path().join("no/x.csv").display().to_string()], "no/x.csv: no folder"),
        (vec!["--size".into(), "10x10".into()], "--size 10x10: expected WIDTHxHEIGHT"),
    ];
    for (args, message) in cases {
        let mut all = vec!["view", d, "--export", good.to_str().unwrap()];
        all.extend(args.iter().map(String::as_str));
        let o = run(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
        assert!(!good.exists(), "{args:?}: the good target was written anyway");
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "no temporary file left");
    let o = run(&["view", out.path().to_str().unwrap(), "--export", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a run folder (expected its metrics.jsonl"), "{}", stderr(&o));
}

#[test]
fn e_in_view_writes_into_the_run_folder_and_says_where() {
    if tmux::missing() {
        return;
    }
    let (runs, dir, _) = train("iris.toml", &["--set", "run.epochs=3"]);
    let name = dir.file_name().unwrap().to_str().unwrap().to_string();
    // From the runs' folder, so the path on screen is short enough to read
    // whole; the exit code lands beside the run.
    let command = format!(
        "cd {runs} && NO_COLOR=1 {bin} view {name}; echo $? >.exit_code",
        runs = shell_quote(runs.path().to_str().unwrap()),
        bin = shell_quote(env!("CARGO_BIN_EXE_traintop")),
    );
    let exit_file = runs.path().join(".exit_code");
    let term = Tmux::start(100, 30, &command);
    term.wait_until("the finished run", TIMEOUT, |s| s.contains("viewing a finished run"));
    term.send_keys(&["E"]);
    let said = format!("wrote {name}/export/{name}.svg .png .csv");
    term.wait_until("where the export went", TIMEOUT, |s| s.contains(&said));
    for ext in ["svg", "png", "csv"] {
        let file = dir.join("export").join(format!("{name}.{ext}"));
        assert!(std::fs::metadata(&file).is_ok_and(|m| m.len() > 100), "{} missing", file.display());
    }
    term.send_keys(&["q"]);
    let code =
        tmux::poll("the exit code", TIMEOUT, || std::fs::read_to_string(&exit_file).ok().filter(|s| s.ends_with('\n')));
    assert_eq!(code.trim(), "0");
}
