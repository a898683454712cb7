//! The C ABI between traintop and its technique plugins.
//!
//! A plugin is a cdylib exporting one symbol, [`ENTRY_SYMBOL`], of type
//! [`EntryFn`]: it returns a pointer to a static [`Descriptor`] that carries the
//! ABI version and its own size (so the host refuses a plugin built against
//! another major version, and reads only the fields a smaller minor version has),
//! the technique's name, version, parameter schema and toggle class, and the
//! plugin's functions.
//!
//! Ownership: everything a side allocates, that side frees. Strings crossing the
//! boundary are borrowed [`Str`] slices valid for the duration of the call (or,
//! for descriptor fields, for the life of the loaded library, which is never
//! unloaded). Plugin state is an opaque pointer only the plugin creates and
//! destroys. Plugins never link luminal: they build graph fragments through the
//! host's [`HostApi`] over opaque [`Handle`]s.
#![allow(clippy::missing_safety_doc)]

use std::ffi::c_void;

/// Bumped on any incompatible change; the host refuses other majors.
pub const ABI_MAJOR: u32 = 1;
/// Bumped when fields are appended; a host reads only what a plugin's size covers.
pub const ABI_MINOR: u32 = 0;

/// The exported entry symbol (NUL-terminated, as `dlsym` wants it).
pub const ENTRY_SYMBOL: &[u8] = b"traintop_plugin_entry\0";

/// The entry function's type.
pub type EntryFn = unsafe extern "C" fn() -> *const Descriptor;

/// A borrowed UTF-8 string.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Str {
    pub ptr: *const u8,
    pub len: usize,
}

impl Str {
    pub const EMPTY: Str = Str { ptr: std::ptr::null(), len: 0 };

    pub fn new(s: &str) -> Str {
        Str { ptr: s.as_ptr(), len: s.len() }
    }

    /// The string, or `None` when it is not valid UTF-8.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes for the returned lifetime.
    pub unsafe fn as_str<'a>(&self) -> Option<&'a str> {
        if self.ptr.is_null() || self.len == 0 {
            return Some("");
        }
        // SAFETY: guaranteed by the caller.
        std::str::from_utf8(unsafe { std::slice::from_raw_parts(self.ptr, self.len) }).ok()
    }
}

/// A tensor in the graph being built. Opaque to the plugin.
pub type Handle = u64;

/// A parameter's type.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Float = 0,
    Int = 1,
    Bool = 2,
    /// One of `choices` (comma-separated); the value is the choice's index.
    Choice = 3,
    /// A list of layer indices (comma-separated text); empty means "default".
    Layers = 4,
}

/// One parameter of a technique.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    pub name: Str,
    /// A [`ParamKind`] as u32: values from the other side are checked, never
    /// transmuted into the enum.
    pub kind: u32,
    /// Default for Float/Int/Bool (0/1)/Choice (index).
    pub default_value: f64,
    /// Inclusive range for Float and Int.
    pub min: f64,
    pub max: f64,
    /// Choice names, comma-separated; for Layers, the default as text.
    pub choices: Str,
    pub help: Str,
    /// 1 when changing it needs a graph rebuild, 0 when it applies live.
    pub structural: u32,
}

/// How switching a technique takes effect.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToggleClass {
    Live = 0,
    Structural = 1,
    InitOnly = 2,
    Data = 3,
}

/// Which graph is being built.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train = 0,
    Eval = 1,
}

/// Trainer events a plugin may react to. The pipeline, per run: `InitParameters`
/// (fresh runs), `TrainData`, `RunStart`; per epoch `EpochStart`, per step
/// `BatchStart`, the compiled step (its graph built through the build points:
/// input, net input and activation per layer, loss, gradients before the
/// update), `BatchEnd` (`value` = loss, after the update); then
/// `ValidationEnd`, `EpochEnd`; commands as they apply (`Toggled`, `Paused`,
/// `Resumed`, `Stopping`); finally `RunEnd`. Within an event, plugins run in
/// pipeline order.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    RunStart = 0,
    RunEnd = 1,
    EpochStart = 2,
    EpochEnd = 3,
    BatchStart = 4,
    BatchEnd = 5,
    /// After validation; `value` = val_loss, `value2` = val_acc (NaN for regression).
    ValidationEnd = 6,
    /// Parameters exist and may be rewritten (`read_state`/`write_state`).
    InitParameters = 7,
    /// The training split, before the first step: `data`, `rows`, `cols`.
    TrainData = 8,
    /// The technique was just switched on (`value` = 1) or off (0).
    Toggled = 9,
    /// The user paused the run.
    Paused = 10,
    /// The user resumed the run.
    Resumed = 11,
    /// The run is stopping (user, signal or a technique); `RunEnd` follows.
    Stopping = 12,
}

/// An event's payload.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Event {
    pub kind: EventKind,
    pub epoch: u64,
    pub step: u64,
    pub value: f64,
    pub value2: f64,
    pub seed: u64,
    pub data: *const f32,
    pub rows: u64,
    pub cols: u64,
}

/// Points where a plugin rewrites the graph. `target` is the tensor to rewrite;
/// the plugin returns its replacement (or `target` unchanged).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildPoint {
    /// The input batch `[b, features]`.
    Input = 0,
    /// A layer's net input before the activation (`layer` set).
    NetInput = 1,
    /// A hidden layer's output after the activation (`layer` set).
    Activation = 2,
    /// The scalar training loss (train graph only).
    Loss = 3,
}

/// A trainable parameter and its gradient, rewritable at the gradient hook.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ParamGrad {
    pub name: Str,
    pub param: Handle,
    pub grad: Handle,
    /// 1 for weight matrices, 0 for biases and normalization parameters.
    pub is_weight: u32,
}

/// Elementwise ops with one operand.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Log2 = 0,
    Exp2 = 1,
    Sin = 2,
    Sqrt = 3,
    Recip = 4,
}

/// Elementwise ops with two operands of equal shape.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add = 0,
    Mul = 1,
    Mod = 2,
    LessThan = 3,
}

/// Reductions over one axis (the axis disappears).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum = 0,
    Max = 1,
    Mean = 2,
}

/// Log levels.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info = 0,
    Warn = 1,
}

/// The dimension value that stands for the batch size in shapes.
pub const BATCH: i64 = -1;

/// Functions the host offers a plugin during a call. `ctx` is the host's
/// context for that call; it is valid only until the call returns. Functions
/// that return a [`Handle`] return [`INVALID`] on error (and the host logs why).
#[repr(C)]
pub struct HostApi {
    pub size: usize,
    pub ctx: *mut c_void,
    /// `level` is a [`Level`] as u32.
    pub log: unsafe extern "C" fn(ctx: *mut c_void, level: u32, msg: Str),
    /// Replaces the technique's status line in the dashboard.
    pub set_status: unsafe extern "C" fn(ctx: *mut c_void, msg: Str),
    /// Asks the trainer to stop at the next batch boundary; `reason` goes to
    /// summary.json ("early_stopping" gives that stop reason, anything else
    /// "user"). `restore_best` = 1 says the technique will put back its best
    /// weights at `RunEnd` (logged with the request).
    pub request_stop: unsafe extern "C" fn(ctx: *mut c_void, reason: Str, restore_best: u32),
    /// Writes the logical shape of `t` into `dims` (up to `cap`); returns the rank.
    pub shape: unsafe extern "C" fn(ctx: *mut c_void, t: Handle, dims: *mut i64, cap: usize) -> i64,
    /// A scalar constant broadcast to the shape of `like`.
    pub constant_like: unsafe extern "C" fn(ctx: *mut c_void, value: f32, like: Handle) -> Handle,
    /// `op` is a [`UnaryOp`] as u32 (likewise for binary and reduce).
    pub unary: unsafe extern "C" fn(ctx: *mut c_void, op: u32, a: Handle) -> Handle,
    pub binary: unsafe extern "C" fn(ctx: *mut c_void, op: u32, a: Handle, b: Handle) -> Handle,
    pub reduce: unsafe extern "C" fn(ctx: *mut c_void, op: u32, a: Handle, axis: u32) -> Handle,
    /// Broadcasts `a` to the shape of `like` (numpy rules).
    pub broadcast_like: unsafe extern "C" fn(ctx: *mut c_void, a: Handle, like: Handle) -> Handle,
    /// Inserts a broadcast axis at `axis` sized like axis `like_axis` of `like`.
    pub expand: unsafe extern "C" fn(ctx: *mut c_void, a: Handle, axis: u32, like: Handle, like_axis: u32) -> Handle,
    /// Blocks gradients through `a`.
    pub detach: unsafe extern "C" fn(ctx: *mut c_void, a: Handle) -> Handle,
    /// The plugin's persistent tensor `name` (namespaced by the plugin), filled
    /// with `init` when it does not exist yet. Dims must not include BATCH.
    pub state: unsafe extern "C" fn(
        ctx: *mut c_void,
        name: Str,
        dims: *const i64,
        rank: usize,
        trainable: u32,
        init: f32,
    ) -> Handle,
    /// After each step, `value` replaces the state `state`.
    pub assign: unsafe extern "C" fn(ctx: *mut c_void, state: Handle, value: Handle),
    /// A tensor shaped like `like`, refilled with uniform [0, 1) numbers from the
    /// run's seeded generator before every execution.
    pub random_like: unsafe extern "C" fn(ctx: *mut c_void, like: Handle) -> Handle,
    /// A scalar fed with the current value of the plugin's parameter `name`
    /// before every execution, so editing it needs no rebuild.
    pub param_input: unsafe extern "C" fn(ctx: *mut c_void, name: Str) -> Handle,
    /// Reports a scalar each train step under `name` (shown in the dashboard).
    pub metric: unsafe extern "C" fn(ctx: *mut c_void, name: Str, scalar: Handle),
    /// Copies state `name` (a model parameter like "layer0.weight", or the
    /// plugin's own, unprefixed) into `out`; returns its length, or -1.
    pub read_state: unsafe extern "C" fn(ctx: *mut c_void, name: Str, out: *mut f32, cap: usize) -> i64,
    /// Overwrites state `name`; returns 0 on success, -1 on a wrong name or length.
    pub write_state: unsafe extern "C" fn(ctx: *mut c_void, name: Str, data: *const f32, len: usize) -> i32,
    /// Shape of state `name` (as `shape`), or -1.
    pub state_shape: unsafe extern "C" fn(ctx: *mut c_void, name: Str, dims: *mut i64, cap: usize) -> i64,
    /// Number of layers (hidden + output); layers below `count - 1` are hidden.
    pub layer_count: unsafe extern "C" fn(ctx: *mut c_void) -> u32,
    /// The model's trainable parameters at the loss hook (`grad` is INVALID);
    /// writes up to `cap` into `out` and returns how many there are.
    pub model_params: unsafe extern "C" fn(ctx: *mut c_void, out: *mut ParamGrad, cap: usize) -> i64,
    /// In events: creates the plugin's own state `name` (filled with `init`)
    /// in the state store if it does not exist. Such state is not part of the
    /// graph but is saved in checkpoints and restored on resume. Returns 0, or
    /// -1 outside events or with an invalid shape.
    pub ensure_state:
        unsafe extern "C" fn(ctx: *mut c_void, name: Str, dims: *const i64, rank: usize, init: f32) -> i32,
    /// In events: the names of every state in the store (model parameters,
    /// optimizer moments, techniques' states), newline-separated, into `out`;
    /// returns the full length (call again with more room if larger than `cap`).
    pub state_names: unsafe extern "C" fn(ctx: *mut c_void, out: *mut u8, cap: usize) -> i64,
}

/// Returned by host functions on error.
pub const INVALID: Handle = u64::MAX;

/// Status codes of plugin calls.
pub const OK: i32 = 0;
/// The plugin panicked or failed; the host disables it.
pub const FAILED: i32 = -1;

/// What a plugin exports.
#[repr(C)]
pub struct Descriptor {
    pub abi_major: u32,
    pub abi_minor: u32,
    /// `size_of::<Descriptor>()` as the plugin was built.
    pub size: usize,
    pub name: Str,
    pub version: Str,
    pub description: Str,
    /// A [`ToggleClass`] as u32.
    pub class: u32,
    pub params: *const ParamSpec,
    pub n_params: usize,
    /// Creates the plugin's state with default parameters.
    pub create: unsafe extern "C" fn() -> *mut c_void,
    pub destroy: unsafe extern "C" fn(state: *mut c_void),
    /// Sets a parameter from text; writes an error into the host's log on failure.
    pub set_param: unsafe extern "C" fn(state: *mut c_void, host: *const HostApi, name: Str, value: Str) -> i32,
    /// Writes the current value of a parameter as text into `out`; returns its length.
    pub get_param: unsafe extern "C" fn(state: *mut c_void, name: Str, out: *mut u8, cap: usize) -> i64,
    pub on_event: unsafe extern "C" fn(state: *mut c_void, host: *const HostApi, event: *const Event) -> i32,
    /// Rewrites `target` at a build point; the result goes to `*out`.
    pub build: unsafe extern "C" fn(
        state: *mut c_void,
        host: *const HostApi,
        point: BuildPoint,
        mode: Mode,
        layer: u32,
        target: Handle,
        out: *mut Handle,
    ) -> i32,
    /// Rewrites gradients in place (train graph only).
    pub build_gradients:
        unsafe extern "C" fn(state: *mut c_void, host: *const HostApi, grads: *mut ParamGrad, n: usize) -> i32,
}

// SAFETY: descriptors are immutable statics whose pointers refer to other
// immutable statics of the same library, which is never unloaded.
unsafe impl Sync for Descriptor {}
// SAFETY: as above; parameter specs point at static strings.
unsafe impl Sync for ParamSpec {}
// SAFETY: see `Sync` above; nothing in a descriptor is mutated after creation.
unsafe impl Send for Descriptor {}

/// Converts enum values that crossed the boundary as u32, refusing unknown ones
/// (a value outside an enum's variants must never become that enum).
macro_rules! from_u32 {
    ($($t:ident { $($v:ident),* $(,)? })*) => {$(
        impl TryFrom<u32> for $t {
            type Error = u32;
            fn try_from(v: u32) -> Result<Self, u32> {
                $(if v == $t::$v as u32 { return Ok($t::$v); })*
                Err(v)
            }
        }
    )*};
}

from_u32! {
    ParamKind { Float, Int, Bool, Choice, Layers }
    ToggleClass { Live, Structural, InitOnly, Data }
    UnaryOp { Log2, Exp2, Sin, Sqrt, Recip }
    BinaryOp { Add, Mul, Mod, LessThan }
    ReduceOp { Sum, Max, Mean }
    Level { Info, Warn }
}
