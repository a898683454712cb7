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

use std::mem::{align_of, offset_of, size_of, MaybeUninit};

use traintop_plugin_abi as abi;

use super::mapped::Maps;
use crate::protocol::ToggleClass;

/// Longest name, version, or parameter name, in bytes.
pub const MAX_SHORT: usize = 64;
/// Longest description, help text or choice list, in bytes.
pub const MAX_TEXT: usize = 4096;
/// Most parameters a technique may declare.
pub const MAX_PARAMS: usize = 256;

/// The descriptor's layout (this ABI's, 1.1) with its function pointers as
/// addresses: the seven of 1.0, which must be set, then the optional ones
/// later minors appended.
#[repr(C)]
#[derive(Clone, Copy)]
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
    functions: [usize; FUNCTIONS.len()],
}

const _: () = assert!(size_of::<RawDescriptor>() == size_of::<abi::Descriptor>());
const _: () = assert!(align_of::<RawDescriptor>() == align_of::<abi::Descriptor>());
const _: () = assert!(size_of::<usize>() == size_of::<abi::EntryFn>());
const _: () = assert!(offset_of!(RawDescriptor, functions) == offset_of!(abi::Descriptor, create));
const _: () = assert!(offset_of!(RawDescriptor, functions) + REQUIRED * size_of::<usize>() == abi::DESCRIPTOR_SIZE_1_0);

/// The functions in descriptor order, for messages.
const FUNCTIONS: [&str; 9] = [
    "create",
    "destroy",
    "set_param",
    "get_param",
    "on_event",
    "build",
    "build_gradients",
    "set_param_checked",
    "get_param_checked",
];
/// How many of them ABI 1.0 has, all required; the rest may be null.
const REQUIRED: usize = 7;

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
            // Refused at load (`check_param`).
            _ => String::new(),
        }
    }
}

/// What a descriptor that passed every check says, copied to the host.
pub struct Checked {
    /// The descriptor as this host's layout: fields the plugin's size does
    /// not cover (an older minor) are `None`.
    pub descriptor: abi::Descriptor,
    /// The minor version the plugin was built against.
    pub abi_minor: u32,
    pub class: ToggleClass,
    pub name: String,
    pub version: String,
    pub description: String,
    pub params: Vec<ParamInfo>,
}

/// Why a descriptor was refused.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// Built against another ABI major version: (major, minor) it declares.
    Major(u32, u32),
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
/// A same-major descriptor is read by its size: fields past it are absent,
/// and a descriptor larger than this host's (a newer minor) is read up to
/// this host's layout.
///
/// # Safety
/// Where `mem` has a memory map (Linux), none: every read is of memory the
/// map shows readable, and loaded libraries are never unmapped. Elsewhere the
/// caller trusts the plugin's pointers to be valid (null ones are refused).
pub unsafe fn check(ptr: *const abi::Descriptor, mem: &Memory) -> Result<Checked, Refusal> {
    // SAFETY: passed on from the caller.
    let d = unsafe { read_raw(ptr, mem) }?;
    check_functions(mem, &d.functions)?;
    let name = text(mem, d.name, MAX_SHORT, "name")?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(invalid(format!("name {name:?} must be non-empty lowercase letters, digits and _")));
    }
    let version = text(mem, d.version, MAX_SHORT, "version")?;
    let description = text(mem, d.description, MAX_TEXT, "description")?;
    let class = toggle_class(d.class)?;
    let params = params(mem, d.params, d.n_params)?;
    let abi_minor = d.abi_minor;
    // SAFETY: the same layout (asserted above); the seven required function
    // pointers are non-null (a null `fn` is the one invalid bit pattern of
    // the real type) and the optional ones are null or code, which
    // `Option<fn>` holds as `None` or `Some`.
    let descriptor: abi::Descriptor = unsafe { std::mem::transmute::<RawDescriptor, abi::Descriptor>(d) };
    Ok(Checked { descriptor, abi_minor, class, name, version, description, params })
}

/// Checks the version and size and copies the part of the descriptor its
/// size covers into this host's layout, the rest zero (absent).
///
/// # Safety
/// As [`check`].
unsafe fn read_raw(ptr: *const abi::Descriptor, mem: &Memory) -> Result<RawDescriptor, Refusal> {
    let at = ptr as usize;
    if at == 0 {
        return Err(invalid("the entry returned no descriptor"));
    }
    if !at.is_multiple_of(align_of::<abi::Descriptor>()) {
        return Err(invalid(format!("descriptor at {at:#x} is not aligned")));
    }
    // The version and size fields are at the same place in every ABI.
    if !mem.readable(at, 16) {
        return Err(invalid(format!("descriptor at {at:#x} points outside mapped memory")));
    }
    let raw = ptr as *const RawDescriptor;
    // SAFETY: 16 readable, aligned bytes; u32 and usize accept any bits.
    let (major, minor, size) = unsafe { ((*raw).abi_major, (*raw).abi_minor, (*raw).size) };
    if major != abi::ABI_MAJOR {
        return Err(Refusal::Major(major, minor));
    }
    let least = abi::descriptor_size_of_minor(minor);
    if size < least {
        return Err(invalid(format!(
            "descriptor size {size} is smaller than ABI {major}.{minor}'s {least} bytes (this traintop speaks ABI {}.{})",
            abi::ABI_MAJOR,
            abi::ABI_MINOR
        )));
    }
    let read = size.min(size_of::<RawDescriptor>());
    if !mem.readable(at, read) {
        return Err(invalid(format!("descriptor ({size} bytes) runs past mapped memory")));
    }
    let mut d = MaybeUninit::<RawDescriptor>::zeroed();
    // SAFETY: `read` readable bytes at `ptr`, at most the destination's size.
    unsafe { std::ptr::copy_nonoverlapping(ptr as *const u8, d.as_mut_ptr() as *mut u8, read) };
    // SAFETY: every field is an integer or raw pointer, valid for any bits
    // (zero where the size did not reach).
    let mut d = unsafe { d.assume_init() };
    // A function the size covers only in part is absent too.
    for (i, f) in d.functions.iter_mut().enumerate() {
        if !covered(i, size) {
            *f = 0;
        }
    }
    Ok(d)
}

/// Whether function `index` lies wholly inside a descriptor of `size` bytes.
fn covered(index: usize, size: usize) -> bool {
    offset_of!(RawDescriptor, functions) + (index + 1) * size_of::<usize>() <= size
}

/// The 1.0 functions must be set; later ones may be null (or absent, which
/// [`read_raw`] made null). Every one present must point into the plugin's code.
fn check_functions(mem: &Memory, functions: &[usize; FUNCTIONS.len()]) -> Result<(), Refusal> {
    for (i, (name, &f)) in FUNCTIONS.iter().zip(functions).enumerate() {
        if i < REQUIRED && f == 0 {
            return Err(invalid(format!("function `{name}` is null")));
        }
        if f != 0 && !mem.code(f) {
            return Err(invalid(format!("function `{name}` ({f:#x}) does not point into the plugin's code")));
        }
    }
    Ok(())
}

/// The toggle class a plugin declares, as the host's type.
fn toggle_class(raw: u32) -> Result<ToggleClass, Refusal> {
    match abi::ToggleClass::try_from(raw) {
        Ok(abi::ToggleClass::Live) => Ok(ToggleClass::Live),
        Ok(abi::ToggleClass::Structural) => Ok(ToggleClass::Structural),
        Ok(abi::ToggleClass::InitOnly) => Ok(ToggleClass::InitOnly),
        Ok(abi::ToggleClass::Data) => Ok(ToggleClass::Data),
        // A class of a newer ABI than this host handles, or no class at all.
        _ => Err(invalid(format!("unknown toggle class {raw}"))),
    }
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
        // A kind of a newer ABI than this host handles.
        other => return Err(format!("kind {other:?} is not supported by this traintop")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::ffi::c_void;

    use super::*;

    unsafe extern "C" fn create() -> *mut c_void {
        std::ptr::null_mut()
    }
    unsafe extern "C" fn destroy(_: *mut c_void) {}
    unsafe extern "C" fn set_param(_: *mut c_void, _: *const abi::HostApi, _: abi::Str, _: abi::Str) -> i32 {
        abi::OK
    }
    unsafe extern "C" fn get_param(_: *mut c_void, _: abi::Str, _: *mut u8, _: usize) -> i64 {
        -1
    }
    unsafe extern "C" fn on_event(_: *mut c_void, _: *const abi::HostApi, _: *const abi::Event) -> i32 {
        abi::OK
    }
    unsafe extern "C" fn build(
        _: *mut c_void,
        _: *const abi::HostApi,
        _: u32,
        _: u32,
        _: u32,
        _: abi::Handle,
        _: *mut abi::Handle,
    ) -> i32 {
        abi::OK
    }
    unsafe extern "C" fn build_gradients(
        _: *mut c_void,
        _: *const abi::HostApi,
        _: *mut abi::ParamGrad,
        _: usize,
    ) -> i32 {
        abi::OK
    }
    unsafe extern "C" fn set_checked(_: *mut c_void, _: abi::Str, _: abi::Str, _: *mut abi::OutBuf) -> i32 {
        abi::OK
    }
    unsafe extern "C" fn get_checked(_: *mut c_void, _: abi::Str, _: *mut abi::OutBuf) -> i32 {
        abi::OK
    }

    /// A valid descriptor of this ABI, declaring `minor` and `size`.
    fn sample(minor: u32, size: usize) -> abi::Descriptor {
        abi::Descriptor {
            abi_major: abi::ABI_MAJOR,
            abi_minor: minor,
            size,
            name: abi::Str::new("sample"),
            version: abi::Str::new("0.1.0"),
            description: abi::Str::new("a test descriptor"),
            class: abi::ToggleClass::Live.into(),
            params: std::ptr::null(),
            n_params: 0,
            create,
            destroy,
            set_param,
            get_param,
            on_event,
            build,
            build_gradients,
            set_param_checked: Some(set_checked),
            get_param_checked: Some(get_checked),
        }
    }

    /// `d`'s bytes in a buffer of `words` words; words past `d` hold
    /// `filler` (what a check must not take for a field).
    fn in_memory(d: &abi::Descriptor, words: usize, filler: usize) -> Vec<usize> {
        let mut out = vec![filler; words.max(size_of::<abi::Descriptor>() / 8)];
        // SAFETY: `out` has room for a whole descriptor; both are plain words.
        unsafe {
            std::ptr::copy_nonoverlapping(
                d as *const abi::Descriptor as *const u8,
                out.as_mut_ptr() as *mut u8,
                size_of::<abi::Descriptor>(),
            )
        };
        out
    }

    fn check_words(words: &[usize]) -> Result<Checked, Refusal> {
        // SAFETY: every pointer in the words is valid; the map checks the rest.
        unsafe { check(words.as_ptr() as *const abi::Descriptor, &Memory::current(None)) }
    }

    /// The words of a 1.0 plugin: the 1.1 slots hold whatever follows it.
    fn old(size: usize) -> Vec<usize> {
        let mut words = in_memory(&sample(0, size), 0, 0);
        let first_new = abi::DESCRIPTOR_SIZE_1_0 / 8;
        words[first_new] = 0x5eed_0000_0001;
        words[first_new + 1] = 0x5eed_0000_0002;
        words
    }

    #[test]
    fn a_1_0_descriptor_is_read_by_its_size() {
        let checked = check_words(&old(abi::DESCRIPTOR_SIZE_1_0)).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((checked.abi_minor, checked.name.as_str()), (0, "sample"));
        assert!(checked.descriptor.set_param_checked.is_none(), "a field past the size was read");
        assert!(checked.descriptor.get_param_checked.is_none());
        // A size that covers half of the next field leaves it absent too.
        let checked = check_words(&old(abi::DESCRIPTOR_SIZE_1_0 + 4)).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(checked.descriptor.set_param_checked.is_none());
    }

    #[test]
    fn a_newer_minor_is_read_up_to_this_hosts_layout() {
        let size = abi::DESCRIPTOR_SIZE_1_1 + 3 * 8;
        let words = in_memory(&sample(abi::ABI_MINOR + 1, size), size / 8, 0x5eed_0000_0003);
        let checked = check_words(&words).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(checked.abi_minor, abi::ABI_MINOR + 1);
        assert!(checked.descriptor.set_param_checked.is_some() && checked.descriptor.get_param_checked.is_some());
    }

    #[test]
    fn the_1_1_functions_may_be_null() {
        let d = abi::Descriptor {
            set_param_checked: None,
            get_param_checked: None,
            ..sample(abi::ABI_MINOR, abi::DESCRIPTOR_SIZE_1_1)
        };
        let checked = check_words(&in_memory(&d, 0, 0)).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(checked.descriptor.set_param_checked.is_none());
    }

    #[test]
    fn sizes_smaller_than_the_declared_minor_are_refused() {
        let words = in_memory(&sample(1, abi::DESCRIPTOR_SIZE_1_0), 0, 0);
        let want = format!(
            "descriptor size {} is smaller than ABI 1.1's {} bytes (this traintop speaks ABI 1.{})",
            abi::DESCRIPTOR_SIZE_1_0,
            abi::DESCRIPTOR_SIZE_1_1,
            abi::ABI_MINOR
        );
        assert_eq!(check_words(&words).err(), Some(Refusal::Invalid(want)));
        let words = in_memory(&sample(0, 16), 0, 0);
        assert!(matches!(check_words(&words), Err(Refusal::Invalid(m)) if m.starts_with("descriptor size 16 ")));
    }

    #[test]
    fn another_major_is_refused_with_the_version_it_declares() {
        let d = abi::Descriptor { abi_major: abi::ABI_MAJOR + 1, abi_minor: 4, ..sample(0, 8) };
        assert_eq!(check_words(&in_memory(&d, 0, 0)).err(), Some(Refusal::Major(abi::ABI_MAJOR + 1, 4)));
    }
}
