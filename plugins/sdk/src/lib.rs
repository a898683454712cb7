//! The traintop plugin SDK: a technique is a plain Rust type implementing
//! [`Technique`]; [`export_technique!`] generates the C entry point, the static
//! descriptor, and `extern "C"` shims that validate parameters against the
//! declared schema and wrap every hook in `catch_unwind`, so a panicking plugin
//! is reported and disabled instead of taking the trainer down.

pub mod graph;
pub mod params;

use std::cell::RefCell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use graph::{Dim, Graph, Host, HostError, Tensor};
pub use params::{Param, ParamValues, Value};
pub use traintop_plugin_abi as abi;
pub use traintop_plugin_abi::{BinaryOp, BuildPoint, EventKind, Mode, ReduceOp, ToggleClass, UnaryOp};

/// A trainer event as a plugin sees it.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    pub kind: EventKind,
    pub epoch: u64,
    pub step: u64,
    pub value: f64,
    pub value2: f64,
    pub seed: u64,
    /// The training split for [`EventKind::TrainData`]: rows x cols, row-major.
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
}

/// A parameter and its gradient at the gradient hook.
#[derive(Clone, Debug)]
pub struct GradRef {
    pub name: String,
    pub param: Tensor,
    pub grad: Tensor,
    pub is_weight: bool,
}

/// A supplemental training technique.
pub trait Technique: Default + 'static {
    const NAME: &'static str;
    const VERSION: &'static str;
    const DESCRIPTION: &'static str;
    const CLASS: ToggleClass;

    /// The parameter schema: names, kinds, defaults, ranges, help.
    fn params() -> Vec<Param>;

    fn on_event(&mut self, _host: &mut Host, _params: &ParamValues, _event: &Event) -> Result<(), String> {
        Ok(())
    }

    /// Rewrites `target` at a build point; the default leaves it unchanged.
    fn build(
        &mut self,
        _g: &mut Graph,
        _params: &ParamValues,
        _point: BuildPoint,
        _mode: Mode,
        _layer: usize,
        target: Tensor,
    ) -> Result<Tensor, String> {
        Ok(target)
    }

    /// Rewrites gradients before the optimizer uses them.
    fn build_gradients(&mut self, _g: &mut Graph, _params: &ParamValues, _grads: &mut [GradRef]) -> Result<(), String> {
        Ok(())
    }
}

impl From<HostError> for String {
    fn from(e: HostError) -> String {
        e.0
    }
}

/// A plugin instance: the technique and its parameter values.
pub struct Instance<T: Technique> {
    pub params: ParamValues,
    pub technique: T,
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps panic messages off the terminal (they would draw over the dashboard)
/// and hands them to the host's log instead. This library has its own copy of
/// std, so this hook does not touch the host's.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            let place = info.location().map(|l| format!(" (at {}:{})", l.file(), l.line())).unwrap_or_default();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{message}{place}")));
        }))
    });
}

/// Runs a hook, turning a panic or an error into a logged failure code.
fn guarded(host: *const abi::HostApi, f: impl FnOnce() -> Result<(), String>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => abi::OK,
        Ok(Err(message)) => {
            // SAFETY: the host passed a valid table for this call.
            let mut h = unsafe { Host::from_raw(host) };
            h.warn(&message);
            abi::FAILED
        }
        Err(_) => {
            let message = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "panic".into());
            // SAFETY: as above.
            let mut h = unsafe { Host::from_raw(host) };
            h.warn(&format!("panicked: {message}"));
            abi::FAILED
        }
    }
}

/// # Safety
/// Called by the host only, through the descriptor.
pub unsafe extern "C" fn create<T: Technique>() -> *mut c_void {
    quiet_panics();
    match catch_unwind(|| Instance::<T> { params: ParamValues::defaults(&T::params()), technique: T::default() }) {
        Ok(instance) => Box::into_raw(Box::new(instance)) as *mut c_void,
        Err(_) => std::ptr::null_mut(),
    }
}

/// # Safety
/// `state` must come from `create::<T>` and not be used afterwards.
pub unsafe extern "C" fn destroy<T: Technique>(state: *mut c_void) {
    if !state.is_null() {
        // SAFETY: `state` was made by Box::into_raw in `create::<T>`.
        drop(unsafe { Box::from_raw(state as *mut Instance<T>) });
    }
}

/// # Safety
/// `state` from `create::<T>`, `host` valid for the call, `name`/`value` readable.
pub unsafe extern "C" fn set_param<T: Technique>(
    state: *mut c_void,
    host: *const abi::HostApi,
    name: abi::Str,
    value: abi::Str,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    let instance = unsafe { &mut *(state as *mut Instance<T>) };
    // SAFETY: the strings are readable during the call.
    let (name, value) = unsafe { (name.as_str().unwrap_or(""), value.as_str().unwrap_or("")) };
    guarded(host, || instance.params.set(&T::params(), name, value))
}

/// # Safety
/// `state` from `create::<T>`, `out` writable for `cap` bytes.
pub unsafe extern "C" fn get_param<T: Technique>(state: *mut c_void, name: abi::Str, out: *mut u8, cap: usize) -> i64 {
    // SAFETY: guaranteed by the caller.
    let instance = unsafe { &*(state as *const Instance<T>) };
    // SAFETY: readable during the call.
    let name = unsafe { name.as_str().unwrap_or("") };
    let Some(text) = instance.params.get(name).map(|v| v.to_string()) else { return -1 };
    let n = text.len().min(cap);
    // SAFETY: `out` has room for `cap` >= `n` bytes.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), out, n) };
    n as i64
}

/// # Safety
/// `state` from `create::<T>`, `host` and `event` valid for the call.
pub unsafe extern "C" fn on_event<T: Technique>(
    state: *mut c_void,
    host: *const abi::HostApi,
    event: *const abi::Event,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    let (instance, e) = unsafe { (&mut *(state as *mut Instance<T>), &*event) };
    let data: &[f32] = if e.data.is_null() {
        &[]
    } else {
        // SAFETY: the host passes rows*cols readable floats with TrainData.
        unsafe { std::slice::from_raw_parts(e.data, (e.rows * e.cols) as usize) }
    };
    let event = Event {
        kind: e.kind,
        epoch: e.epoch,
        step: e.step,
        value: e.value,
        value2: e.value2,
        seed: e.seed,
        data,
        rows: e.rows as usize,
        cols: e.cols as usize,
    };
    guarded(host, || {
        // SAFETY: valid table for this call.
        let mut h = unsafe { Host::from_raw(host) };
        instance.technique.on_event(&mut h, &instance.params, &event)
    })
}

/// # Safety
/// `state` from `create::<T>`, `host` valid, `out` writable.
pub unsafe extern "C" fn build<T: Technique>(
    state: *mut c_void,
    host: *const abi::HostApi,
    point: BuildPoint,
    mode: Mode,
    layer: u32,
    target: abi::Handle,
    out: *mut abi::Handle,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    let instance = unsafe { &mut *(state as *mut Instance<T>) };
    guarded(host, || {
        // SAFETY: valid table for this call.
        let mut g = Graph::new(unsafe { Host::from_raw(host) });
        let result = instance.technique.build(&mut g, &instance.params, point, mode, layer as usize, Tensor(target))?;
        // SAFETY: `out` is writable, per the caller.
        unsafe { *out = result.0 };
        Ok(())
    })
}

/// # Safety
/// `state` from `create::<T>`, `host` valid, `grads` readable and writable for `n`.
pub unsafe extern "C" fn build_gradients<T: Technique>(
    state: *mut c_void,
    host: *const abi::HostApi,
    grads: *mut abi::ParamGrad,
    n: usize,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    let (instance, raw) = unsafe { (&mut *(state as *mut Instance<T>), std::slice::from_raw_parts_mut(grads, n)) };
    guarded(host, || {
        let mut refs: Vec<GradRef> = raw
            .iter()
            .map(|p| GradRef {
                // SAFETY: names are readable during the call.
                name: unsafe { p.name.as_str().unwrap_or("") }.to_string(),
                param: Tensor(p.param),
                grad: Tensor(p.grad),
                is_weight: p.is_weight != 0,
            })
            .collect();
        // SAFETY: valid table for this call.
        let mut g = Graph::new(unsafe { Host::from_raw(host) });
        instance.technique.build_gradients(&mut g, &instance.params, &mut refs)?;
        for (slot, r) in raw.iter_mut().zip(&refs) {
            slot.grad = r.grad.0;
        }
        Ok(())
    })
}

/// The descriptor of `T`, with its strings and parameter table leaked for the
/// life of the process (the library is never unloaded).
pub fn descriptor<T: Technique>() -> abi::Descriptor {
    let leak = |s: String| -> abi::Str { abi::Str::new(Box::leak(s.into_boxed_str())) };
    let specs: Vec<abi::ParamSpec> = T::params()
        .into_iter()
        .map(|p| abi::ParamSpec {
            name: leak(p.name.to_string()),
            kind: p.kind as u32,
            default_value: p.default_value,
            min: p.min,
            max: p.max,
            choices: leak(p.choices.to_string()),
            help: leak(p.help.to_string()),
            structural: p.structural as u32,
        })
        .collect();
    let specs: &'static [abi::ParamSpec] = Box::leak(specs.into_boxed_slice());
    abi::Descriptor {
        abi_major: abi::ABI_MAJOR,
        abi_minor: abi::ABI_MINOR,
        size: std::mem::size_of::<abi::Descriptor>(),
        name: abi::Str::new(T::NAME),
        version: abi::Str::new(T::VERSION),
        description: abi::Str::new(T::DESCRIPTION),
        class: T::CLASS as u32,
        params: specs.as_ptr(),
        n_params: specs.len(),
        create: create::<T>,
        destroy: destroy::<T>,
        set_param: set_param::<T>,
        get_param: get_param::<T>,
        on_event: on_event::<T>,
        build: build::<T>,
        build_gradients: build_gradients::<T>,
    }
}

/// Exports a [`Technique`] as a traintop plugin.
#[macro_export]
macro_rules! export_technique {
    ($t:ty) => {
        /// The plugin's entry point, looked up by the host.
        #[no_mangle]
        pub extern "C" fn traintop_plugin_entry() -> *const $crate::abi::Descriptor {
            static DESCRIPTOR: ::std::sync::OnceLock<$crate::abi::Descriptor> = ::std::sync::OnceLock::new();
            DESCRIPTOR.get_or_init($crate::descriptor::<$t>) as *const _
        }
    };
}
