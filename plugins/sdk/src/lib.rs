//! The traintop plugin SDK: a technique is a plain Rust type implementing
//! [`Technique`]; [`export_technique!`] generates the C entry point, the static
//! descriptor, and `extern "C"` shims that validate parameters against the
//! declared schema and wrap every hook in `catch_unwind`, so a panicking plugin
//! is reported and disabled instead of taking the trainer down.
//!
//! The shims convert the ABI's integers and its one event layout into the
//! types a technique matches on ([`Event`], one struct per kind; the build
//! site's [`BuildContext`] with [`BuildPoint`] and [`Mode`]; all
//! `#[non_exhaustive]`) and skip values this SDK does not know: a newer host's event is ignored, a
//! newer build point leaves the target unchanged. Every hook runs on the
//! instance's owner thread (see the ABI crate's "Threads").

#![warn(clippy::undocumented_unsafe_blocks)]

pub mod events;
pub mod graph;
pub mod params;

use std::cell::RefCell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use events::{At, BatchEnd, BuildContext, Event, Toggled, TrainData, ValidationEnd};
pub use graph::{Dim, Graph, Host, HostError, Tensor};
pub use params::{Param, ParamValues, SetError, Value};
pub use traintop_plugin_abi as abi;
pub use traintop_plugin_abi::{BinaryOp, BuildPoint, EventKind, Mode, ReduceOp, ToggleClass, UnaryOp};

/// A parameter and its gradient at the gradient hook.
#[derive(Clone, Debug)]
pub struct GradRef {
    pub name: String,
    pub param: Tensor,
    pub grad: Tensor,
    pub is_weight: bool,
}

/// A supplemental training technique. Every method runs on the instance's
/// owner thread ([owner-thread] in the ABI crate): one call at a time, though
/// the instance may move to another thread between calls, so a technique
/// keeps no unsynchronized global state. The [`Host`] and [`Graph`] a hook
/// receives are valid only until it returns ([in-call]).
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

    /// Rewrites `target` at a build point (`at` says which, in which mode
    /// and layer, with the parameter values); the default leaves it unchanged.
    fn build(&mut self, _g: &mut Graph, _at: &BuildContext, target: Tensor) -> Result<Tensor, String> {
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

/// The message of the panic just caught (the hook above recorded it).
fn take_panic() -> String {
    LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "panic".into())
}

/// Runs a hook, turning a panic or an error into a logged failure code.
fn guarded(host: *const abi::HostApi, f: impl FnOnce() -> Result<(), String>) -> i32 {
    let message = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return abi::OK,
        Ok(Err(message)) => message,
        Err(_) => format!("panicked: {}", take_panic()),
    };
    // SAFETY: the host passed a valid table for this call.
    let mut h = unsafe { Host::from_raw(host) };
    h.warn(&message);
    abi::FAILED
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

/// Sets a parameter; the error is an ABI status code and its reason.
fn set_value<T: Technique>(instance: &mut Instance<T>, name: &str, value: &str) -> Result<(), (i32, String)> {
    match catch_unwind(AssertUnwindSafe(|| instance.params.set(&T::params(), name, value))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err((e.status(), e.to_string())),
        Err(_) => Err((abi::FAILED, format!("panicked: {}", take_panic()))),
    }
}

/// The parameter's current value as text: `Ok(None)` for an unknown name,
/// `Err` when formatting it panicked.
fn value_text<T: Technique>(instance: &Instance<T>, name: &str) -> Result<Option<String>, ()> {
    catch_unwind(AssertUnwindSafe(|| instance.params.get(name).map(|v| v.to_string()))).map_err(|_| ())
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
    match set_value(instance, name, value) {
        Ok(()) => abi::OK,
        Err((_, message)) => {
            // The 1.0 contract: the reason goes to the host's log.
            // SAFETY: the host passed a valid table for this call.
            unsafe { Host::from_raw(host) }.warn(&message);
            abi::FAILED
        }
    }
}

/// # Safety
/// `state` from `create::<T>`, `name`/`value` readable, `error` null or a
/// buffer writable for its `cap`.
pub unsafe extern "C" fn set_param_checked<T: Technique>(
    state: *mut c_void,
    name: abi::Str,
    value: abi::Str,
    error: *mut abi::OutBuf,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    let instance = unsafe { &mut *(state as *mut Instance<T>) };
    // SAFETY: the strings are readable during the call.
    let (name, value) = unsafe { (name.as_str().unwrap_or(""), value.as_str().unwrap_or("")) };
    match set_value(instance, name, value) {
        Ok(()) => abi::OK,
        Err((status, message)) => {
            // SAFETY: null or writable for its `cap`, per the caller.
            if let Some(error) = unsafe { error.as_mut() } {
                // SAFETY: as above.
                unsafe { error.fill(&message) };
            }
            status
        }
    }
}

/// # Safety
/// `state` from `create::<T>`, `out` writable for `cap` bytes.
pub unsafe extern "C" fn get_param<T: Technique>(state: *mut c_void, name: abi::Str, out: *mut u8, cap: usize) -> i64 {
    // SAFETY: guaranteed by the caller.
    let instance = unsafe { &*(state as *const Instance<T>) };
    // SAFETY: readable during the call.
    let name = unsafe { name.as_str().unwrap_or("") };
    let Ok(Some(text)) = value_text(instance, name) else { return -1 };
    let mut buf = abi::OutBuf { ptr: out, cap, len: 0 };
    // SAFETY: `out` has room for `cap` bytes.
    unsafe { buf.fill(&text) };
    buf.len.min(cap) as i64
}

/// # Safety
/// `state` from `create::<T>`, `out` null or a buffer writable for its `cap`.
pub unsafe extern "C" fn get_param_checked<T: Technique>(
    state: *mut c_void,
    name: abi::Str,
    out: *mut abi::OutBuf,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    let instance = unsafe { &*(state as *const Instance<T>) };
    // SAFETY: readable during the call.
    let name = unsafe { name.as_str().unwrap_or("") };
    match value_text(instance, name) {
        Ok(Some(text)) => {
            // SAFETY: null or writable for its `cap`, per the caller.
            if let Some(out) = unsafe { out.as_mut() } {
                // SAFETY: as above.
                unsafe { out.fill(&text) };
            }
            abi::OK
        }
        Ok(None) => abi::UNKNOWN_PARAM,
        Err(()) => abi::FAILED,
    }
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
    // An event a newer host added is not this plugin's business.
    let Some(event) = Event::from_abi(e, data) else { return abi::OK };
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
    point: u32,
    mode: u32,
    layer: u32,
    target: abi::Handle,
    out: *mut abi::Handle,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    let instance = unsafe { &mut *(state as *mut Instance<T>) };
    // A build point or mode a newer host added: leave the target as it is.
    let (Ok(point), Ok(mode)) = (BuildPoint::try_from(point), Mode::try_from(mode)) else {
        // SAFETY: `out` is writable, per the caller.
        unsafe { *out = target };
        return abi::OK;
    };
    guarded(host, || {
        // SAFETY: valid table for this call.
        let mut g = Graph::new(unsafe { Host::from_raw(host) });
        let at = BuildContext::new(&instance.params, point, mode, layer as usize);
        let result = instance.technique.build(&mut g, &at, Tensor(target))?;
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
        set_param_checked: Some(set_param_checked::<T>),
        get_param_checked: Some(get_param_checked::<T>),
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

#[cfg(test)]
mod tests;
