//! Plugins as real libraries: listing, refusal of broken ones, a panicking
//! plugin that is disabled while the run goes on, a missing one, and a plugin
//! built out of tree against the SDK.

mod common;

use common::cli::{config, run, run_dir, sets, stderr, stdout, summary};
use common::plugins::{cargo_build, fixture, install, plugin_path};
use traintop::plugin::loader::{self, LoadError};

const ALL: [&str; 8] =
    ["batch_norm", "dropout", "grad_clip", "l2", "early_stopping", "input_norm", "xavier_init", "layer_norm"];

#[test]
fn list_shows_all_eight_with_their_parameters() {
    let o = run(&["plugins", "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let plugins = v["plugins"].as_array().unwrap();
    for name in ALL {
        let p = plugins.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{name} not listed: {v}"));
        assert!(!p["params"].as_array().unwrap().is_empty(), "{name} has no parameters");
        for param in p["params"].as_array().unwrap() {
            assert!(!param["help"].as_str().unwrap().is_empty());
            assert!(!param["range"].as_str().unwrap().is_empty());
        }
    }
    let dropout = plugins.iter().find(|p| p["name"] == "dropout").unwrap();
    assert_eq!(dropout["class"], "structural");
    let rate = dropout["params"].as_array().unwrap().iter().find(|p| p["name"] == "rate").unwrap();
    assert_eq!(rate["default"], "0.5");
    let text = stdout(&run(&["plugins", "list"]));
    assert!(text.contains("batch_norm") && text.contains("momentum"), "{text}");
}

#[test]
fn broken_plugins_are_refused_with_clear_errors() {
    type Case = (&'static str, fn(&LoadError) -> bool, &'static str);
    let cases: [Case; 3] = [
        ("bad_abi", |e| matches!(e, LoadError::AbiMajor { found: 99, .. }), "ABI 99"),
        ("no_entry", |e| matches!(e, LoadError::NoEntry { .. }), "no `traintop_plugin_entry` symbol"),
        ("bad_schema", |e| matches!(e, LoadError::Descriptor { .. }), "default 5 is outside 0 ..= 1"),
    ];
    for (name, is_expected, message) in cases {
        let path = fixture(name);
        let err = loader::load(&path).err().unwrap_or_else(|| panic!("{name} was accepted"));
        assert!(is_expected(&err), "{name}: {err}");
        let o = run(&["plugins", "check", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert!(stderr(&o).contains(message), "{name}: {}", stderr(&o));
    }
}

#[test]
fn duplicate_plugin_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    install(&plugin_path("dropout"), tmp.path(), "dropout_copy");
    let cfg = tmp.path().join("dup.toml");
    std::fs::write(
        &cfg,
        format!(
            "[data]\npath = {:?}\n[plugins]\ndirs = [{:?}]\n[[technique]]\nname = \"dropout\"\n",
            config("../data/iris.csv").display().to_string(),
            tmp.path().display().to_string()
        ),
    )
    .unwrap();
    let o = run(&["run", cfg.to_str().unwrap(), "--headless", "--out", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("found twice"), "{}", stderr(&o));
}

/// `traintop run configs/iris.toml --headless --out OUT` with `--set` for each of `keys`.
fn run_iris(out: &std::path::Path, keys: &[&str]) -> std::process::Output {
    let cfg = config("iris.toml");
    let mut args = vec!["run", cfg.to_str().unwrap(), "--headless", "--out", out.to_str().unwrap()];
    args.extend(sets(keys));
    run(&args)
}

#[test]
fn missing_plugin_says_where_it_looked_and_how_to_build() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run_iris(tmp.path(), &["technique.no_such_technique.enabled=true"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("no_such_technique") && e.contains("cargo build --release") && e.contains("release"), "{e}");
}

fn panicky_run(when: &str) -> (serde_json::Value, String) {
    let tmp = tempfile::tempdir().unwrap();
    let plugins = tmp.path().join(".plugins");
    std::fs::create_dir(&plugins).unwrap();
    install(&fixture("panicky"), &plugins, "fixture_panicky");
    let dirs = format!("plugins.dirs=[{:?}]", plugins.display().to_string());
    let when_key = format!("technique.fixture_panicky.when={when}");
    let o = run_iris(tmp.path(), &[&dirs, "technique.fixture_panicky.enabled=true", &when_key, "run.epochs=4"]);
    assert!(o.status.success(), "{when}: {}", stderr(&o));
    let dir = run_dir(tmp.path());
    (summary(&dir), std::fs::read_to_string(dir.join("events.jsonl")).unwrap())
}

#[test]
fn a_panicking_plugin_is_disabled_and_the_run_goes_on() {
    for when in ["epoch", "build"] {
        let (s, events) = panicky_run(when);
        assert_eq!(s["stop_reason"], "completed", "{when}");
        assert_eq!(s["epochs_run"], 4, "{when}");
        assert!(events.contains("panicked: fixture panic"), "{when}: {events}");
        assert!(events.contains("fixture_panicky failed") && events.contains("disabled"), "{when}: {events}");
    }
}

#[test]
fn a_plugin_built_out_of_tree_loads_and_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plugins/sdk");
    std::fs::create_dir_all(tmp.path().join("src")).unwrap();
    std::fs::write(
        tmp.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"halve\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n\
             [lib]\nname = \"traintop_plugin_halve\"\ncrate-type = [\"cdylib\"]\n\
             [dependencies]\ntraintop-plugin-sdk = {{ path = {:?} }}\n",
            sdk.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("src/lib.rs"),
        r#"
use traintop_plugin_sdk::*;
#[derive(Default)]
pub struct Halve;
impl Technique for Halve {
    const NAME: &'static str = "halve";
    const VERSION: &'static str = "0.1.0";
    const DESCRIPTION: &'static str = "scales the input by a factor";
    const CLASS: ToggleClass = ToggleClass::Structural;
    fn params() -> Vec<Param> { vec![Param::float("factor", 0.5, 0.0, 1.0, "input scale")] }
    fn build(&mut self, g: &mut Graph, p: &ParamValues, point: BuildPoint, _m: Mode, _l: usize, x: Tensor) -> Result<Tensor, String> {
        if point != BuildPoint::Input { return Ok(x); }
        g.host().set_status("scaling inputs");
        g.scale(x, p.float("factor") as f32).map_err(Into::into)
    }
}
export_technique!(Halve);
"#,
    )
    .unwrap();
    let libs = cargo_build(&tmp.path().join("Cargo.toml"));
    let out = tmp.path().join("runs");
    let dirs = format!("plugins.dirs=[{:?}]", libs.display().to_string());
    let o = run_iris(&out, &[&dirs, "technique.halve.enabled=true", "technique.halve.factor=0.25", "run.epochs=3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("halve"), "{}", stdout(&o));
    let s = summary(&run_dir(&out));
    assert_eq!(s["epochs_run"], 3);
    assert!(s["final_val_loss"].as_f64().unwrap().is_finite());
    let lib =
        libs.join(format!("{}traintop_plugin_halve{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    let check = run(&["plugins", "check", lib.to_str().unwrap()]);
    assert!(check.status.success(), "{}", stdout(&check));
}
