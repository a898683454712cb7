//! Safe wrappers over the host's function table: graph building for the build
//! hooks, state access and messages for the event hooks.

use traintop_plugin_abi as abi;
use traintop_plugin_abi::{BinaryOp, HostApi, ReduceOp, Str, UnaryOp};

/// A tensor in the graph being built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tensor(pub abi::Handle);

/// A failed host call; the host has already logged the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError(pub String);

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T> = std::result::Result<T, HostError>;

/// The host during one plugin call.
pub struct Host<'a> {
    api: &'a HostApi,
}

fn checked(h: abi::Handle, what: &str) -> Result<Tensor> {
    if h == abi::INVALID {
        Err(HostError(format!("host refused {what}")))
    } else {
        Ok(Tensor(h))
    }
}

impl<'a> Host<'a> {
    /// Wraps the table the host passed in.
    ///
    /// # Safety
    /// `api` must be the valid table of the current call.
    pub unsafe fn from_raw(api: *const HostApi) -> Host<'a> {
        // SAFETY: guaranteed by the caller; the table outlives the call.
        Host { api: unsafe { &*api } }
    }

    pub fn log(&mut self, msg: &str) {
        // SAFETY: the table's functions are valid for this call; `msg` outlives it.
        unsafe { (self.api.log)(self.api.ctx, abi::Level::Info as u32, Str::new(msg)) }
    }

    pub fn warn(&mut self, msg: &str) {
        // SAFETY: as in `log`.
        unsafe { (self.api.log)(self.api.ctx, abi::Level::Warn as u32, Str::new(msg)) }
    }

    pub fn set_status(&mut self, msg: &str) {
        // SAFETY: as in `log`.
        unsafe { (self.api.set_status)(self.api.ctx, Str::new(msg)) }
    }

    pub fn request_stop(&mut self, reason: &str, restore_best: bool) {
        // SAFETY: as in `log`.
        unsafe { (self.api.request_stop)(self.api.ctx, Str::new(reason), restore_best as u32) }
    }

    pub fn layer_count(&mut self) -> usize {
        // SAFETY: as in `log`.
        unsafe { (self.api.layer_count)(self.api.ctx) as usize }
    }

    /// A state's values (a model parameter such as "layer0.weight", or one of
    /// the plugin's own states by its short name).
    pub fn read_state(&mut self, name: &str) -> Option<Vec<f32>> {
        let dims = self.state_shape(name)?;
        let n: usize = dims.iter().product();
        let mut out = vec![0.0f32; n];
        // SAFETY: `out` has room for `n` values, the length the host reported.
        let got = unsafe { (self.api.read_state)(self.api.ctx, Str::new(name), out.as_mut_ptr(), n) };
        (got == n as i64).then_some(out)
    }

    pub fn write_state(&mut self, name: &str, values: &[f32]) -> Result<()> {
        // SAFETY: `values` is readable for its length during the call.
        let rc = unsafe { (self.api.write_state)(self.api.ctx, Str::new(name), values.as_ptr(), values.len()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(HostError(format!("cannot write state {name}")))
        }
    }

    /// Creates the plugin's own state (outside the graph, saved in
    /// checkpoints) when it does not exist yet.
    pub fn ensure_state(&mut self, name: &str, dims: &[usize], init: f32) -> Result<()> {
        let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
        // SAFETY: `name` and `dims` are readable during the call.
        let rc = unsafe { (self.api.ensure_state)(self.api.ctx, Str::new(name), dims.as_ptr(), dims.len(), init) };
        if rc == 0 {
            Ok(())
        } else {
            Err(HostError(format!("cannot create state {name}")))
        }
    }

    /// Every state in the store, by name.
    pub fn state_names(&mut self) -> Vec<String> {
        let mut buf = vec![0u8; 4096];
        loop {
            // SAFETY: `buf` has room for its length, the capacity passed.
            let n = unsafe { (self.api.state_names)(self.api.ctx, buf.as_mut_ptr(), buf.len()) };
            if n < 0 {
                return vec![];
            }
            if n as usize <= buf.len() {
                buf.truncate(n as usize);
                return String::from_utf8_lossy(&buf)
                    .split('\n')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            buf = vec![0u8; n as usize];
        }
    }

    pub fn state_shape(&mut self, name: &str) -> Option<Vec<usize>> {
        let mut dims = [0i64; 8];
        // SAFETY: `dims` has room for 8 dimensions, the capacity passed.
        let rank = unsafe { (self.api.state_shape)(self.api.ctx, Str::new(name), dims.as_mut_ptr(), dims.len()) };
        (rank >= 0).then(|| dims[..rank as usize].iter().map(|&d| d as usize).collect())
    }
}

/// The graph under construction during a build hook.
pub struct Graph<'a> {
    host: Host<'a>,
}

/// A dimension of a logical shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dim {
    Batch,
    Fixed(usize),
}

impl<'a> Graph<'a> {
    pub fn new(host: Host<'a>) -> Self {
        Self { host }
    }

    pub fn host(&mut self) -> &mut Host<'a> {
        &mut self.host
    }

    fn api(&self) -> &HostApi {
        self.host.api
    }

    pub fn shape(&self, t: Tensor) -> Vec<Dim> {
        let mut dims = [0i64; 8];
        // SAFETY: `dims` has room for the capacity passed.
        let rank = unsafe { (self.api().shape)(self.api().ctx, t.0, dims.as_mut_ptr(), dims.len()) };
        dims[..rank.max(0) as usize]
            .iter()
            .map(|&d| if d == abi::BATCH { Dim::Batch } else { Dim::Fixed(d as usize) })
            .collect()
    }

    pub fn constant_like(&mut self, value: f32, like: Tensor) -> Result<Tensor> {
        // SAFETY: host functions are valid for this call.
        checked(unsafe { (self.api().constant_like)(self.api().ctx, value, like.0) }, "constant")
    }

    pub fn unary(&mut self, op: UnaryOp, a: Tensor) -> Result<Tensor> {
        // SAFETY: as above.
        checked(unsafe { (self.api().unary)(self.api().ctx, op as u32, a.0) }, "unary op")
    }

    pub fn binary(&mut self, op: BinaryOp, a: Tensor, b: Tensor) -> Result<Tensor> {
        // SAFETY: as above.
        checked(unsafe { (self.api().binary)(self.api().ctx, op as u32, a.0, b.0) }, "binary op")
    }

    pub fn reduce(&mut self, op: ReduceOp, a: Tensor, axis: usize) -> Result<Tensor> {
        // SAFETY: as above.
        checked(unsafe { (self.api().reduce)(self.api().ctx, op as u32, a.0, axis as u32) }, "reduce")
    }

    pub fn broadcast_like(&mut self, a: Tensor, like: Tensor) -> Result<Tensor> {
        // SAFETY: as above.
        checked(unsafe { (self.api().broadcast_like)(self.api().ctx, a.0, like.0) }, "broadcast")
    }

    /// Inserts axis `axis` sized like axis `like_axis` of `like`.
    pub fn expand(&mut self, a: Tensor, axis: usize, like: Tensor, like_axis: usize) -> Result<Tensor> {
        // SAFETY: as above.
        checked(unsafe { (self.api().expand)(self.api().ctx, a.0, axis as u32, like.0, like_axis as u32) }, "expand")
    }

    pub fn detach(&mut self, a: Tensor) -> Result<Tensor> {
        // SAFETY: as above.
        checked(unsafe { (self.api().detach)(self.api().ctx, a.0) }, "detach")
    }

    /// The plugin's persistent tensor, created filled with `init`.
    pub fn state(&mut self, name: &str, dims: &[usize], trainable: bool, init: f32) -> Result<Tensor> {
        let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
        // SAFETY: `name` and `dims` are readable during the call.
        checked(
            unsafe {
                (self.api().state)(self.api().ctx, Str::new(name), dims.as_ptr(), dims.len(), trainable as u32, init)
            },
            "state",
        )
    }

    pub fn assign(&mut self, state: Tensor, value: Tensor) {
        // SAFETY: as above.
        unsafe { (self.api().assign)(self.api().ctx, state.0, value.0) }
    }

    pub fn random_like(&mut self, like: Tensor) -> Result<Tensor> {
        // SAFETY: as above.
        checked(unsafe { (self.api().random_like)(self.api().ctx, like.0) }, "random")
    }

    /// A scalar fed with the parameter's current value every step.
    pub fn param_input(&mut self, name: &str) -> Result<Tensor> {
        // SAFETY: `name` is readable during the call.
        checked(unsafe { (self.api().param_input)(self.api().ctx, Str::new(name)) }, "param input")
    }

    pub fn metric(&mut self, name: &str, scalar: Tensor) {
        // SAFETY: as above.
        unsafe { (self.api().metric)(self.api().ctx, Str::new(name), scalar.0) }
    }

    /// The model's trainable parameters (name, tensor, is a weight matrix);
    /// available at the loss hook.
    pub fn model_params(&mut self) -> Vec<(String, Tensor, bool)> {
        let mut buf =
            vec![abi::ParamGrad { name: Str::EMPTY, param: abi::INVALID, grad: abi::INVALID, is_weight: 0 }; 256];
        // SAFETY: `buf` has room for its length, the capacity passed.
        let n = unsafe { (self.api().model_params)(self.api().ctx, buf.as_mut_ptr(), buf.len()) };
        buf.truncate(n.clamp(0, 256) as usize);
        buf.iter()
            // SAFETY: the host's names stay valid for this call.
            .map(|p| (unsafe { p.name.as_str() }.unwrap_or("").to_string(), Tensor(p.param), p.is_weight != 0))
            .collect()
    }

    // Composites over the primitives.

    pub fn add(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Add, a, b)
    }
    pub fn mul(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Mul, a, b)
    }
    pub fn less_than(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::LessThan, a, b)
    }
    pub fn scale(&mut self, a: Tensor, k: f32) -> Result<Tensor> {
        let c = self.constant_like(k, a)?;
        self.mul(a, c)
    }
    pub fn add_scalar(&mut self, a: Tensor, k: f32) -> Result<Tensor> {
        let c = self.constant_like(k, a)?;
        self.add(a, c)
    }
    pub fn neg(&mut self, a: Tensor) -> Result<Tensor> {
        self.scale(a, -1.0)
    }
    pub fn sub(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        let nb = self.neg(b)?;
        self.add(a, nb)
    }
    pub fn recip(&mut self, a: Tensor) -> Result<Tensor> {
        self.unary(UnaryOp::Recip, a)
    }
    pub fn div(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        let r = self.recip(b)?;
        self.mul(a, r)
    }
    pub fn sqrt(&mut self, a: Tensor) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt, a)
    }
    pub fn square(&mut self, a: Tensor) -> Result<Tensor> {
        self.mul(a, a)
    }
    pub fn sum(&mut self, a: Tensor, axis: usize) -> Result<Tensor> {
        self.reduce(ReduceOp::Sum, a, axis)
    }
    pub fn mean(&mut self, a: Tensor, axis: usize) -> Result<Tensor> {
        self.reduce(ReduceOp::Mean, a, axis)
    }
    /// Sum over every axis: a scalar.
    pub fn sum_all(&mut self, a: Tensor) -> Result<Tensor> {
        let mut t = a;
        while let Some(last) = self.shape(t).len().checked_sub(1) {
            t = self.sum(t, last)?;
        }
        Ok(t)
    }
    /// max(0, x).
    pub fn relu(&mut self, a: Tensor) -> Result<Tensor> {
        let zero = self.constant_like(0.0, a)?;
        let pos = self.less_than(zero, a)?;
        self.mul(a, pos)
    }
}
