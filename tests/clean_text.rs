//! Text from outside the process never reaches a terminal as control or
//! escape sequences: class names from a CSV file in `evaluate`'s report are
//! shown with their control characters escaped.

mod common;

use common::cli::{config, run, run_dir, stderr, stdout};

/// Iris with class names that try to retitle the terminal and clear it.
const NAMES: [&str; 3] = ["setosa\u{1b}]0;pwned\u{7}", "versi\u{1b}[2Jcolor", "virginica\u{9b}31m"];

#[test]
fn class_names_with_escapes_are_printed_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(common::cli::repo().join("data/iris.csv")).unwrap();
    let mut csv = String::new();
    for (i, line) in text.lines().enumerate() {
        match (i, line.rsplit_once(',')) {
            (0, _) | (_, None) => csv.push_str(line),
            (_, Some((x, label))) => {
                csv.push_str(&format!("{x},\"{}\"", NAMES[label.trim().parse::<usize>().unwrap()]))
            }
        }
        csv.push('\n');
    }
    let data = tmp.path().join("hostile.csv");
    std::fs::write(&data, csv).unwrap();
    let out = tmp.path().join("out");
    let set = format!("data.path={:?}", data.display().to_string());
    let iris = config("iris.toml");
    let args = ["run", iris.to_str().unwrap(), "--headless", "--quiet", "--out", out.to_str().unwrap()];
    let sets = ["--set", &set, "--set", "data.categorical=[\"label\"]", "--set", "run.epochs=2"];
    let o = run(&[&args[..], &sets[..]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = run_dir(&out);
    for extra in [&[][..], &["--data", data.to_str().unwrap()][..]] {
        let o = run(&[&["evaluate", dir.to_str().unwrap()][..], extra].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        let bytes = [&o.stdout[..], &o.stderr[..]].concat();
        assert!(
            !bytes.contains(&0x1b) && !bytes.contains(&0x07),
            "a control byte reached the terminal: {:?}",
            stdout(&o)
        );
        assert!(!String::from_utf8_lossy(&bytes).contains('\u{9b}'), "a C1 control reached the terminal");
        assert!(stdout(&o).contains(r"setosa\x1b]0;pwned\x07"), "{}", stdout(&o));
    }
}
