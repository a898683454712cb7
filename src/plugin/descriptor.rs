//! Checking a plugin's descriptor before anything in it is used: every
//! pointer it holds, every string's length and encoding, every enum value
//! and its parameter schema.
//!
//! A descriptor comes from code traintop does not control, so it is first
//! read as [`RawDescriptor`], its layout twin whose function pointers are
//! plain addresses (a null function pointer is undefined behaviour in a Rust
//! `fn` type, so it must never be read as one). Then:
//! - the descriptor, the parameter table and every string must lie in
//!   readable memory ([`Maps`], from `/proc/self/maps`) and be aligned;
//! - strings are bounded ([`MAX_SHORT`] bytes for names and versions,
//!   [`MAX_TEXT`] for help and descriptions) and UTF-8; a null pointer is
//!   accepted only with length 0; at most [`MAX_PARAMS`] parameters;
//! - every function pointer must be non-null and lie in executable memory
//!   of the plugin's own object (`dladdr` names the object an address is in).
//!
//! Only then is the descriptor viewed as an [`abi::Descriptor`]. What no check
//! can prove is that the code behind the function pointers is well behaved:
//! a plugin is code you run (see the README's trust model).

use std::mem::{align_of, size_of};

use traintop_plugin_abi as abi;

use super::mapped::Maps;

/// Longest name, version, or parameter name, in bytes.
pub const MAX_SHORT: usize = 64;
/// Longest description, help text or choice list, in bytes.
pub const MAX_TEXT: usize = 4096;
/// Most parameters a technique may declare.
pub const MAX_PARAMS: usize = 256;

/// The descriptor's layout with the seven function pointers as addresses.
#[repr(C)]
struct RawDescriptor {
    abi_major: u32,
    abi_minor: u32,
    size: usize,
    name: abi::Str,
    version: abi::Str,
    description: abi::Str,
    class: u32,
    params: *const abi::ParamSpec,
    n_params: usize,
    functions: [usize; 7],
}

const _: () = assert!(size_of::<RawDescriptor>() == size_of::<abi::Descriptor>());
const _: () = assert!(align_of::<RawDescriptor>() == align_of::<abi::Descriptor>());
const _: () = assert!(size_of::<usize>() == size_of::<abi::EntryFn>());

/// The functions in descriptor order, for messages.
const FUNCTIONS: [&str; 7] = ["create", "destroy", "set_param", "get_param", "on_event", "build", "build_gradients"];

/// A parameter as declared by a plugin, checked and copied to the host.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamInfo {
    pub name: String,
    pub kind: abi::ParamKind,
    pub default_value: f64,
    pub min: f64,
    pub max: f64,
    pub choices: Vec<String>,
    pub help: String,
    pub structural: bool,
}

impl ParamInfo {
    /// The allowed values as the dashboard shows them.
    pub fn range_text(&self) -> String {
        match self.kind {
            abi::ParamKind::Float | abi::ParamKind::Int => format!("{} ..= {}", self.min, self.max),
            abi::ParamKind::Bool => "true | false".into(),
            abi::ParamKind::Choice => self.choices.join(" | "),
            abi::ParamKind::Layers => "[layer, ...] (empty: default)".into(),
        }
    }
}

/// What a descriptor that passed every check says, copied to the host.
pub struct Checked {
    pub descriptor: &'static abi::Descriptor,
    pub class: abi::ToggleClass,
    pub name: String,
    pub version: String,
    pub description: String,
    pub params: Vec<ParamInfo>,
}

/// Why a descriptor was refused.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// Built against another ABI major version.
    Major(u32),
    Invalid(String),
}

/// What the checks may assume about memory.
pub struct Memory {
    maps: Option<Maps>,
    /// Base address of the plugin's object, where known: function pointers
    /// must lie in it.
    object: Option<usize>,
}

impl Memory {
    /// This process's memory now; `object` is the plugin's object base.
    pub fn current(object: Option<usize>) -> Memory {
        Memory { maps: Maps::read(), object }
    }

    fn readable(&self, ptr: usize, len: usize) -> bool {
        match &self.maps {
            Some(m) => m.readable(ptr, len),
            // No map to consult (not Linux): only null is known to be bad.
            None => ptr != 0,
        }
    }

    fn code(&self, ptr: usize) -> bool {
        let mapped = self.maps.as_ref().is_none_or(|m| m.code(ptr));
        mapped && self.object.is_none_or(|base| object_base(ptr) == Some(base))
    }
}

/// The base address of the loaded object that contains `addr`, if any.
/// `dladdr` only consults the loader's list of objects; it never reads `addr`.
pub fn object_base(addr: usize) -> Option<usize> {
    #[cfg(unix)]
    {
        let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
        // SAFETY: dladdr writes `info` and does not dereference `addr`.
        let found = unsafe { libc::dladdr(addr as *const libc::c_void, info.as_mut_ptr()) };
        // SAFETY: zero-initialised and filled by dladdr when it returns non-zero.
        let base = unsafe { info.assume_init() }.dli_fbase as usize;
        (found != 0 && base != 0).then_some(base)
    }
    #[cfg(not(unix))]
    {
        let _ = addr;
        None
    }
}

fn invalid(reason: impl Into<String>) -> Refusal {
    Refusal::Invalid(reason.into())
}

/// Checks the descriptor at `ptr` and copies out what it declares.
///
/// # Safety
/// Where `mem` has a memory map (Linux), none: every read is of memory the
/// map shows readable, and loaded libraries are never unmapped. Elsewhere the
/// caller trusts the plugin's pointers to be valid (null ones are refused).
pub unsafe fn check(ptr: *const abi::Descriptor, mem: &Memory) -> Result<Checked, Refusal> {
    let at = ptr as usize;
    if at == 0 {
        return Err(invalid("the entry returned no descriptor"));
    }
    if !at.is_multiple_of(align_of::<abi::Descriptor>()) {
        return Err(invalid(format!("descriptor at {at:#x} is not aligned")));
    }
    // The version fields are at the same place in every ABI.
    if !mem.readable(at, 16) {
        return Err(invalid(format!("descriptor at {at:#x} points outside mapped memory")));
    }
    let raw = ptr as *const RawDescriptor;
    // SAFETY: 16 readable, aligned bytes; u32 and usize accept any bits.
    let (major, size) = unsafe { ((*raw).abi_major, (*raw).size) };
    if major != abi::ABI_MAJOR {
        return Err(Refusal::Major(major));
    }
    if size < size_of::<abi::Descriptor>() {
        return Err(invalid(format!(
            "descriptor size {size} is smaller than ABI {}.{}'s",
            abi::ABI_MAJOR,
            abi::ABI_MINOR
        )));
    }
    if !mem.readable(at, size_of::<RawDescriptor>()) {
        return Err(invalid("descriptor runs past mapped memory"));
    }
    // SAFETY: readable and aligned; every field is a plain integer or raw pointer.
    let d: RawDescriptor = unsafe { std::ptr::read(raw) };
    for (name, &f) in FUNCTIONS.iter().zip(&d.functions) {
        if f == 0 {
            return Err(invalid(format!("function `{name}` is null")));
        }
        if !mem.code(f) {
            return Err(invalid(format!("function `{name}` ({f:#x}) does not point into the plugin's code")));
        }
    }
    let name = text(mem, d.name, MAX_SHORT, "name")?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(invalid(format!("name {name:?} must be non-empty lowercase letters, digits and _")));
    }
    let version = text(mem, d.version, MAX_SHORT, "version")?;
    let description = text(mem, d.description, MAX_TEXT, "description")?;
    let class = abi::ToggleClass::try_from(d.class).map_err(|v| invalid(format!("unknown toggle class {v}")))?;
    let params = params(mem, d.params, d.n_params)?;
    // SAFETY: the same memory as `d`, whose function pointers are all non-null
    // (the one invalid bit pattern of the real type); the library is never unloaded.
    let descriptor: &'static abi::Descriptor = unsafe { &*ptr };
    Ok(Checked { descriptor, class, name, version, description, params })
}

/// A descriptor string, checked.
fn text(mem: &Memory, s: abi::Str, max: usize, what: &str) -> Result<String, Refusal> {
    if s.len == 0 {
        return Ok(String::new());
    }
    if s.len > max {
        return Err(invalid(format!("{what} is {} bytes long, at most {max} allowed", s.len)));
    }
    if s.ptr.is_null() {
        return Err(invalid(format!("{what} is a null pointer with length {}", s.len)));
    }
    if !mem.readable(s.ptr as usize, s.len) {
        return Err(invalid(format!("{what} ({:#x}, {} bytes) points outside mapped memory", s.ptr as usize, s.len)));
    }
    // SAFETY: `len` readable bytes at `ptr`, as just checked.
    let bytes = unsafe { std::slice::from_raw_parts(s.ptr, s.len) };
    std::str::from_utf8(bytes).map(str::to_string).map_err(|_| invalid(format!("{what} is not UTF-8")))
}

fn params(mem: &Memory, table: *const abi::ParamSpec, n: usize) -> Result<Vec<ParamInfo>, Refusal> {
    if n == 0 {
        return Ok(vec![]);
    }
    if n > MAX_PARAMS {
        return Err(invalid(format!("{n} parameters, at most {MAX_PARAMS} allowed")));
    }
    let at = table as usize;
    if at == 0 {
        return Err(invalid("parameter table is null"));
    }
    let bytes = n * size_of::<abi::ParamSpec>();
    if !at.is_multiple_of(align_of::<abi::ParamSpec>()) || !mem.readable(at, bytes) {
        return Err(invalid(format!("parameter table ({at:#x}, {n} entries) points outside mapped memory")));
    }
    let mut out: Vec<ParamInfo> = vec![];
    for i in 0..n {
        // SAFETY: entry `i` of a readable, aligned table of plain-data specs.
        let spec: abi::ParamSpec = unsafe { std::ptr::read(table.add(i)) };
        let name = text(mem, spec.name, MAX_SHORT, "parameter name")?;
        let kind = abi::ParamKind::try_from(spec.kind)
            .map_err(|v| invalid(format!("parameter `{name}`: unknown kind {v}")))?;
        let p = ParamInfo {
            kind,
            default_value: spec.default_value,
            min: spec.min,
            max: spec.max,
            choices: text(mem, spec.choices, MAX_TEXT, "parameter choices")?
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
            help: text(mem, spec.help, MAX_TEXT, "parameter help")?,
            structural: spec.structural != 0,
            name,
        };
        check_param(&p, &out).map_err(|r| invalid(format!("parameter `{}`: {r}", p.name)))?;
        out.push(p);
    }
    Ok(out)
}

/// An invalid schema is refused at load time, before the config is checked
/// against it.
fn check_param(p: &ParamInfo, earlier: &[ParamInfo]) -> Result<(), String> {
    if p.name.is_empty() || p.name == "name" || p.name == "enabled" {
        return Err("name must be non-empty and not `name` or `enabled`".into());
    }
    if earlier.iter().any(|e| e.name == p.name) {
        return Err("declared twice".into());
    }
    if p.help.is_empty() {
        return Err("has no help text".into());
    }
    match p.kind {
        abi::ParamKind::Float | abi::ParamKind::Int => {
            if p.min.is_nan() || p.max.is_nan() || p.min > p.max {
                return Err(format!("range {} ..= {} is empty", p.min, p.max));
            }
            if !(p.min..=p.max).contains(&p.default_value) {
                return Err(format!("default {} is outside {} ..= {}", p.default_value, p.min, p.max));
            }
        }
        abi::ParamKind::Choice => {
            if p.choices.is_empty() || !(p.default_value >= 0.0 && (p.default_value as usize) < p.choices.len()) {
                return Err("a choice needs choices and a default among them".into());
            }
        }
        abi::ParamKind::Bool | abi::ParamKind::Layers => {}
    }
    Ok(())
}
