//! Reading and writing a plugin's parameters through the ABI, and what can go
//! wrong with a setting. ABI 1.1's `get_param_checked` and
//! `set_param_checked` report a status code, the reason and full lengths;
//! a 1.0 plugin's `get_param` returns only what fitted (its `set_param`
//! needs the host's function table, so the host calls it).

use std::ffi::c_void;

use traintop_plugin_abi as abi;

/// The longest parameter value the host reads, in bytes.
const MAX_VALUE: usize = 64 * 1024;
/// Room for a plugin's reason; a longer one is cut (a message, not data).
const MAX_REASON: usize = 1024;

/// ABI 1.1's `set_param_checked`.
pub(super) type SetParamChecked = unsafe extern "C" fn(*mut c_void, abi::Str, abi::Str, *mut abi::OutBuf) -> i32;

/// A problem with a technique's settings.
#[derive(Debug, thiserror::Error)]
#[error("technique {technique}: {problem}")]
pub struct SettingError {
    pub technique: String,
    pub problem: SettingProblem,
}

/// What was wrong with a setting, as the plugin's status code and text say.
#[derive(Debug, thiserror::Error)]
pub enum SettingProblem {
    #[error("no such plugin loaded")]
    NotLoaded,
    #[error("unknown parameter `{param}`; valid: {valid}")]
    UnknownParam { param: String, valid: String },
    #[error("layer {layer} does not exist: the model has {hidden} hidden layer(s)")]
    NoSuchLayer { layer: String, hidden: usize },
    /// The plugin refused the value (`INVALID_VALUE`, or a 1.0 plugin's failure).
    #[error("{reason} (allowed: {allowed})")]
    Refused { reason: String, allowed: String },
    /// The plugin failed (panicked) while setting it, and was disabled.
    #[error("failed while setting it and was disabled: {reason}")]
    Failed { reason: String },
}

/// Why a plugin did not take a value, by its status code, with its reason.
#[derive(Debug, PartialEq)]
pub(super) enum SetFailure {
    UnknownParam(String),
    InvalidValue(String),
    /// `FAILED`, or a code this host does not know.
    Failed(String),
}

/// The reason a plugin gave, or a sentence saying it gave none.
pub(super) fn reason_or_silence(reason: String) -> String {
    let reason = reason.trim();
    if reason.is_empty() {
        "the plugin refused the value without saying why".into()
    } else {
        reason.to_string()
    }
}

/// A parameter's current value as text; `None` for a name the plugin does
/// not know, or a failure to say.
///
/// # Safety
/// `state` is a live state from this descriptor's `create`, owned by the
/// calling thread.
pub(super) unsafe fn read(descriptor: &abi::Descriptor, state: *mut c_void, name: &str) -> Option<String> {
    let Some(get) = descriptor.get_param_checked else {
        // SAFETY: passed on from the caller.
        return unsafe { read_1_0(descriptor, state, name) };
    };
    let mut room = 256;
    loop {
        let mut buf = vec![0u8; room];
        let mut out = abi::OutBuf { ptr: buf.as_mut_ptr(), cap: buf.len(), len: 0 };
        // SAFETY: a live state (the caller's promise); `out` is writable for its `cap`.
        if unsafe { get(state, abi::Str::new(name), &mut out) } != abi::OK {
            return None;
        }
        if out.len <= room {
            buf.truncate(out.len);
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
        // Cut: ask again with the room it needs (values are short; a
        // plugin claiming more than this is not believed).
        if out.len > MAX_VALUE {
            return None;
        }
        room = out.len;
    }
}

/// [`read`] for a 1.0 plugin, whose `get_param` returns what it copied.
///
/// # Safety
/// As [`read`].
unsafe fn read_1_0(descriptor: &abi::Descriptor, state: *mut c_void, name: &str) -> Option<String> {
    let mut buf = vec![0u8; MAX_VALUE];
    // SAFETY: a live state (the caller's promise); `buf` has its length.
    let n = unsafe { (descriptor.get_param)(state, abi::Str::new(name), buf.as_mut_ptr(), buf.len()) };
    (n >= 0).then(|| String::from_utf8_lossy(&buf[..(n as usize).min(buf.len())]).into_owned())
}

/// Sets a parameter through ABI 1.1's `set_param_checked`.
///
/// # Safety
/// As [`read`], with `set` the same descriptor's function.
pub(super) unsafe fn write(
    set: SetParamChecked,
    state: *mut c_void,
    name: &str,
    value: &str,
) -> Result<(), SetFailure> {
    let mut text = vec![0u8; MAX_REASON];
    let mut error = abi::OutBuf { ptr: text.as_mut_ptr(), cap: text.len(), len: 0 };
    // SAFETY: a live state (the caller's promise); the strings outlive the
    // call and `error` is writable for its `cap`.
    let status = unsafe { set(state, abi::Str::new(name), abi::Str::new(value), &mut error) };
    if status == abi::OK {
        return Ok(());
    }
    text.truncate(error.len.min(text.len()));
    let reason = reason_or_silence(String::from_utf8_lossy(&text).into_owned());
    Err(match status {
        abi::UNKNOWN_PARAM => SetFailure::UnknownParam(reason),
        abi::INVALID_VALUE => SetFailure::InvalidValue(reason),
        _ => SetFailure::Failed(reason),
    })
}
