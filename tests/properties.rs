//! Property tests over hostile input: the config parser and `--set`, the CSV
//! and IDX loaders, checkpoint loading of mutated files, the plugin
//! descriptor checks, and the run server's socket ([`server`]). None may panic; each must refuse what it cannot use
//! and, where it accepts, accept only what is right (a mutated checkpoint
//! that loads must load the original's contents).
//!
//! CI runs each with a few hundred cases; set `FUZZ_CASES=N` for longer
//! runs (`FUZZ_CASES=10000 cargo test --release --test properties`).

mod common;
#[path = "properties/server.rs"]
mod server;

use std::mem::{offset_of, size_of};
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::Config;
use traintop::config::{ConfigSource, RunConfig};
use traintop::data::Task;
use traintop::engine::{Dim, StateStore};
use traintop::plugin::descriptor::{self, Memory};
use traintop::train::checkpoint::{self, Position};
use traintop_plugin_abi as abi;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

fn config() -> Config {
    Config { cases: cases(), failure_persistence: None, ..Config::default() }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A text edit: replace, insert or delete bytes at a place.
#[derive(Clone, Debug)]
enum Edit {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let tokens = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        prop::sample::select(vec![
            "=",
            "[",
            "]",
            "[[",
            "]]",
            "\"",
            "'",
            "\n",
            ",",
            ".",
            "-",
            "0",
            "1e308",
            "-1",
            "nan",
            "inf",
            "9223372036854775807",
            "18446744073709551615",
            "[technique]",
            "[[technique]]\nname=\"",
            "{",
            "}",
            "\u{feff}",
            "é",
            "\\",
            "\"\"\"",
            "true",
            "[]",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), tokens).prop_map(|(i, t)| Edit::Insert(i, t)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, edits: &[Edit]) {
    for e in edits {
        let n = bytes.len().max(1);
        match e {
            Edit::Set(i, b) if !bytes.is_empty() => bytes[i % n] = *b,
            Edit::Set(..) => {}
            Edit::Insert(i, t) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, t.iter().copied());
            }
            Edit::Delete(i, len) => {
                let at = i % n;
                let end = (at + len).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Edit::Truncate(i) => bytes.truncate(i % n),
        }
    }
}

fn shipped_configs() -> Vec<String> {
    let mut texts: Vec<String> = std::fs::read_dir(repo().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    texts.sort();
    texts
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn config_parser_never_panics(which in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..6)) {
        let texts = shipped_configs();
        let mut bytes = which.get(&texts).clone().into_bytes();
        apply(&mut bytes, &edits);
        let text = String::from_utf8_lossy(&bytes);
        let source = ConfigSource::embedded(repo().join("configs"));
        match RunConfig::from_str(&text, source.clone(), &[]) {
            // What was accepted reads back the same from its written form.
            Ok(c) => prop_assert_eq!(RunConfig::from_str(&c.to_toml_string(), source, &[]).ok(), Some(c)),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn overrides_never_panic(
        keys in prop::collection::vec(prop::sample::select(vec![
            "run.epochs", "run.name", "run.seed", "run.batch_size", "model.hidden", "model.activation",
            "optimizer.lr", "optimizer.kind", "data.validation", "data.path", "technique.dropout.rate",
            "technique.dropout.layers", "technique.x.enabled", "plugins.dirs", "run", "technique", "a.b.c",
            "technique.dropout", "run..epochs", "", " run.epochs ", "model.hidden.x",
        ]), 1..4),
        values in prop::collection::vec(prop_oneof![
            any::<i64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| v.to_string()),
            "[a-z0-9_./-]{0,12}",
            prop::sample::select(vec!["[64, 0]", "[9223372036854775807]", "\"../../x\"", "nan", "-inf", "{a=1}", "[[1]]", "1\nx=2", "true", "\"\""]).prop_map(str::to_string),
        ], 4),
        no_equals in any::<bool>(),
    ) {
        let sets: Vec<String> = keys.iter().zip(&values).map(|(k, v)| if no_equals { format!("{k}{v}") } else { format!("{k}={v}") }).collect();
        let text = "[data]\npath = \"synthetic:xor\"\n[[technique]]\nname = \"dropout\"\n";
        match RunConfig::from_str(text, ConfigSource::embedded("/"), &sets) {
            Ok(c) => prop_assert!(c.run.epochs >= 1 && c.optimizer.lr > 0.0 && c.model.hidden.iter().all(|&w| w >= 1)),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn csv_loader_never_panics(edits in prop::collection::vec(edit(), 1..8), regression in any::<bool>(), categorical in any::<bool>()) {
        let mut bytes = std::fs::read(repo().join("data/iris.csv")).unwrap();
        bytes.truncate(600);
        apply(&mut bytes, &edits);
        let text = String::from_utf8_lossy(&bytes);
        let task = if regression { Task::Regression } else { Task::Classification };
        let columns = if categorical { vec!["label".to_string(), "sepal_length".to_string()] } else { vec![] };
        let options = traintop::data::CsvOptions { target: "label", task, categorical: &columns };
        if let Ok(d) = traintop::data::load_csv_str(&text, "x.csv", &options) {
            prop_assert_eq!(d.features.len(), d.len() * d.n_features);
            prop_assert!(d.features.iter().chain(&d.targets).all(|v| v.is_finite()));
        }
    }

    #[test]
    fn idx_loader_never_panics(
        n in 0u32..4, w in 0u32..4, h in 0u32..4,
        image_edits in prop::collection::vec(edit(), 0..4),
        label_edits in prop::collection::vec(edit(), 0..4),
    ) {
        let mut images = vec![0, 0, 8, 3];
        for d in [n, w, h] { images.extend(d.to_be_bytes()); }
        images.extend((0..n * w * h).map(|i| i as u8));
        let mut labels = vec![0, 0, 8, 1];
        labels.extend(n.to_be_bytes());
        labels.extend((0..n).map(|i| (i % 3) as u8));
        apply(&mut images, &image_edits);
        apply(&mut labels, &label_edits);
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = (dir.path().join("i.idx"), dir.path().join("l.idx"));
        std::fs::write(&ip, &images).unwrap();
        std::fs::write(&lp, &labels).unwrap();
        if let Ok(d) = traintop::data::load_idx(&ip, &lp) {
            prop_assert_eq!(d.features.len(), d.len() * d.n_features);
            prop_assert!(!d.is_empty() && d.n_features > 0);
        }
    }

    #[test]
    fn mutated_checkpoints_are_refused_or_load_unchanged(edits in prop::collection::vec(edit(), 1..4)) {
        let (original, expected) = checkpoint_bytes();
        let mut bytes = original.clone();
        apply(&mut bytes, &edits);
        if let Ok(loaded) = checkpoint::parse(&bytes) {
            // Only edits that change nothing a reader sees (header padding,
            // JSON whitespace) may pass.
            prop_assert_eq!(&loaded.position, &expected.position);
            prop_assert_eq!(&loaded.states, &expected.states);
        }
    }

    #[test]
    fn descriptor_checks_refuse_every_bad_pointer(d in raw_descriptor()) {
        let built = d.build();
        let memory = Memory::current(None);
        // SAFETY: on Linux the checks read only memory the process map shows
        // readable, which is the property under test.
        let result = unsafe { descriptor::check(built.words.as_ptr() as *const abi::Descriptor, &memory) };
        if let Ok(checked) = result {
            prop_assert!(d.major_ok && d.size_ok, "a wrong version or size passed");
            let (required, optional) = d.functions.split_at(7);
            prop_assert!(required.iter().all(|f| *f == Ptr::Valid), "a bad function pointer passed: {:?}", d.functions);
            prop_assert!(optional.iter().all(|f| matches!(f, Ptr::Valid | Ptr::Null)), "a bad optional one passed: {:?}", d.functions);
            prop_assert_eq!(checked.descriptor.set_param_checked.is_some(), optional[0] == Ptr::Valid);
            prop_assert!(built.strings_ok.iter().all(|ok| *ok), "a bad string passed: {:?}", d.strings);
            prop_assert!(built.n_params == 0 || d.params_ptr == Ptr::Valid);
            prop_assert_eq!(checked.params.len(), built.n_params);
        }
    }
}

type States = Vec<(String, Vec<Dim>, Vec<f32>)>;

/// A small real checkpoint and what loading it gives.
fn checkpoint_bytes() -> (Vec<u8>, checkpoint::Loaded) {
    thread_local! {
        static CACHE: (Vec<u8>, States, Position) = {
            let mut store = StateStore::new();
            store.insert("layer0.weight", vec![Dim::Fixed(3), Dim::Fixed(4)], (0..12).map(|i| i as f32 * 0.25 - 1.0).collect());
            store.insert("layer0.bias", vec![Dim::Fixed(4)], vec![0.5, -0.5, 0.0, 1.0]);
            store.insert("layer0.weight.m", vec![Dim::Fixed(3), Dim::Fixed(4)], vec![0.01; 12]);
            let position = Position { epoch: 2, batch_in_epoch: 1, step: 9, lr: 0.01, seed: 3, best_val_loss: Some(0.5), best_epoch: Some(2), ..Default::default() };
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("c.safetensors");
            checkpoint::save(&path, &store, &position).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            let loaded = checkpoint::parse(&bytes).unwrap();
            (bytes, loaded.states, loaded.position)
        };
    }
    CACHE.with(|(b, s, p)| (b.clone(), checkpoint::Loaded { states: s.clone(), position: p.clone() }))
}

/// Where a generated pointer points.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ptr {
    Null,
    /// At a real object of the right kind (text, a function, the table).
    Valid,
    /// Into readable data that is not code (for functions).
    Data,
    /// An arbitrary address.
    Wild(usize),
}

fn ptr() -> impl Strategy<Value = Ptr> {
    prop_oneof![
        3 => Just(Ptr::Valid),
        1 => Just(Ptr::Null),
        1 => Just(Ptr::Data),
        1 => prop_oneof![any::<usize>(), 1usize..65536, Just(usize::MAX - 3), (0usize..1 << 20).prop_map(|o| 0xffff_8000_0000_0000 + o)].prop_map(Ptr::Wild),
    ]
}

#[derive(Clone, Debug)]
struct GenStr {
    ptr: Ptr,
    len: usize,
    utf8: bool,
}

fn gen_str() -> impl Strategy<Value = GenStr> {
    let len = prop_oneof![0usize..24, Just(64), Just(65), Just(4096), Just(4097), any::<usize>()];
    (ptr(), len, any::<bool>()).prop_map(|(ptr, len, utf8)| GenStr { ptr, len, utf8 })
}

#[derive(Clone, Debug)]
struct GenDescriptor {
    major_ok: bool,
    size_ok: bool,
    /// name, version, description.
    strings: Vec<GenStr>,
    params_ptr: Ptr,
    n_params: usize,
    functions: Vec<Ptr>,
}

fn raw_descriptor() -> impl Strategy<Value = GenDescriptor> {
    (
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.9),
        prop::collection::vec(gen_str(), 3),
        ptr(),
        prop_oneof![Just(0usize), Just(1), Just(2), Just(300), any::<usize>()],
        // The seven 1.0 functions, then the two optional ones of 1.1.
        prop::collection::vec(prop_oneof![6 => Just(Ptr::Valid), 1 => ptr()], 9),
    )
        .prop_map(|(major_ok, size_ok, strings, params_ptr, n_params, functions)| GenDescriptor {
            major_ok,
            size_ok,
            strings,
            params_ptr,
            n_params,
            functions,
        })
}

/// A generated descriptor in memory, with everything it points at kept
/// alive, and what a correct check may accept.
struct Built {
    words: Vec<usize>,
    _text: Vec<u8>,
    _specs: Vec<abi::ParamSpec>,
    /// Whether each string, as written, is one the host may read.
    strings_ok: Vec<bool>,
    /// The parameter count written.
    n_params: usize,
}

extern "C" fn some_function() {}
static SOME_DATA: [u8; 64] = [b'a'; 64];

const WORDS: usize = size_of::<abi::Descriptor>() / size_of::<usize>();
/// Bytes of valid text behind a valid string pointer.
const TEXT: usize = 5000;

impl GenDescriptor {
    fn build(&self) -> Built {
        // Lowercase letters (a name that passes), then one byte that is not UTF-8.
        let mut text = vec![b'a'; TEXT + 1];
        text[TEXT] = 0xff;
        let base = text.as_ptr() as usize;
        let resolve = |p: Ptr, valid: usize| match p {
            Ptr::Null => 0,
            Ptr::Valid => valid,
            Ptr::Data => SOME_DATA.as_ptr() as usize,
            Ptr::Wild(a) => a,
        };
        let mut strings_ok = vec![];
        let mut words = vec![0usize; WORDS];
        let fields = [
            offset_of!(abi::Descriptor, name),
            offset_of!(abi::Descriptor, version),
            offset_of!(abi::Descriptor, description),
        ];
        for (field, s) in fields.iter().zip(&self.strings) {
            // A valid pointer never reads past its buffer: its length is capped,
            // and a non-UTF-8 one ends on the bad byte.
            let (ptr, len) = match s.ptr {
                Ptr::Valid => {
                    let len = s.len.min(TEXT);
                    (if s.utf8 { base } else { base + TEXT + 1 - len.max(1) }, len)
                }
                Ptr::Data => (resolve(s.ptr, 0), s.len),
                other => (resolve(other, 0), s.len),
            };
            // Readable data next to SOME_DATA may be read too: the map proves
            // a read cannot fault, not that the bytes are the string meant.
            // So a string into data may pass or not; the property is that
            // reading it does not crash.
            strings_ok.push(len == 0 || s.ptr == Ptr::Data || (s.ptr == Ptr::Valid && len <= 4096 && s.utf8));
            words[field / 8] = ptr;
            words[field / 8 + 1] = len;
        }
        let specs: Vec<abi::ParamSpec> = ["alpha", "beta"]
            .iter()
            .map(|name| abi::ParamSpec {
                name: abi::Str::new(name),
                kind: abi::ParamKind::Float as u32,
                default_value: 0.5,
                min: 0.0,
                max: 1.0,
                choices: abi::Str::EMPTY,
                help: abi::Str::new("help"),
                structural: 0,
            })
            .collect();
        let major = if self.major_ok { abi::ABI_MAJOR } else { abi::ABI_MAJOR + 1 };
        words[0] = major as usize | ((abi::ABI_MINOR as usize) << 32);
        words[1] = if self.size_ok { size_of::<abi::Descriptor>() } else { 8 };
        words[offset_of!(abi::Descriptor, class) / 8] = 0;
        words[offset_of!(abi::Descriptor, params) / 8] = resolve(self.params_ptr, specs.as_ptr() as usize);
        // A valid table holds two specs: a larger count it could pass would read past them.
        let n =
            if self.params_ptr == Ptr::Valid && self.n_params <= 256 { self.n_params.min(2) } else { self.n_params };
        words[offset_of!(abi::Descriptor, n_params) / 8] = n;
        let first = offset_of!(abi::Descriptor, create) / 8;
        for (i, f) in self.functions.iter().enumerate() {
            words[first + i] = resolve(*f, some_function as *const () as usize);
        }
        Built { words, _text: text, _specs: specs, strings_ok, n_params: n }
    }
}

#[test]
fn a_valid_generated_descriptor_passes() {
    let valid = GenStr { ptr: Ptr::Valid, len: 8, utf8: true };
    let d = GenDescriptor {
        major_ok: true,
        size_ok: true,
        strings: vec![valid.clone(), valid.clone(), valid],
        params_ptr: Ptr::Valid,
        n_params: 2,
        functions: vec![Ptr::Valid; 9],
    };
    let built = d.build();
    // SAFETY: every pointer in it is valid.
    let checked = unsafe { descriptor::check(built.words.as_ptr() as *const abi::Descriptor, &Memory::current(None)) };
    let checked = checked.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(checked.name, "aaaaaaaa");
    assert_eq!(checked.params.len(), 2);
}
