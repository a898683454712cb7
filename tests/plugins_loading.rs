//! Plugins as real libraries: listing, refusal of broken ones, a panicking
//! plugin that is disabled while the run goes on, a missing one, and a plugin
//! built out of tree against the SDK.

mod common;

use common::cli::{config, run, run_dir, sets, stderr, stdout, summary};
use common::plugins::{cargo_build, fixture, host_with, install, plugin_path};
use traintop::plugin::loader::{self, LoadError};
use traintop::plugin::{PluginEvent, PluginHost, SettingProblem};

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

/// What refusing the fixture built against ABI 99.1 says: both versions.
const BOTH_VERSIONS: &str =
    "plugin built against ABI 99.1, this traintop speaks ABI 1.1 and loads only ABI 1.x plugins";

#[test]
fn broken_plugins_are_refused_with_clear_errors() {
    type Case = (&'static str, fn(&LoadError) -> bool, &'static str);
    let cases: [Case; 3] = [
        ("bad_abi", |e| matches!(e, LoadError::AbiMajor { found: 99, .. }), BOTH_VERSIONS),
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
fn a_plugin_file_that_declares_another_technique_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    install(&plugin_path("dropout"), tmp.path(), "dropout_copy");
    let cfg = tmp.path().join("dup.toml");
    std::fs::write(
        &cfg,
        format!(
            "[data]\npath = {:?}\n[plugins]\ndirs = [{:?}]\n[[technique]]\nname = \"dropout_copy\"\n",
            config("../data/iris.csv").display().to_string(),
            tmp.path().display().to_string()
        ),
    )
    .unwrap();
    let o = run(&["run", cfg.to_str().unwrap(), "--headless", "--out", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("dup.toml:6:8: technique[0].name:"), "{}", stderr(&o));
    assert!(stderr(&o).contains("declares technique `dropout`, not `dropout_copy`"), "{}", stderr(&o));
}

#[test]
fn descriptors_with_wild_pointers_or_null_functions_are_refused_without_crashing() {
    let cases = [
        ("wild_string", "description (0xdead00000000, 12 bytes) points outside mapped memory"),
        ("null_fn", "function `create` is null"),
    ];
    for (name, message) in cases {
        let path = fixture(name);
        let err = loader::load(&path).err().unwrap_or_else(|| panic!("{name} was accepted"));
        assert!(err.to_string().contains(message), "{name}: {err}");
        // `plugins check` and `plugins list` report it and exit normally.
        let o = run(&["plugins", "check", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{name}: {}", stderr(&o));
        let dir = tempfile::tempdir().unwrap();
        install(&path, dir.path(), &format!("fixture_{name}"));
        let o = run(&["plugins", "list", "--dir", dir.path().to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{name}: {}", stderr(&o));
        // A run that names it is refused; one that does not never loads it.
        let dirs = format!("plugins.dirs=[{:?}]", dir.path().display().to_string());
        let named = format!("technique.fixture_{name}.enabled=true");
        let o = run_iris(dir.path(), &[&dirs, &named, "run.epochs=1"]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{name}: {}", stderr(&o));
        let o = run_iris(dir.path(), &[&dirs, "run.epochs=1"]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(!stderr(&o).contains(message), "{name} was loaded: {}", stderr(&o));
    }
}

#[test]
fn only_the_techniques_a_config_names_are_loaded_from_its_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let plugins = tmp.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    install(&fixture("marker"), &plugins, "fixture_marker");
    let mark = tmp.path().join("loaded");
    let dirs = format!("plugins.dirs=[{:?}]", plugins.display().to_string());
    let iris = config("iris.toml");
    let go = |extra: &[&str]| {
        let mut args =
            vec!["run", iris.to_str().unwrap(), "--headless", "--quiet", "--out", tmp.path().to_str().unwrap()];
        args.extend(sets(&[&dirs, "run.epochs=1"]));
        args.extend(sets(extra));
        common::cli::bin().args(&args).env("TRAINTOP_FIXTURE_MARKER", &mark).output().unwrap()
    };
    let o = go(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!mark.exists(), "a plugin the config does not name was loaded (its constructor ran)");
    let o = go(&["technique.fixture_marker.enabled=false"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(mark.exists(), "the named plugin was not loaded");
    // `plugins list` loads to describe, but runs no technique.
    let o = run(&["plugins", "list", "--dir", plugins.to_str().unwrap()]);
    assert!(stdout(&o).contains("fixture_marker"), "{}", stdout(&o));
}

#[test]
fn a_fifo_named_like_a_plugin_does_not_hang_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join(format!(
        "{}traintop_plugin_dropout{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let dirs = format!("plugins.dirs=[{:?}]", tmp.path().display().to_string());
    let mut child = common::cli::bin()
        .args(["run", config("iris.toml").to_str().unwrap(), "--headless", "--quiet"])
        .args(["--out", tmp.path().to_str().unwrap()])
        .args(sets(&[&dirs, "technique.dropout.enabled=true", "run.epochs=1"]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            panic!("traintop hung on a FIFO named like a plugin");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The FIFO was skipped; dropout came from the binary's own folder.
    assert!(child.wait().unwrap().success());
    let o = run(&["plugins", "check", fifo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
}

#[test]
fn technique_settings_the_model_cannot_use_are_config_errors_at_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("t.toml");
    std::fs::write(
        &cfg,
        format!(
            "[data]\npath = {:?}\n[model]\nhidden = [8, 8]\n\n[[technique]]\nname = \"dropout\"\nlayers = [5]\n",
            config("../data/iris.csv").display().to_string()
        ),
    )
    .unwrap();
    let o = run(&["run", cfg.to_str().unwrap(), "--headless", "--out", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "t.toml:8:10: technique[0].layers: layer 5 does not exist: the model has 2 hidden layers (indices 0 to 1)"
        ),
        "{}",
        stderr(&o)
    );
    let o = run_iris(tmp.path(), &["technique.dropout.layers=[1]", "technique.dropout.enabled=true"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--set technique.dropout.layers=[1]"), "{}", stderr(&o));
    assert!(stderr(&o).contains("layer 1 does not exist: the model has 1 hidden layer (index 0)"), "{}", stderr(&o));

    std::fs::write(
        &cfg,
        format!(
            "[data]\npath = {:?}\n\n[[technique]]\nname = \"dropot\"\n",
            config("../data/iris.csv").display().to_string()
        ),
    )
    .unwrap();
    let o = run(&["run", cfg.to_str().unwrap(), "--headless", "--out", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("t.toml:5:8: technique[0].name: unknown technique \"dropot\"; did you mean \"dropout\"?"),
        "{}",
        stderr(&o)
    );
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
    assert!(e.contains("--set technique.no_such_technique.enabled=true: technique[1]: unknown technique"), "{e}");
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
    fn build(&mut self, g: &mut Graph, at: &BuildContext, x: Tensor) -> Result<Tensor, String> {
        if at.point != BuildPoint::Input { return Ok(x); }
        g.host().set_status("scaling inputs");
        g.scale(x, at.params.float("factor") as f32).map_err(Into::into)
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

#[test]
fn a_plugin_built_against_abi_1_0_loads_and_its_settings_report_errors() {
    let lib = loader::load(&fixture("old_layout")).unwrap_or_else(|e| panic!("the 1.0 plugin was refused: {e}"));
    assert_eq!(lib.abi_minor, 0);
    assert!(lib.descriptor.set_param_checked.is_none(), "1.1 fields read past a 1.0 descriptor's size");
    let name = "fixture_old_layout";
    let mut host = PluginHost::new(vec![lib], &[name.to_string()], 1);
    host.set_layers(2);
    host.set_param(name, "factor", "0.25").unwrap();
    assert_eq!(host.param(name, "factor").as_deref(), Some("0.25"));
    let e = host.set_param(name, "factor", "7").unwrap_err();
    assert!(matches!(e.problem, SettingProblem::Refused { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "technique fixture_old_layout: factor: expected a number in 0 ..= 1, got \"7\" (said through the 1.0 log) \
         (allowed: 0 ..= 1)"
    );
    assert!(host.take_logs().is_empty(), "the reason was handed back, not left in the log");
    assert_eq!(host.param(name, "factor").as_deref(), Some("0.25"), "a refused value changes nothing");
    // Its events arrive as the 1.0 enum it declared.
    host.preset_enabled(name, true);
    let mut store = traintop::engine::StateStore::new();
    host.dispatch(PluginEvent::BatchEnd { epoch: 0, loss: 0.5 }, &mut store);
    assert_eq!(host.views()[0].status, "saw 1 batches (ABI 1.0)");
}

#[test]
fn a_plugin_built_against_abi_1_0_trains() {
    let tmp = tempfile::tempdir().unwrap();
    // A dot folder: not taken for a run folder.
    let plugins = tmp.path().join(".plugins");
    std::fs::create_dir(&plugins).unwrap();
    install(&fixture("old_layout"), &plugins, "fixture_old_layout");
    let dirs = format!("plugins.dirs=[{:?}]", plugins.display().to_string());
    let o = run_iris(
        tmp.path(),
        &[
            &dirs,
            "technique.fixture_old_layout.enabled=true",
            "technique.fixture_old_layout.factor=0.5",
            "run.epochs=2",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&run_dir(tmp.path()));
    assert_eq!(s["epochs_run"], 2);
    assert!(s["final_val_loss"].as_f64().unwrap().is_finite());
    // A value it refuses is a config error at the setting, with its reason.
    let o = run_iris(tmp.path(), &[&dirs, "technique.fixture_old_layout.factor=2"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--set technique.fixture_old_layout.factor=2"), "{}", stderr(&o));
    assert!(stderr(&o).contains("got \"2\" (said through the 1.0 log) (allowed: 0 ..= 1)"), "{}", stderr(&o));
    // Its fragment passes the gradient check through the 1.0 functions.
    let check = run(&["plugins", "check", plugins.join(plugin_file("fixture_old_layout")).to_str().unwrap()]);
    assert!(check.status.success(), "{}{}", stdout(&check), stderr(&check));
}

fn plugin_file(name: &str) -> String {
    format!("{}traintop_plugin_{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

#[test]
fn a_1_1_plugin_reports_setting_errors_through_the_abi() {
    let mut host = host_with("dropout", &[("rate", "0.25")], 3);
    assert_eq!(host.param("dropout", "rate").as_deref(), Some("0.25"));
    let e = host.set_param("dropout", "rate", "7").unwrap_err();
    assert!(
        matches!(&e.problem, SettingProblem::Refused { reason, .. } if reason == "rate: 7 is outside 0 ..= 0.95"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "technique dropout: rate: 7 is outside 0 ..= 0.95 (allowed: 0 ..= 0.95)");
    let e = host.set_param("dropout", "layers", "[0, 5]").unwrap_err();
    assert!(matches!(e.problem, SettingProblem::NoSuchLayer { hidden: 2, .. }), "{e:?}");
    assert!(host.take_logs().is_empty(), "nothing of it went to the log");
    assert!(host.is_active("dropout"), "a refused value does not disable the plugin");
}
