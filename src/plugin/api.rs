//! The host side of the function table plugins call: graph building over the
//! engine's [`GraphBuilder`] and state access over the [`StateStore`], reached
//! through a per-call context. Every function checks its handles and returns
//! `INVALID` (logging why) rather than trusting the plugin.

use std::ffi::c_void;

use traintop_plugin_abi as abi;

use super::call_state::{Caller, FeedKind, HostState};
use crate::engine::graph::{BinaryOp, GraphBuilder, ReduceOp, Tensor, UnaryOp};
use crate::engine::shape::Dim;
use crate::engine::{Mode, StateStore};

/// What a plugin call may touch. Lives on the host's stack for one call.
pub(crate) struct CallCtx<'a> {
    pub state: &'a mut HostState,
    pub caller: Caller<'a>,
    pub builder: Option<&'a mut GraphBuilder>,
    pub store: Option<&'a mut StateStore>,
    pub mode: Mode,
}

impl CallCtx<'_> {
    fn prefix(&self) -> String {
        format!("{}.", self.caller.name)
    }

    fn complain(&mut self, msg: String) {
        let name = self.caller.name;
        self.state.log(format!("plugin {name}: {msg}"));
    }

    fn tensor(&mut self, h: abi::Handle) -> Option<Tensor> {
        let len = self.builder.as_ref().map(|b| b.tape_len()).unwrap_or(0);
        if (h as usize) < len {
            Some(Tensor(h as usize))
        } else {
            self.complain(format!("invalid tensor handle {h}"));
            None
        }
    }

    /// Resolves a state name: the plugin's own (prefixed) first, then a model
    /// parameter by its full name.
    fn state_name(&self, name: &str) -> Option<String> {
        let store = self.store.as_deref()?;
        let own = format!("{}{name}", self.prefix());
        if store.contains(&own) {
            Some(own)
        } else if store.contains(name) {
            Some(name.to_string())
        } else {
            None
        }
    }
}

/// Builds the table for one call.
pub(crate) fn table(ctx: &mut CallCtx) -> abi::HostApi {
    abi::HostApi {
        size: std::mem::size_of::<abi::HostApi>(),
        ctx: ctx as *mut CallCtx as *mut c_void,
        log,
        set_status,
        request_stop,
        shape,
        constant_like,
        unary,
        binary,
        reduce,
        broadcast_like,
        expand,
        detach,
        state,
        assign,
        random_like,
        param_input,
        metric,
        read_state,
        write_state,
        state_shape,
        layer_count,
        model_params,
        ensure_state,
        state_names,
    }
}

/// # Safety
/// `ctx` is the pointer `table` stored, valid for the current call.
unsafe fn cx<'a>(ctx: *mut c_void) -> &'a mut CallCtx<'a> {
    // SAFETY: guaranteed by the caller; one call at a time.
    unsafe { &mut *(ctx as *mut CallCtx) }
}

/// # Safety
/// `s` readable for the call.
unsafe fn text(s: abi::Str) -> String {
    // SAFETY: guaranteed by the caller.
    unsafe { s.as_str() }.unwrap_or("<invalid UTF-8>").to_string()
}

fn dims_of(b: &GraphBuilder, t: Tensor) -> Vec<i64> {
    b.shape(t).iter().map(|d| if let Dim::Fixed(n) = d { *n as i64 } else { abi::BATCH }).collect()
}

/// Logs why a call was refused and returns the invalid handle.
fn refuse(ctx: *mut c_void, why: String) -> abi::Handle {
    // SAFETY: called from the table's functions with their `ctx`.
    unsafe { cx(ctx) }.complain(why);
    abi::INVALID
}

/// A slice from a plugin's pointer and length; a null pointer (allowed with
/// length 0) is the empty slice.
///
/// # Safety
/// When non-null, `ptr` must be readable for `len` values during the call.
unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// Runs a graph-building closure with checked handles.
fn build(
    ctx: *mut c_void,
    handles: &[abi::Handle],
    f: impl FnOnce(&mut GraphBuilder, &[Tensor]) -> Result<Tensor, String>,
) -> abi::Handle {
    // SAFETY: called from the table's functions with their `ctx`.
    let c = unsafe { cx(ctx) };
    let mut ts = vec![];
    for &h in handles {
        match c.tensor(h) {
            Some(t) => ts.push(t),
            None => return abi::INVALID,
        }
    }
    let Some(b) = c.builder.as_deref_mut() else {
        c.complain("graph functions are only available in build hooks".into());
        return abi::INVALID;
    };
    // Shape mismatches assert inside the builder; report them as errors instead.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(b, &ts))) {
        Ok(Ok(t)) => t.0 as abi::Handle,
        Ok(Err(msg)) => {
            c.complain(msg);
            abi::INVALID
        }
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            c.complain(msg.unwrap_or_else(|| "invalid graph operation".into()));
            abi::INVALID
        }
    }
}

unsafe extern "C" fn log(ctx: *mut c_void, level: u32, msg: abi::Str) {
    // SAFETY: table contract.
    let (c, msg) = unsafe { (cx(ctx), text(msg)) };
    // A level this host does not know is logged as a warning.
    let warn = abi::Level::try_from(level) != Ok(abi::Level::Info);
    if let (true, Some(reasons)) = (warn, c.state.set_param_warnings.as_mut()) {
        reasons.push(msg);
        return;
    }
    let tag = if warn { "warning: " } else { "" };
    let name = c.caller.name;
    c.state.log(format!("{tag}{name}: {msg}"));
}

unsafe extern "C" fn set_status(ctx: *mut c_void, msg: abi::Str) {
    // SAFETY: table contract.
    let (c, msg) = unsafe { (cx(ctx), text(msg)) };
    *c.caller.status = msg;
}

unsafe extern "C" fn request_stop(ctx: *mut c_void, reason: abi::Str, restore_best: u32) {
    // SAFETY: table contract.
    let (c, reason) = unsafe { (cx(ctx), text(reason)) };
    c.state.stop_request = Some((reason, restore_best != 0));
}

unsafe extern "C" fn shape(ctx: *mut c_void, t: abi::Handle, out: *mut i64, cap: usize) -> i64 {
    // SAFETY: table contract.
    let c = unsafe { cx(ctx) };
    let Some(t) = c.tensor(t) else { return -1 };
    let Some(b) = c.builder.as_deref() else { return -1 };
    let dims = dims_of(b, t);
    for (i, d) in dims.iter().take(cap).enumerate() {
        // SAFETY: `out` has room for `cap` values.
        unsafe { *out.add(i) = *d };
    }
    dims.len() as i64
}

unsafe extern "C" fn constant_like(ctx: *mut c_void, value: f32, like: abi::Handle) -> abi::Handle {
    build(ctx, &[like], |b, t| {
        let shape = b.shape(t[0]).to_vec();
        Ok(b.constant(value, &shape))
    })
}

unsafe extern "C" fn unary(ctx: *mut c_void, op: u32, a: abi::Handle) -> abi::Handle {
    let op = match abi::UnaryOp::try_from(op) {
        Ok(abi::UnaryOp::Log2) => UnaryOp::Log2,
        Ok(abi::UnaryOp::Exp2) => UnaryOp::Exp2,
        Ok(abi::UnaryOp::Sin) => UnaryOp::Sin,
        Ok(abi::UnaryOp::Sqrt) => UnaryOp::Sqrt,
        Ok(abi::UnaryOp::Recip) => UnaryOp::Recip,
        // Unknown to this host (a newer plugin, or garbage).
        _ => return refuse(ctx, format!("unknown unary op {op}")),
    };
    build(ctx, &[a], |b, t| Ok(b.unary(op, t[0])))
}

unsafe extern "C" fn binary(ctx: *mut c_void, op: u32, a: abi::Handle, bb: abi::Handle) -> abi::Handle {
    let op = match abi::BinaryOp::try_from(op) {
        Ok(abi::BinaryOp::Add) => BinaryOp::Add,
        Ok(abi::BinaryOp::Mul) => BinaryOp::Mul,
        Ok(abi::BinaryOp::Mod) => BinaryOp::Mod,
        Ok(abi::BinaryOp::LessThan) => BinaryOp::LessThan,
        _ => return refuse(ctx, format!("unknown binary op {op}")),
    };
    build(ctx, &[a, bb], |b, t| {
        if b.shape(t[0]) != b.shape(t[1]) {
            return Err(format!(
                "{op:?}: shapes {:?} and {:?} differ (use broadcast_like)",
                b.shape(t[0]),
                b.shape(t[1])
            ));
        }
        Ok(b.binary(op, t[0], t[1]))
    })
}

unsafe extern "C" fn reduce(ctx: *mut c_void, op: u32, a: abi::Handle, axis: u32) -> abi::Handle {
    let op = match abi::ReduceOp::try_from(op) {
        Ok(op @ (abi::ReduceOp::Sum | abi::ReduceOp::Max | abi::ReduceOp::Mean)) => op,
        _ => return refuse(ctx, format!("unknown reduce op {op}")),
    };
    build(ctx, &[a], |b, t| {
        let axis = axis as usize;
        if axis >= b.shape(t[0]).len() {
            return Err(format!("reduce: axis {axis} out of range"));
        }
        Ok(match op {
            abi::ReduceOp::Sum => b.reduce(ReduceOp::Sum, t[0], axis),
            abi::ReduceOp::Max => b.reduce(ReduceOp::Max, t[0], axis),
            // Mean: the only other op let through above.
            _ => b.mean(t[0], axis),
        })
    })
}

unsafe extern "C" fn broadcast_like(ctx: *mut c_void, a: abi::Handle, like: abi::Handle) -> abi::Handle {
    build(ctx, &[a, like], |b, t| {
        let shape = b.shape(t[1]).to_vec();
        Ok(b.broadcast_to(t[0], &shape))
    })
}

unsafe extern "C" fn expand(
    ctx: *mut c_void,
    a: abi::Handle,
    axis: u32,
    like: abi::Handle,
    like_axis: u32,
) -> abi::Handle {
    build(ctx, &[a, like], |b, t| {
        let size = *b.shape(t[1]).get(like_axis as usize).ok_or("expand: like_axis out of range")?;
        if axis as usize > b.shape(t[0]).len() {
            return Err("expand: axis out of range".into());
        }
        Ok(b.expand(t[0], axis as usize, size))
    })
}

unsafe extern "C" fn detach(ctx: *mut c_void, a: abi::Handle) -> abi::Handle {
    build(ctx, &[a], |b, t| Ok(b.detach(t[0])))
}

unsafe extern "C" fn state(
    ctx: *mut c_void,
    name: abi::Str,
    dims: *const i64,
    rank: usize,
    trainable: u32,
    init: f32,
) -> abi::Handle {
    // SAFETY: table contract; `dims` readable for `rank`.
    let (c, name, dims) = unsafe { (cx(ctx), text(name), slice(dims, rank).to_vec()) };
    if dims.iter().any(|&d| d <= 0) {
        c.complain(format!("state {name}: dimensions must be positive (no batch dimension)"));
        return abi::INVALID;
    }
    let full = format!("{}{name}", c.prefix());
    c.state.inits.insert(full.clone(), init);
    let Some(b) = c.builder.as_deref_mut() else { return abi::INVALID };
    let shape: Vec<Dim> = dims.iter().map(|&d| Dim::Fixed(d as usize)).collect();
    if let Some(existing) = b.states().iter().find(|s| s.name == full) {
        return existing.tensor.0 as abi::Handle;
    }
    b.state(&full, &shape, trainable != 0).0 as abi::Handle
}

unsafe extern "C" fn assign(ctx: *mut c_void, state: abi::Handle, value: abi::Handle) {
    build(ctx, &[state, value], |b, t| {
        let Some(slot) = b.states().iter().find(|s| s.tensor == t[0]) else {
            return Err("assign: the target is not a state".into());
        };
        if slot.next.is_some() {
            return Err("assign: the state already has a new value".into());
        }
        if b.shape(t[0]) != b.shape(t[1]) {
            return Err("assign: shapes differ".into());
        }
        // The new value must be a tensor of its own: a state, or a value
        // another state already takes, would be moved out twice.
        let value_node = b.node(t[1]).id;
        let taken = b
            .states()
            .iter()
            .any(|s| b.node(s.tensor).id == value_node || s.next.is_some_and(|n| b.node(n).id == value_node));
        if taken {
            return Err("assign: the value is a state or already another state's new value".into());
        }
        b.assign(t[0], t[1]);
        Ok(t[0])
    });
}

unsafe extern "C" fn random_like(ctx: *mut c_void, like: abi::Handle) -> abi::Handle {
    // SAFETY: table contract.
    let c = unsafe { cx(ctx) };
    let Some(t) = c.tensor(like) else { return abi::INVALID };
    let (mode, plugin) = (c.mode, c.caller.index);
    let Some(b) = c.builder.as_deref_mut() else { return abi::INVALID };
    let shape = b.shape(t).to_vec();
    let name = c.state.add_feed(plugin, c.caller.name, mode, FeedKind::Random(shape.clone()));
    b.input(&name, &shape).0 as abi::Handle
}

unsafe extern "C" fn param_input(ctx: *mut c_void, name: abi::Str) -> abi::Handle {
    // SAFETY: table contract.
    let (c, param) = unsafe { (cx(ctx), text(name)) };
    if !c.caller.params.iter().any(|p| p.name == param) {
        c.complain(format!("param_input: no parameter `{param}`"));
        return abi::INVALID;
    }
    let (mode, plugin) = (c.mode, c.caller.index);
    let Some(b) = c.builder.as_deref_mut() else { return abi::INVALID };
    let input = c.state.add_feed(plugin, c.caller.name, mode, FeedKind::Param(param));
    b.input(&input, &[]).0 as abi::Handle
}

unsafe extern "C" fn metric(ctx: *mut c_void, name: abi::Str, scalar: abi::Handle) {
    // SAFETY: table contract.
    let (c, name) = unsafe { (cx(ctx), text(name)) };
    if c.mode != Mode::Train {
        return;
    }
    let full = format!("{}{}{name}", crate::engine::mlp::outputs::METRIC_PREFIX, c.prefix());
    build(ctx, &[scalar], |b, t| {
        if !b.shape(t[0]).is_empty() {
            return Err(format!("metric {name}: not a scalar"));
        }
        b.output(&full, t[0]);
        Ok(t[0])
    });
}

unsafe extern "C" fn read_state(ctx: *mut c_void, name: abi::Str, out: *mut f32, cap: usize) -> i64 {
    // SAFETY: table contract.
    let (c, name) = unsafe { (cx(ctx), text(name)) };
    let Some(full) = c.state_name(&name) else { return -1 };
    let Some(values) = c.store.as_deref().and_then(|s| s.read(&full).ok()) else { return -1 };
    if values.len() > cap {
        return -1;
    }
    // SAFETY: `out` has room for `cap` >= len values.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), out, values.len()) };
    values.len() as i64
}

unsafe extern "C" fn write_state(ctx: *mut c_void, name: abi::Str, data: *const f32, len: usize) -> i32 {
    // SAFETY: table contract; `data` readable for `len`.
    let (c, name, values) = unsafe { (cx(ctx), text(name), slice(data, len).to_vec()) };
    let Some(full) = c.state_name(&name) else {
        c.complain(format!("write_state: no state `{name}`"));
        return -1;
    };
    let Some(store) = c.store.as_deref_mut() else { return -1 };
    let shape = store.shape(&full).cloned().unwrap_or_default();
    if shape.iter().map(|d| d.resolve(0)).product::<usize>() != len {
        c.complain(format!("write_state {name}: wrong length {len}"));
        return -1;
    }
    store.insert(&full, shape, values);
    0
}

unsafe extern "C" fn state_shape(ctx: *mut c_void, name: abi::Str, out: *mut i64, cap: usize) -> i64 {
    // SAFETY: table contract.
    let (c, name) = unsafe { (cx(ctx), text(name)) };
    let Some(full) = c.state_name(&name) else { return -1 };
    let Some(shape) = c.store.as_deref().and_then(|s| s.shape(&full)) else { return -1 };
    for (i, d) in shape.iter().take(cap).enumerate() {
        // SAFETY: `out` has room for `cap` values.
        unsafe { *out.add(i) = d.resolve(0) as i64 };
    }
    shape.len() as i64
}

unsafe extern "C" fn layer_count(ctx: *mut c_void) -> u32 {
    // SAFETY: table contract.
    unsafe { cx(ctx) }.state.layers as u32
}

unsafe extern "C" fn model_params(ctx: *mut c_void, out: *mut abi::ParamGrad, cap: usize) -> i64 {
    // SAFETY: table contract.
    let c = unsafe { cx(ctx) };
    let params = &c.state.current_params;
    for (i, (name, t, is_weight)) in params.iter().take(cap).enumerate() {
        let p = abi::ParamGrad {
            name: abi::Str::new(name),
            param: t.0 as abi::Handle,
            grad: abi::INVALID,
            is_weight: *is_weight as u32,
        };
        // SAFETY: `out` has room for `cap` entries; names live in the host until the hook returns.
        unsafe { *out.add(i) = p };
    }
    params.len() as i64
}

unsafe extern "C" fn ensure_state(ctx: *mut c_void, name: abi::Str, dims: *const i64, rank: usize, init: f32) -> i32 {
    // SAFETY: table contract; `dims` readable for `rank`.
    let (c, name, dims) = unsafe { (cx(ctx), text(name), slice(dims, rank).to_vec()) };
    if dims.iter().any(|&d| d <= 0) {
        c.complain(format!("ensure_state {name}: dimensions must be positive"));
        return -1;
    }
    let full = format!("{}{name}", c.prefix());
    let Some(store) = c.store.as_deref_mut() else { return -1 };
    if !store.contains(&full) {
        let shape: Vec<Dim> = dims.iter().map(|&d| Dim::Fixed(d as usize)).collect();
        let n = dims.iter().product::<i64>() as usize;
        store.insert(&full, shape, vec![init; n]);
    }
    0
}

unsafe extern "C" fn state_names(ctx: *mut c_void, out: *mut u8, cap: usize) -> i64 {
    // SAFETY: table contract.
    let c = unsafe { cx(ctx) };
    let Some(store) = c.store.as_deref() else { return -1 };
    let mut names: Vec<&str> = store.names().collect();
    names.sort_unstable();
    let text = names.join("\n");
    if text.len() <= cap && !out.is_null() {
        // SAFETY: `out` has room for `cap` >= len bytes.
        unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), out, text.len()) };
    }
    text.len() as i64
}
