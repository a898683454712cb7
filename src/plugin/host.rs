//! The plugin host: loaded techniques in pipeline order, their enabled flags and
//! parameters, and the dispatch of trainer events and graph-building hooks.
//!
//! Pipeline order is the order of the config's `[[technique]]` entries, then the
//! remaining loaded plugins by name; at every hook the enabled plugins run in
//! that order, each seeing the previous one's result. A plugin that fails or
//! panics is disabled, the failure logged, and the run goes on.

use std::collections::HashMap;
use std::ffi::c_void;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use traintop_plugin_abi as abi;

use super::api::{table, CallCtx};
use super::call_state::{Caller, Feed, FeedKind, HostState};
use super::events::PluginEvent;
use super::loader::LoadedLibrary;
use super::param_calls::{self, SetFailure, SettingError, SettingProblem};
use super::watch::HookWatch;
use crate::engine::graph::{GraphBuilder, Tensor};
use crate::engine::hooks::{GraphHooks, Mode, ParamGrad};
use crate::engine::StateStore;
use crate::protocol::{ParamView, TechniqueView, ToggleClass};

/// One loaded technique.
struct Plugin {
    lib: LoadedLibrary,
    state: *mut c_void,
    enabled: bool,
    /// Disabled after a failure; the user may switch it on again.
    failed: bool,
    status: String,
}

impl Plugin {
    fn name(&self) -> &str {
        &self.lib.name
    }

    fn class(&self) -> ToggleClass {
        self.lib.class
    }

    fn active(&self) -> bool {
        self.enabled && !self.failed
    }

    /// A parameter's current value as text; `None` for a name the plugin
    /// does not know (or a failure to say).
    fn param(&self, name: &str) -> Option<String> {
        if self.state.is_null() {
            return None;
        }
        // SAFETY: `state` came from this plugin's `create` and is owned by the host's thread.
        unsafe { param_calls::read(&self.lib.descriptor, self.state, name) }
    }
}

/// The plugins of a run and everything they asked of the host.
pub struct PluginHost {
    plugins: Vec<Plugin>,
    /// What plugin calls may change (see `call_state.rs`).
    state: HostState,
    /// Running (sum, count, last) of each reported metric, for status lines.
    metric_tally: HashMap<String, (f64, u64, f32)>,
    /// The hook under way, for the run's watchdog and its supervisor.
    watch: std::sync::Arc<HookWatch>,
}

// SAFETY: plugin states are raw pointers owned by the plugins; the host is used
// by one thread at a time (it moves to the trainer thread and stays there).
unsafe impl Send for PluginHost {}

impl Drop for PluginHost {
    fn drop(&mut self) {
        for p in self.plugins.iter().filter(|p| !p.state.is_null()) {
            // SAFETY: each state was created by its plugin's `create` and is
            // destroyed once, by the same library (which stays loaded).
            unsafe { (p.lib.descriptor.destroy)(p.state) };
        }
    }
}

impl PluginHost {
    /// Instantiates the libraries, in pipeline order.
    pub fn new(libs: Vec<LoadedLibrary>, order: &[String], seed: u64) -> Self {
        let mut libs = libs;
        libs.sort_by_key(|l| (order.iter().position(|n| *n == l.name).unwrap_or(usize::MAX), l.name.clone()));
        let plugins: Vec<Plugin> = libs
            .into_iter()
            .map(|lib| {
                // SAFETY: `create` is the plugin's constructor per the ABI.
                let state = unsafe { (lib.descriptor.create)() };
                Plugin { failed: state.is_null(), lib, state, enabled: false, status: String::new() }
            })
            .collect();
        let names = plugins.iter().map(|p| p.lib.name.clone()).collect();
        Self {
            plugins,
            state: HostState { seed, ..HostState::default() },
            metric_tally: HashMap::new(),
            watch: std::sync::Arc::new(HookWatch::new(names)),
        }
    }

    /// Which hook is under way (shared: the trainer's watchers read it).
    pub fn watch(&self) -> std::sync::Arc<HookWatch> {
        std::sync::Arc::clone(&self.watch)
    }

    /// The number of layers (hidden + output) of the model the plugins build on.
    pub fn set_layers(&mut self, layers: usize) {
        self.state.layers = layers;
    }

    pub fn layers(&self) -> usize {
        self.state.layers
    }

    /// The step about to be trained (random feeds are drawn from it).
    pub fn set_step(&mut self, step: u64) {
        self.state.step = step;
    }

    /// The techniques' names, in pipeline order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.plugins.iter().map(Plugin::name)
    }

    /// Sets a technique's switch without telling it: before the run starts
    /// (config, checkpoint). Returns false when no such technique is loaded.
    pub fn preset_enabled(&mut self, technique: &str, enabled: bool) -> bool {
        let Some(i) = self.find(technique) else { return false };
        self.plugins[i].enabled = enabled;
        true
    }

    /// Whether a technique of this name is loaded.
    pub fn has(&self, technique: &str) -> bool {
        self.find(technique).is_some()
    }

    /// On and not failed.
    pub fn is_active(&self, technique: &str) -> bool {
        self.find(technique).is_some_and(|i| self.plugins[i].active())
    }

    pub fn class_of(&self, technique: &str) -> Option<ToggleClass> {
        self.find(technique).map(|i| self.plugins[i].class())
    }

    /// A parameter's current value, as text.
    pub fn param(&self, technique: &str, param: &str) -> Option<String> {
        self.plugins[self.find(technique)?].param(param)
    }

    /// Every parameter's current value, in declaration order.
    pub fn param_values(&self, technique: &str) -> Vec<(String, String)> {
        let Some(p) = self.find(technique).map(|i| &self.plugins[i]) else { return vec![] };
        p.lib.params.iter().filter_map(|s| p.param(&s.name).map(|v| (s.name.clone(), v))).collect()
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.plugins.iter().position(|p| p.name() == name)
    }

    /// Messages since the last call (for the event log).
    pub fn take_logs(&mut self) -> Vec<String> {
        std::mem::take(&mut self.state.logs)
    }

    /// A stop a plugin asked for: (reason, restore best weights).
    pub fn take_stop_request(&mut self) -> Option<(String, bool)> {
        self.state.stop_request.take()
    }

    fn call<R>(
        &mut self,
        index: usize,
        hook: &'static str,
        builder: Option<&mut GraphBuilder>,
        store: Option<&mut StateStore>,
        mode: Mode,
        f: impl FnOnce(&abi::Descriptor, *mut c_void, &abi::HostApi) -> R,
    ) -> R {
        let Plugin { lib, state, status, .. } = &mut self.plugins[index];
        let caller = Caller { index, name: &lib.name, params: &lib.params, status };
        let mut ctx = CallCtx { state: &mut self.state, caller, builder, store, mode };
        let api = table(&mut ctx);
        self.watch.enter(index, hook);
        let r = f(&lib.descriptor, *state, &api);
        self.watch.leave();
        r
    }

    fn fail(&mut self, index: usize, what: &str) {
        let p = &mut self.plugins[index];
        p.failed = true;
        let line = format!("plugin {} failed in {what} and was disabled; the run goes on", p.name());
        self.state.logs.push(line);
    }

    /// Sets a parameter from text (config or dashboard). Returns whether the
    /// change needs a graph rebuild.
    pub fn set_param(&mut self, technique: &str, param: &str, value: &str) -> Result<bool, SettingError> {
        let err = |problem| SettingError { technique: technique.to_string(), problem };
        let index = self.find(technique).ok_or_else(|| err(SettingProblem::NotLoaded))?;
        if self.plugins[index].state.is_null() {
            return Err(err(SettingProblem::Failed { reason: "its constructor failed".into() }));
        }
        let spec = self.plugins[index].lib.params.iter().find(|p| p.name == param).cloned().ok_or_else(|| {
            let names: Vec<&str> = self.plugins[index].lib.params.iter().map(|p| p.name.as_str()).collect();
            err(SettingProblem::UnknownParam { param: param.to_string(), valid: names.join(", ") })
        })?;
        if spec.kind == abi::ParamKind::Layers {
            self.check_layers(value).map_err(err)?;
        }
        let state = self.plugins[index].state;
        let outcome = match self.plugins[index].lib.descriptor.set_param_checked {
            // SAFETY: `state` is this plugin's, live (checked above), owned by this thread.
            Some(set) => unsafe { param_calls::write(set, state, param, value) },
            None => self.set_param_1_0(index, param, value),
        };
        outcome.map_err(|failure| match failure {
            SetFailure::UnknownParam(valid) => err(SettingProblem::UnknownParam { param: param.to_string(), valid }),
            SetFailure::InvalidValue(reason) => err(SettingProblem::Refused { reason, allowed: spec.range_text() }),
            SetFailure::Failed(reason) => {
                self.fail(index, "setting a parameter");
                err(SettingProblem::Failed { reason })
            }
        })?;
        Ok(spec.structural && self.plugins[index].active())
    }

    /// A layer list must name hidden layers the model has.
    fn check_layers(&self, value: &str) -> Result<(), SettingProblem> {
        let Some(hidden) = self.state.layers.checked_sub(1) else { return Ok(()) };
        let listed = value.trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace());
        for part in listed.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part.parse::<usize>().is_ok_and(|l| l >= hidden) {
                return Err(SettingProblem::NoSuchLayer { layer: part.to_string(), hidden });
            }
        }
        Ok(())
    }

    /// ABI 1.0: `set_param` returns OK or FAILED and writes its reason into
    /// the log, so the warnings it makes during this call are the reason. A
    /// 1.0 plugin's failure cannot be told from a refused value; it counts
    /// as one.
    fn set_param_1_0(&mut self, index: usize, param: &str, value: &str) -> Result<(), SetFailure> {
        self.state.set_param_warnings = Some(vec![]);
        let rc = self.call(index, "set_param", None, None, Mode::Train, |d, s, api| {
            // SAFETY: `s` is this plugin's state and `api` valid for the call.
            unsafe { (d.set_param)(s, api, abi::Str::new(param), abi::Str::new(value)) }
        });
        let warnings = self.state.set_param_warnings.take().unwrap_or_default();
        if rc == abi::OK {
            let name = self.plugins[index].name().to_string();
            warnings.into_iter().for_each(|w| self.state.log(format!("warning: {name}: {w}")));
            return Ok(());
        }
        Err(SetFailure::InvalidValue(param_calls::reason_or_silence(warnings.join("; "))))
    }

    /// Switches a technique; its state starts fresh when switched on. Returns
    /// whether the graph must be rebuilt.
    pub fn set_enabled(
        &mut self,
        technique: &str,
        enabled: bool,
        store: &mut StateStore,
    ) -> Result<bool, SettingError> {
        let index = self
            .find(technique)
            .ok_or_else(|| SettingError { technique: technique.into(), problem: SettingProblem::NotLoaded })?;
        let was = self.plugins[index].active();
        self.plugins[index].enabled = enabled;
        // A plugin whose constructor failed has no state to run with.
        if enabled && !self.plugins[index].state.is_null() {
            self.plugins[index].failed = false;
        }
        let now = self.plugins[index].active();
        if !was && now {
            // Switched on: its state starts fresh. (A repeated "on", say from a
            // double key press, changes nothing and keeps the state.)
            store.remove_prefix(&format!("{technique}."));
        }
        if was != now {
            let event =
                abi::Event { kind: abi::EventKind::Toggled.into(), value: now as u8 as f64, ..self.event_base() };
            self.dispatch_one(index, &event, store);
        }
        Ok(was != now)
    }

    fn event_base(&self) -> abi::Event {
        abi::Event {
            kind: abi::EventKind::RunStart.into(),
            epoch: 0,
            step: self.state.step,
            value: f64::NAN,
            value2: f64::NAN,
            seed: self.state.seed,
            data: std::ptr::null(),
            rows: 0,
            cols: 0,
        }
    }

    fn dispatch_one(&mut self, index: usize, event: &abi::Event, store: &mut StateStore) {
        let hook = abi::EventKind::try_from(event.kind).map_or("on_event", event_hook);
        let rc = self.call(index, hook, None, Some(store), Mode::Train, |d, s, api| {
            // SAFETY: valid state, table and event for the call.
            unsafe { (d.on_event)(s, api, event) }
        });
        if rc != abi::OK {
            let kind = abi::EventKind::try_from(event.kind).map_or_else(|v| v.to_string(), |k| format!("{k:?}"));
            self.fail(index, &kind);
        }
    }

    /// Sends an event to every active plugin, in order.
    pub fn dispatch(&mut self, event: PluginEvent, store: &mut StateStore) {
        let event = event.to_abi(self.event_base());
        for i in 0..self.plugins.len() {
            if self.plugins[i].active() {
                self.dispatch_one(i, &event, store);
            }
        }
    }

    /// Hands the training split to the active plugins (input normalization).
    pub fn dispatch_train_data(&mut self, features: &[f32], rows: usize, cols: usize, store: &mut StateStore) {
        let event = abi::Event {
            kind: abi::EventKind::TrainData.into(),
            data: features.as_ptr(),
            rows: rows as u64,
            cols: cols as u64,
            ..self.event_base()
        };
        for i in 0..self.plugins.len() {
            if self.plugins[i].active() {
                self.dispatch_one(i, &event, store);
            }
        }
    }

    /// True when some active plugin failed since the flag was last cleared.
    pub fn any_failed_active(&self) -> bool {
        self.plugins.iter().any(|p| p.enabled && p.failed)
    }

    /// Accumulates the metrics of a step (`<technique>.<name>`).
    pub fn record_metrics(&mut self, metrics: &[(String, f32)]) {
        for (name, v) in metrics {
            let e = self.metric_tally.entry(name.clone()).or_insert((0.0, 0, 0.0));
            e.0 += *v as f64;
            e.1 += 1;
            e.2 = *v;
        }
    }

    fn metric_status(&self, plugin: &str) -> String {
        let prefix = format!("{plugin}.");
        let mut parts: Vec<String> = self
            .metric_tally
            .iter()
            .filter_map(|(k, (sum, n, last))| {
                k.strip_prefix(&prefix).map(|m| format!("{m} {last:.3} (avg {:.3})", sum / (*n).max(1) as f64))
            })
            .collect();
        parts.sort();
        parts.join(", ")
    }

    /// The dashboard's view of every technique.
    pub fn views(&self) -> Vec<TechniqueView> {
        self.plugins
            .iter()
            .map(|p| TechniqueView {
                name: p.name().to_string(),
                enabled: p.active(),
                class: p.class(),
                params: p
                    .lib
                    .params
                    .iter()
                    .map(|s| ParamView {
                        name: s.name.clone(),
                        value: p.param(&s.name).unwrap_or_default(),
                        range: s.range_text(),
                        help: s.help.clone(),
                    })
                    .collect(),
                status: if p.failed {
                    "failed: disabled".into()
                } else {
                    [p.status.clone(), self.metric_status(p.name())]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join("; ")
                },
            })
            .collect()
    }

    fn build_point(
        &mut self,
        g: &mut GraphBuilder,
        point: abi::BuildPoint,
        mode: Mode,
        layer: usize,
        target: Tensor,
    ) -> Tensor {
        let mut current = target;
        for i in 0..self.plugins.len() {
            if !self.plugins[i].active() {
                continue;
            }
            let mut out = current.0 as abi::Handle;
            let abi_mode = if mode == Mode::Train { abi::Mode::Train } else { abi::Mode::Eval };
            let rc = self.call(i, "build", Some(g), None, mode, |d, s, api| {
                // SAFETY: valid state and table; `out` is writable.
                unsafe {
                    (d.build)(s, api, point.into(), abi_mode.into(), layer as u32, current.0 as abi::Handle, &mut out)
                }
            });
            // The result must be a tensor of the target's shape: anything else
            // would break the layers after it.
            let valid = (out as usize) < g.tape_len() && g.shape(Tensor(out as usize)) == g.shape(current);
            if rc != abi::OK || !valid {
                self.fail(i, &format!("building {point:?}"));
                continue;
            }
            current = Tensor(out as usize);
        }
        current
    }
}

/// The name a hook is reported by: the event it handles, in the SDK's words.
fn event_hook(kind: abi::EventKind) -> &'static str {
    use abi::EventKind as K;
    match kind {
        K::RunStart => "run_start",
        K::RunEnd => "run_end",
        K::EpochStart => "epoch_start",
        K::EpochEnd => "epoch_end",
        K::BatchStart => "batch_start",
        K::BatchEnd => "batch_end",
        K::ValidationEnd => "validation_end",
        K::InitParameters => "init_parameters",
        K::TrainData => "train_data",
        K::Toggled => "toggled",
        K::Paused => "paused",
        K::Resumed => "resumed",
        K::Stopping => "stopping",
        _ => "on_event",
    }
}

impl GraphHooks for PluginHost {
    fn input(&mut self, g: &mut GraphBuilder, mode: Mode, x: Tensor) -> Tensor {
        // A new graph is being built: forget this mode's feeds of the last build.
        self.state.feeds.retain(|f| f.mode != mode);
        self.build_point(g, abi::BuildPoint::Input, mode, 0, x)
    }

    fn net_input(&mut self, g: &mut GraphBuilder, mode: Mode, layer: usize, n: Tensor) -> Tensor {
        self.build_point(g, abi::BuildPoint::NetInput, mode, layer, n)
    }

    fn activation(&mut self, g: &mut GraphBuilder, mode: Mode, layer: usize, a: Tensor) -> Tensor {
        self.build_point(g, abi::BuildPoint::Activation, mode, layer, a)
    }

    fn loss(&mut self, g: &mut GraphBuilder, mode: Mode, loss: Tensor, params: &[(String, Tensor, bool)]) -> Tensor {
        self.state.current_params = params.to_vec();
        let out = self.build_point(g, abi::BuildPoint::Loss, mode, 0, loss);
        self.state.current_params.clear();
        out
    }

    fn gradients(&mut self, g: &mut GraphBuilder, grads: &mut [ParamGrad]) {
        for i in 0..self.plugins.len() {
            if !self.plugins[i].active() {
                continue;
            }
            let names: Vec<String> = grads.iter().map(|p| p.name.clone()).collect();
            let mut raw: Vec<abi::ParamGrad> = grads
                .iter()
                .zip(&names)
                .map(|(p, n)| abi::ParamGrad {
                    name: abi::Str::new(n),
                    param: p.param.0 as u64,
                    grad: p.grad.0 as u64,
                    is_weight: p.is_weight as u32,
                })
                .collect();
            let rc = self.call(i, "build_gradients", Some(g), None, Mode::Train, |d, s, api| {
                // SAFETY: valid state and table; `raw` readable and writable for its length.
                unsafe { (d.build_gradients)(s, api, raw.as_mut_ptr(), raw.len()) }
            });
            let valid = raw
                .iter()
                .zip(grads.iter())
                .all(|(r, p)| (r.grad as usize) < g.tape_len() && g.shape(Tensor(r.grad as usize)) == g.shape(p.param));
            if rc != abi::OK || !valid {
                self.fail(i, "building gradients");
                continue;
            }
            for (p, r) in grads.iter_mut().zip(&raw) {
                p.grad = Tensor(r.grad as usize);
            }
        }
    }

    fn build_failed(&mut self) -> bool {
        let failed = self.any_failed_active();
        for p in self.plugins.iter_mut().filter(|p| p.enabled && p.failed) {
            p.enabled = false;
        }
        failed
    }

    fn state_init(&mut self, name: &str) -> Option<f32> {
        self.state.inits.get(name).copied()
    }

    fn feeds(&mut self, mode: Mode, batch: usize) -> Vec<(String, Vec<f32>)> {
        let feeds: Vec<Feed> = self.state.feeds.iter().filter(|f| f.mode == mode).cloned().collect();
        feeds
            .into_iter()
            .enumerate()
            .map(|(k, Feed { name, plugin, kind, .. })| {
                let values = match kind {
                    FeedKind::Random(shape) => {
                        // Derived from (seed, step, feed), so a resumed run draws the same masks.
                        let mut rng = ChaCha8Rng::seed_from_u64(
                            self.state.seed ^ self.state.step.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k as u64) << 56,
                        );
                        let n = shape.iter().map(|d| d.resolve(batch)).product();
                        (0..n).map(|_| rng.gen::<f32>()).collect()
                    }
                    FeedKind::Param(param) => {
                        let v = self.plugins[plugin].param(&param).and_then(|t| t.parse::<f32>().ok()).unwrap_or(0.0);
                        vec![v]
                    }
                };
                (name, values)
            })
            .collect()
    }
}
