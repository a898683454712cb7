//! Text from outside the process never reaches a terminal as control or
//! escape sequences: class names from a CSV file in `evaluate`'s report and
//! in the dashboard's confusion matrix, a plugin's description and help in
//! `plugins list` and `plugins check`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cli::{config, run, run_dir, stderr, stdout};
use common::tmux::{self, shell_quote, Tmux};

/// Iris with class names that try to retitle the terminal and clear it.
const NAMES: [&str; 3] = ["setosa\u{1b}]0;pwned\u{7}", "versi\u{1b}[2Jcolor", "virginica\u{9b}31m"];

/// data/iris.csv with its labels replaced by `names`, written into `dir`.
fn hostile_iris(dir: &Path, names: [&str; 3]) -> PathBuf {
    let text = std::fs::read_to_string(common::cli::repo().join("data/iris.csv")).unwrap();
    let mut csv = String::new();
    for (i, line) in text.lines().enumerate() {
        match (i, line.rsplit_once(',')) {
            (0, _) | (_, None) => csv.push_str(line),
            (_, Some((x, label))) => {
                csv.push_str(&format!("{x},\"{}\"", names[label.trim().parse::<usize>().unwrap()]))
            }
        }
        csv.push('\n');
    }
    let data = dir.join("hostile.csv");
    std::fs::write(&data, csv).unwrap();
    data
}

#[test]
fn class_names_with_escapes_are_printed_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let data = hostile_iris(tmp.path(), NAMES);
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

/// No control byte (C0 other than a line break, DEL, or a C1 control
/// encoded in UTF-8) in a command's output.
fn assert_no_controls(o: &std::process::Output) {
    let text = String::from_utf8_lossy(&[&o.stdout[..], &o.stderr[..]].concat()).into_owned();
    let bad: Vec<char> = text.chars().filter(|&c| c.is_control() && c != '\n').collect();
    assert!(bad.is_empty(), "control characters {bad:?} reached the terminal:\n{text}");
}

#[test]
fn plugin_descriptions_and_help_are_printed_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = common::plugins::install(&common::plugins::fixture("escapes"), tmp.path(), "fixture_escapes");
    let o = run(&["plugins", "list", "--dir", tmp.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_controls(&o);
    let text = stdout(&o);
    assert!(text.contains(r"retitles\x1b]0;pwned\x07 the pane"), "{text}");
    assert!(text.contains(r"help\u{9b}31m in red"), "{text}");
    let o = run(&["plugins", "check", lib.to_str().unwrap()]);
    assert_no_controls(&o);
}

/// The dashboard draws the confusion matrix's class names from the data
/// file. Each name below starts with OSC 2 (set the window title) cut to the
/// matrix's 8-character labels; drawn raw, it retitles the pane.
#[test]
fn class_names_in_the_dashboard_do_not_retitle_the_terminal() {
    if !tmux::available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    const TITLE: &str = "XQ";
    let names = ["\u{1b}]2;XQ\u{7}a", "\u{1b}]2;XQ\u{7}b", "\u{1b}]2;XQ\u{7}c"];
    let tmp = tempfile::tempdir().unwrap();
    let data = hostile_iris(tmp.path(), names);
    let out = tmp.path().join("out");
    let q = |p: &Path| shell_quote(p.to_str().unwrap());
    let set = shell_quote(&format!("data.path={:?}", data.display().to_string()));
    let command = format!(
        "cd {repo} && NO_COLOR=1 {bin} run {cfg} --out {out} --set {set} --set 'data.categorical=[\"label\"]' \
         --set run.epochs=100000 2>/dev/null",
        repo = q(&common::cli::repo()),
        bin = q(Path::new(env!("CARGO_BIN_EXE_traintop"))),
        cfg = q(&config("iris.toml")),
        out = q(&out),
    );
    let term = Tmux::start(100, 30, &command);
    let before = term.pane_title();
    assert_ne!(before, TITLE);
    term.wait_until("the dashboard", Duration::from_secs(30), |s| s.contains("step"));
    term.send_keys(&["C"]);
    // The labels' printable tails ("a", "b", "c" after the escape) show.
    term.wait_until("the confusion matrix", Duration::from_secs(30), |s| s.contains("predicted"));
    std::thread::sleep(Duration::from_secs(1));
    let screen = term.capture();
    let title = term.pane_title();
    term.send_keys(&["s", "y"]);
    assert_eq!(title, before, "the pane was retitled by a class name:\n{screen}");
}
