//! The house's imports point down: no two files of `src/` import each other,
//! directly or around a loop, and each top-level module imports only the
//! floors below it (protocol, format, engine, data and config import nothing
//! above them; the dashboard speaks the protocol and knows nothing of the
//! trainer).
//!
//! Method: every `crate::…` and `super::…` path in a file's code (its
//! `#[cfg(test)]` part and comments left out; `use` groups `{a, b::{c}}`
//! expanded) is resolved to the longest module path that is a file; that
//! gives an edge from file to file. Cycles are the strongly connected
//! components of that graph with more than one file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level module may import (besides itself). `cli` and the
/// crate root sit on top and may import anything.
const FLOORS: &[(&str, &[&str])] = &[
    ("protocol", &[]),
    ("format", &[]),
    // Charts as SVG and PNG: the sweep's curves and `view --export` draw
    // through it.
    ("chart", &["format"]),
    // The one panic hook: the engine's guard and the dashboard's terminal
    // register with it, so it sits below both.
    ("panic_policy", &[]),
    ("run_files", &[]),
    ("run_lock", &["run_files"]),
    // The hidden layers' transfer function: one type for the config, the
    // engine and bench.
    ("activation", &[]),
    ("engine", &["panic_policy", "activation"]),
    ("data", &[]),
    ("config", &["data", "activation"]),
    ("grad_health", &["format"]),
    ("plugin", &["config", "engine", "protocol"]),
    ("train", &["config", "data", "engine", "plugin", "protocol", "format", "run_lock", "run_files"]),
    ("inspect", &["config", "data", "engine", "plugin", "protocol", "train", "format", "run_lock"]),
    // A run folder's records as charts and CSV: it reads only the protocol.
    ("export", &["chart", "format", "protocol", "run_files"]),
    // `view`'s export key writes through `export`.
    ("tui", &["protocol", "format", "grad_health", "panic_policy", "export"]),
    // The run server speaks the protocol and knows nothing of the trainer;
    // its clients find runs through the server's records.
    ("serve", &["protocol", "format", "run_files"]),
    ("client", &["protocol", "serve", "format", "run_lock"]),
    // Sweeps read run folders and start runs through the CLI's own commands
    // (`traintop sweep task`), never the trainer directly.
    ("sweep", &["client", "config", "format", "plugin", "protocol", "run_files", "run_lock", "chart"]),
];

type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a/b.rs` is `a::b`, `a/mod.rs` is `a`, `lib.rs` is the crate root.
fn module_of(rel: &Path) -> Module {
    let mut parts: Vec<String> = rel.with_extension("").iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The code a file compiles outside its tests, without comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

struct Paths<'a> {
    s: &'a [u8],
    i: usize,
}

impl Paths<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_ws();
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_') {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.s[self.i..].starts_with(token.as_bytes()) {
            self.i += token.len();
            true
        } else {
            false
        }
    }

    /// The paths of a tree after `prefix::`: `a::b`, `{a, b::{c, d}}`, `*`.
    fn tree(&mut self, prefix: Module, out: &mut Vec<Module>) {
        if self.eat("{") {
            loop {
                if self.eat("}") {
                    return;
                }
                self.tree(prefix.clone(), out);
                if !self.eat(",") {
                    self.eat("}");
                    return;
                }
            }
        }
        if self.eat("*") {
            out.push(prefix);
            return;
        }
        let Some(name) = self.ident() else {
            out.push(prefix);
            return;
        };
        let mut path = prefix;
        path.push(name);
        if self.eat("::") {
            self.tree(path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every module path a file's code names through `crate::` or `super::`.
fn named_paths(code: &str, module: &Module) -> Vec<Module> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let (base, skip) = if boundary && rest.starts_with(b"crate::") {
            (Vec::new(), "crate::".len())
        } else if boundary && rest.starts_with(b"super::") {
            // `super` of `a/b.rs` (module a::b) is `a`; of `a/mod.rs` (module a)
            // the root: the parent module either way.
            (module[..module.len().saturating_sub(1)].to_vec(), "super::".len())
        } else {
            i += 1;
            continue;
        };
        let mut p = Paths { s: bytes, i: i + skip };
        let mut found = Vec::new();
        p.tree(base, &mut found);
        for mut path in found {
            while let Some(k) = path.iter().position(|s| s == "super") {
                path.remove(k);
                if k > 0 {
                    path.remove(k - 1);
                }
            }
            out.push(path);
        }
        i = p.i.max(i + 1);
    }
    out
}

fn graph() -> BTreeMap<Module, (String, BTreeSet<Module>)> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules: BTreeMap<Module, (String, String)> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap().to_path_buf();
        if rel == Path::new("main.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        modules.insert(module_of(&rel), (rel.display().to_string(), code(&text)));
    }
    let mut graph = BTreeMap::new();
    for (module, (name, code)) in &modules {
        let mut edges = BTreeSet::new();
        for path in named_paths(code, module) {
            let target = (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains_key(p));
            if let Some(t) = target.filter(|t| t != module) {
                edges.insert(t);
            }
        }
        graph.insert(module.clone(), (name.clone(), edges));
    }
    graph
}

/// Strongly connected components with more than one member (Tarjan).
fn cycles(graph: &BTreeMap<Module, (String, BTreeSet<Module>)>) -> Vec<Vec<Module>> {
    struct T<'g> {
        g: &'g BTreeMap<Module, (String, BTreeSet<Module>)>,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        on: BTreeSet<Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit(t: &mut T, v: &Module) {
        let n = t.index.len();
        t.index.insert(v.clone(), n);
        t.low.insert(v.clone(), n);
        t.stack.push(v.clone());
        t.on.insert(v.clone());
        for w in &t.g[v].1 {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = vec![];
            while let Some(w) = t.stack.pop() {
                t.on.remove(&w);
                let done = &w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let mut t =
        T { g: graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: vec![], on: BTreeSet::new(), out: vec![] };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_two_files_import_each_other() {
    let graph = graph();
    assert!(graph.len() > 50, "found only {} files", graph.len());
    let found: Vec<String> =
        cycles(&graph).iter().map(|c| c.iter().map(|m| graph[m].0.clone()).collect::<Vec<_>>().join(" <-> ")).collect();
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn imports_point_down_the_floors() {
    let graph = graph();
    let mut wrong = vec![];
    for (module, (name, edges)) in &graph {
        let Some(top) = module.first() else { continue };
        let Some((_, allowed)) = FLOORS.iter().find(|(m, _)| m == top) else { continue };
        for target in edges {
            let Some(to) = target.first() else { continue };
            if to != top && !allowed.contains(&to.as_str()) {
                wrong.push(format!("{name} imports {} (`{top}` may import only {allowed:?})", graph[target].0));
            }
        }
    }
    assert!(wrong.is_empty(), "imports up the floors:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_a_cycle_and_an_upward_import() {
    // The parser on a made-up file: groups, nesting, `super`.
    let module: Module = vec!["tui".into(), "panels".into(), "header".into()];
    let code = "use super::{fmt_sci, plot::{Plot, Series}};\nuse crate::cli::headless::duration;\nfn f() { crate::train::x(); }";
    let paths = named_paths(code, &module);
    let s = |p: &[&str]| p.iter().map(|x| x.to_string()).collect::<Module>();
    for want in [
        s(&["tui", "panels", "fmt_sci"]),
        s(&["tui", "panels", "plot", "Plot"]),
        s(&["tui", "panels", "plot", "Series"]),
        s(&["cli", "headless", "duration"]),
        s(&["train", "x"]),
    ] {
        assert!(paths.contains(&want), "{want:?} not in {paths:?}");
    }
    let dir_module: Module = vec!["tui".into(), "panels".into()];
    assert!(named_paths("use super::app::App;", &dir_module).contains(&s(&["tui", "app", "App"])));
    let mut g = BTreeMap::new();
    g.insert(s(&["a"]), ("a.rs".to_string(), BTreeSet::from([s(&["b"])])));
    g.insert(s(&["b"]), ("b.rs".to_string(), BTreeSet::from([s(&["a"])])));
    g.insert(s(&["c"]), ("c.rs".to_string(), BTreeSet::from([s(&["a"])])));
    assert_eq!(cycles(&g).len(), 1);
}
