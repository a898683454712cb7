//! The C ABI between traintop and its technique plugins.
//!
//! A plugin is a cdylib exporting one symbol, [`ENTRY_SYMBOL`], of type
//! [`EntryFn`]: it returns a pointer to a static [`Descriptor`] that carries the
//! ABI version and its own size, the technique's name, version, parameter
//! schema and toggle class, and the plugin's functions.
//!
//! # Versions
//! [`ABI_MAJOR`] changes on any incompatible change: the host refuses a
//! descriptor of another major, naming both versions. [`ABI_MINOR`] changes
//! when fields are appended to the descriptor: a host reads a same-major
//! descriptor by its `size`, and a field the size does not cover is absent
//! (a 1.0 plugin, [`DESCRIPTOR_SIZE_1_0`] bytes, has no `set_param_checked`).
//! A descriptor larger than the host's (a newer minor) is read up to the
//! host's size. A size below the smallest layout of the major, or below the
//! layout of the minor the descriptor claims, is refused.
//!
//! # Enums cross as integers
//! Every enum crosses the boundary as a `u32` (`Event::kind`, `build`'s
//! point and mode, `ParamSpec::kind`, the toggle class, op codes, log
//! levels), never as a Rust enum by value: a value the receiver does not know
//! (a newer peer's new variant) is then a number it can skip or refuse, not
//! undefined behaviour. The enums below name the values; `TryFrom<u32>`
//! refuses unknown ones, and they are `#[non_exhaustive]` so that adding a
//! variant breaks no plugin's code. The SDK skips events, build points and
//! modes it does not know (the target is left unchanged); the host refuses
//! unknown parameter kinds and toggle classes at load time, and unknown op
//! codes and levels per call. A host sends a plugin only values that exist
//! in the minor version the plugin declares (1.0 plugins declared these
//! fields as Rust enums, so any other value would be undefined behaviour in
//! them).
//!
//! # Threads
//! Each function says which thread may call it, as CLAP does:
//! - **[loader-thread]**: the thread loading the library. The entry function
//!   may be called more than once and must return the same descriptor.
//! - **[owner-thread]**: the thread that owns the plugin instance (`state`).
//!   An instance has one owner at a time and calls into it never overlap;
//!   the host may hand an instance to another thread between calls
//!   (traintop creates instances while setting a run up and trains on
//!   another thread). Instances of one library may live on different threads
//!   at once, so a plugin keeps no unsynchronized global state.
//! - **[in-call]**: host functions, callable only from inside the hook that
//!   received the [`HostApi`], on that hook's thread, before it returns; the
//!   table and its `ctx` must not be kept.
//!
//! # Ownership
//! Everything a side allocates, that side frees. Strings crossing the
//! boundary are borrowed [`Str`] slices valid for the duration of the call (or,
//! for descriptor fields, for the life of the loaded library, which is never
//! unloaded); text a callee returns is copied into the caller's [`OutBuf`].
//! Plugin state is an opaque pointer only the plugin creates and destroys.
//! Plugins never link luminal: they build graph fragments through the host's
//! [`HostApi`] over opaque [`Handle`]s.
#![allow(clippy::missing_safety_doc)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::ffi::c_void;
use std::mem::{offset_of, size_of};

/// Bumped on any incompatible change; the host refuses other majors.
pub const ABI_MAJOR: u32 = 1;
/// Bumped when fields are appended; a host reads only what a plugin's size covers.
/// 1.1: `set_param_checked` and `get_param_checked` (status codes, error
/// text and full lengths through the ABI); every enum crosses as `u32`.
pub const ABI_MINOR: u32 = 1;

/// The size of a 1.0 descriptor (64-bit targets: 144 bytes): everything up
/// to `build_gradients`.
pub const DESCRIPTOR_SIZE_1_0: usize = offset_of!(Descriptor, set_param_checked);
/// The size of a 1.1 descriptor, this crate's.
pub const DESCRIPTOR_SIZE_1_1: usize = size_of::<Descriptor>();

/// The descriptor size a plugin declaring minor version `minor` (of this
/// major) must at least have: that minor's layout, or this crate's for a
/// newer minor.
pub const fn descriptor_size_of_minor(minor: u32) -> usize {
    match minor {
        0 => DESCRIPTOR_SIZE_1_0,
        _ => DESCRIPTOR_SIZE_1_1,
    }
}

/// The exported entry symbol (NUL-terminated, as `dlsym` wants it).
pub const ENTRY_SYMBOL: &[u8] = b"traintop_plugin_entry\0";

/// The entry function's type. [loader-thread]
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

/// A caller's buffer for text the callee returns: the callee writes at most
/// `cap` bytes (UTF-8) to `ptr` and sets `len` to the text's full length, so
/// `len > cap` says the text was cut and how much room a second call needs.
#[repr(C)]
#[derive(Debug)]
pub struct OutBuf {
    pub ptr: *mut u8,
    pub cap: usize,
    pub len: usize,
}

impl OutBuf {
    /// Copies as much of `text` as fits and records its full length.
    ///
    /// # Safety
    /// `ptr` must be writable for `cap` bytes (or `cap` must be 0).
    pub unsafe fn fill(&mut self, text: &str) {
        let n = text.len().min(self.cap);
        if n > 0 && !self.ptr.is_null() {
            // SAFETY: `ptr` has room for `cap` >= `n` bytes, per the caller.
            unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), self.ptr, n) };
        }
        self.len = text.len();
    }
}

/// A tensor in the graph being built. Opaque to the plugin.
pub type Handle = u64;

/// A parameter's type.
#[repr(u32)]
#[non_exhaustive]
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
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToggleClass {
    Live = 0,
    Structural = 1,
    InitOnly = 2,
    Data = 3,
}

/// Which graph is being built.
#[repr(u32)]
#[non_exhaustive]
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
#[non_exhaustive]
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
    /// An [`EventKind`] as u32; a receiver skips values it does not know.
    pub kind: u32,
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add = 0,
    Mul = 1,
    Mod = 2,
    LessThan = 3,
}

/// Reductions over one axis (the axis disappears).
#[repr(u32)]
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum = 0,
    Max = 1,
    Mean = 2,
}

/// Log levels.
#[repr(u32)]
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info = 0,
    Warn = 1,
}

/// The dimension value that stands for the batch size in shapes.
pub const BATCH: i64 = -1;

/// Functions the host offers a plugin during a call. `ctx` is the host's
/// context for that call; it is valid only until the call returns. Every
/// function is [in-call]: called from inside the hook that received the
/// table, on its thread. Graph functions work in `build` and
/// `build_gradients`; state functions (`read_state`, `write_state`,
/// `ensure_state`, `state_names`) in `on_event`. Functions that return a
/// [`Handle`] return [`INVALID`] on error (and the host logs why). `size` is
/// `size_of::<HostApi>()` as the host built it: a plugin calls no function
/// the size does not cover (all of these are 1.0).
#[repr(C)]
pub struct HostApi {
    pub size: usize,
    pub ctx: *mut c_void,
    /// [in-call] `level` is a [`Level`] as u32.
    pub log: unsafe extern "C" fn(ctx: *mut c_void, level: u32, msg: Str),
    /// [in-call] Replaces the technique's status line in the dashboard.
    pub set_status: unsafe extern "C" fn(ctx: *mut c_void, msg: Str),
    /// [in-call] Asks the trainer to stop at the next batch boundary; `reason` goes to
    /// summary.json ("early_stopping" gives that stop reason, anything else
    /// "user"). `restore_best` = 1 says the technique will put back its best
    /// weights at `RunEnd` (logged with the request).
    pub request_stop: unsafe extern "C" fn(ctx: *mut c_void, reason: Str, restore_best: u32),
    /// [in-call] Writes the logical shape of `t` into `dims` (up to `cap`); returns the rank.
    pub shape: unsafe extern "C" fn(ctx: *mut c_void, t: Handle, dims: *mut i64, cap: usize) -> i64,
    /// [in-call] A scalar constant broadcast to the shape of `like`.
    pub constant_like: unsafe extern "C" fn(ctx: *mut c_void, value: f32, like: Handle) -> Handle,
    /// [in-call] `op` is a [`UnaryOp`] as u32 (likewise for binary and reduce).
    pub unary: unsafe extern "C" fn(ctx: *mut c_void, op: u32, a: Handle) -> Handle,
    /// [in-call] Elementwise `op` on two tensors of equal shape.
    pub binary: unsafe extern "C" fn(ctx: *mut c_void, op: u32, a: Handle, b: Handle) -> Handle,
    /// [in-call] Reduces axis `axis` of `a` (the axis disappears).
    pub reduce: unsafe extern "C" fn(ctx: *mut c_void, op: u32, a: Handle, axis: u32) -> Handle,
    /// [in-call] Broadcasts `a` to the shape of `like` (numpy rules).
    pub broadcast_like: unsafe extern "C" fn(ctx: *mut c_void, a: Handle, like: Handle) -> Handle,
    /// [in-call] Inserts a broadcast axis at `axis` sized like axis `like_axis` of `like`.
    pub expand: unsafe extern "C" fn(ctx: *mut c_void, a: Handle, axis: u32, like: Handle, like_axis: u32) -> Handle,
    /// [in-call] Blocks gradients through `a`.
    pub detach: unsafe extern "C" fn(ctx: *mut c_void, a: Handle) -> Handle,
    /// [in-call] The plugin's persistent tensor `name` (namespaced by the plugin), filled
    /// with `init` when it does not exist yet. Dims must not include BATCH.
    pub state: unsafe extern "C" fn(
        ctx: *mut c_void,
        name: Str,
        dims: *const i64,
        rank: usize,
        trainable: u32,
        init: f32,
    ) -> Handle,
    /// [in-call] After each step, `value` replaces the state `state`.
    pub assign: unsafe extern "C" fn(ctx: *mut c_void, state: Handle, value: Handle),
    /// [in-call] A tensor shaped like `like`, refilled with uniform [0, 1) numbers from the
    /// run's seeded generator before every execution.
    pub random_like: unsafe extern "C" fn(ctx: *mut c_void, like: Handle) -> Handle,
    /// [in-call] A scalar fed with the current value of the plugin's parameter `name`
    /// before every execution, so editing it needs no rebuild.
    pub param_input: unsafe extern "C" fn(ctx: *mut c_void, name: Str) -> Handle,
    /// [in-call] Reports a scalar each train step under `name` (shown in the dashboard).
    pub metric: unsafe extern "C" fn(ctx: *mut c_void, name: Str, scalar: Handle),
    /// [in-call] Copies state `name` (a model parameter like "layer0.weight", or the
    /// plugin's own, unprefixed) into `out`; returns its length, or -1.
    pub read_state: unsafe extern "C" fn(ctx: *mut c_void, name: Str, out: *mut f32, cap: usize) -> i64,
    /// [in-call] Overwrites state `name`; returns 0 on success, -1 on a wrong name or length.
    pub write_state: unsafe extern "C" fn(ctx: *mut c_void, name: Str, data: *const f32, len: usize) -> i32,
    /// [in-call] Shape of state `name` (as `shape`), or -1.
    pub state_shape: unsafe extern "C" fn(ctx: *mut c_void, name: Str, dims: *mut i64, cap: usize) -> i64,
    /// [in-call] Number of layers (hidden + output); layers below `count - 1` are hidden.
    pub layer_count: unsafe extern "C" fn(ctx: *mut c_void) -> u32,
    /// [in-call] The model's trainable parameters at the loss hook (`grad` is INVALID);
    /// writes up to `cap` into `out` and returns how many there are.
    pub model_params: unsafe extern "C" fn(ctx: *mut c_void, out: *mut ParamGrad, cap: usize) -> i64,
    /// [in-call] In events: creates the plugin's own state `name` (filled with `init`)
    /// in the state store if it does not exist. Such state is not part of the
    /// graph but is saved in checkpoints and restored on resume. Returns 0, or
    /// -1 outside events or with an invalid shape.
    pub ensure_state:
        unsafe extern "C" fn(ctx: *mut c_void, name: Str, dims: *const i64, rank: usize, init: f32) -> i32,
    /// [in-call] In events: the names of every state in the store (model parameters,
    /// optimizer moments, techniques' states), newline-separated, into `out`;
    /// returns the full length (call again with more room if larger than `cap`).
    pub state_names: unsafe extern "C" fn(ctx: *mut c_void, out: *mut u8, cap: usize) -> i64,
}

/// Returned by host functions on error.
pub const INVALID: Handle = u64::MAX;

/// Status codes of plugin calls (`i32`). A host reads any negative code it
/// does not know as [`FAILED`].
pub const OK: i32 = 0;
/// The plugin panicked or failed; the host disables it.
pub const FAILED: i32 = -1;
/// `set_param_checked`/`get_param_checked`: the technique has no parameter
/// of that name. (1.1)
pub const UNKNOWN_PARAM: i32 = -2;
/// `set_param_checked`: the value is not valid for the parameter (kind,
/// range, choices); the error text says why. (1.1)
pub const INVALID_VALUE: i32 = -3;

/// What a plugin exports. Fields up to `build_gradients` are ABI 1.0
/// ([`DESCRIPTOR_SIZE_1_0`] bytes); later fields were appended by the minor
/// version named in their note and may be null (`None`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Descriptor {
    pub abi_major: u32,
    pub abi_minor: u32,
    /// `size_of::<Descriptor>()` as the plugin was built: the host reads the
    /// fields this size covers and treats the rest as absent.
    pub size: usize,
    pub name: Str,
    pub version: Str,
    pub description: Str,
    /// A [`ToggleClass`] as u32.
    pub class: u32,
    pub params: *const ParamSpec,
    pub n_params: usize,
    /// [owner-thread] Creates the plugin's state with default parameters;
    /// null on failure. The calling thread becomes the instance's owner.
    pub create: unsafe extern "C" fn() -> *mut c_void,
    /// [owner-thread] Destroys a state from `create`; called once.
    pub destroy: unsafe extern "C" fn(state: *mut c_void),
    /// [owner-thread] Sets a parameter from text; returns [`OK`], or
    /// [`FAILED`] after writing the reason into the host's log. (1.0; a host
    /// uses `set_param_checked` where the plugin has it.)
    pub set_param: unsafe extern "C" fn(state: *mut c_void, host: *const HostApi, name: Str, value: Str) -> i32,
    /// [owner-thread] Writes the current value of a parameter as text into
    /// `out` (at most `cap` bytes); returns the bytes written, or -1 for an
    /// unknown name. (1.0; a host uses `get_param_checked` where the plugin
    /// has it.)
    pub get_param: unsafe extern "C" fn(state: *mut c_void, name: Str, out: *mut u8, cap: usize) -> i64,
    /// [owner-thread] Handles a trainer event; returns [`OK`] or [`FAILED`]
    /// (the host disables the plugin). An event kind the plugin does not
    /// know is skipped with [`OK`].
    pub on_event: unsafe extern "C" fn(state: *mut c_void, host: *const HostApi, event: *const Event) -> i32,
    /// [owner-thread] Rewrites `target` at a build point; the result goes
    /// to `*out`. `point` is a [`BuildPoint`] and `mode` a [`Mode`] as u32;
    /// for values it does not know the plugin writes `target` unchanged.
    pub build: unsafe extern "C" fn(
        state: *mut c_void,
        host: *const HostApi,
        point: u32,
        mode: u32,
        layer: u32,
        target: Handle,
        out: *mut Handle,
    ) -> i32,
    /// [owner-thread] Rewrites gradients in place (train graph only).
    pub build_gradients:
        unsafe extern "C" fn(state: *mut c_void, host: *const HostApi, grads: *mut ParamGrad, n: usize) -> i32,
    /// [owner-thread] (1.1) Sets a parameter from text. Returns [`OK`],
    /// [`UNKNOWN_PARAM`], [`INVALID_VALUE`] or [`FAILED`] (a panic: the host
    /// disables the plugin); on an error the reason is written into `*error`
    /// (which may be null) with its full length.
    pub set_param_checked:
        Option<unsafe extern "C" fn(state: *mut c_void, name: Str, value: Str, error: *mut OutBuf) -> i32>,
    /// [owner-thread] (1.1) Writes the current value of a parameter as text
    /// into `*out`, with its full length (call again with more room when
    /// `len > cap`). Returns [`OK`], [`UNKNOWN_PARAM`] or [`FAILED`].
    pub get_param_checked: Option<unsafe extern "C" fn(state: *mut c_void, name: Str, out: *mut OutBuf) -> i32>,
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

        impl From<$t> for u32 {
            fn from(v: $t) -> u32 {
                v as u32
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
    Mode { Train, Eval }
    EventKind {
        RunStart, RunEnd, EpochStart, EpochEnd, BatchStart, BatchEnd, ValidationEnd,
        InitParameters, TrainData, Toggled, Paused, Resumed, Stopping,
    }
    BuildPoint { Input, NetInput, Activation, Loss }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_1_0_layout_ends_where_1_1_appends() {
        // 1.0 on 64-bit targets: 2 u32, usize, 3 Str, u32 (padded), pointer,
        // usize and seven function pointers.
        #[cfg(target_pointer_width = "64")]
        assert_eq!(DESCRIPTOR_SIZE_1_0, 8 + 8 + 3 * 16 + 8 + 8 + 8 + 7 * 8);
        assert_eq!(DESCRIPTOR_SIZE_1_1, DESCRIPTOR_SIZE_1_0 + 2 * size_of::<usize>());
        assert_eq!(descriptor_size_of_minor(0), DESCRIPTOR_SIZE_1_0);
        assert_eq!(descriptor_size_of_minor(1), DESCRIPTOR_SIZE_1_1);
        assert_eq!(descriptor_size_of_minor(7), DESCRIPTOR_SIZE_1_1);
    }

    #[test]
    fn unknown_enum_values_are_refused_not_transmuted() {
        assert_eq!(EventKind::try_from(12), Ok(EventKind::Stopping));
        assert_eq!(EventKind::try_from(13), Err(13));
        assert_eq!(BuildPoint::try_from(u32::MAX), Err(u32::MAX));
        assert_eq!(Mode::try_from(u32::from(Mode::Eval)), Ok(Mode::Eval));
        assert_eq!(ParamKind::try_from(5), Err(5));
    }

    #[test]
    fn out_buf_reports_the_full_length_of_cut_text() {
        let mut room = [0u8; 4];
        let mut buf = OutBuf { ptr: room.as_mut_ptr(), cap: room.len(), len: 0 };
        // SAFETY: `room` has `cap` bytes.
        unsafe { buf.fill("dropout") };
        assert_eq!((buf.len, &room), (7, b"drop"));
        let mut empty = OutBuf { ptr: std::ptr::null_mut(), cap: 0, len: 0 };
        // SAFETY: cap 0 writes nothing.
        unsafe { empty.fill("x") };
        assert_eq!(empty.len, 1);
    }
}
