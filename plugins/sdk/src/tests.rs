//! The shims as a host sees them: values a newer host may send are skipped,
//! parameter errors come back as status codes with their text and lengths.

use std::ffi::c_void;

use super::*;

/// Counts the events and build calls it sees.
#[derive(Default)]
struct Counting {
    events: usize,
    builds: usize,
}

impl Technique for Counting {
    const NAME: &'static str = "counting";
    const VERSION: &'static str = "0.1.0";
    const DESCRIPTION: &'static str = "counts its calls";
    const CLASS: ToggleClass = ToggleClass::Live;
    fn params() -> Vec<Param> {
        vec![Param::float("rate", 0.5, 0.0, 1.0, "a rate"), Param::choice("mode", "norm,value", "norm", "a mode")]
    }
    fn on_event(&mut self, _: &mut Host, _: &ParamValues, _: &Event) -> Result<(), String> {
        self.events += 1;
        Ok(())
    }
    fn build(&mut self, _: &mut Graph, _: &BuildContext, t: Tensor) -> Result<Tensor, String> {
        self.builds += 1;
        Ok(t)
    }
}

fn instance() -> *mut c_void {
    // SAFETY: the constructor takes no arguments.
    unsafe { create::<Counting>() }
}

fn counts(state: *mut c_void) -> (usize, usize) {
    // SAFETY: `state` came from `create::<Counting>`.
    let i = unsafe { &*(state as *const Instance<Counting>) };
    (i.technique.events, i.technique.builds)
}

fn event(kind: u32) -> abi::Event {
    abi::Event { kind, epoch: 0, step: 0, value: 0.0, value2: 0.0, seed: 0, data: std::ptr::null(), rows: 0, cols: 0 }
}

#[test]
fn events_and_build_points_a_newer_host_adds_are_skipped() {
    let state = instance();
    // The host table is never touched for a value the SDK skips, so none is passed.
    // SAFETY: valid state and event; the host pointer is not read on this path.
    let rc = unsafe { on_event::<Counting>(state, std::ptr::null(), &event(4_000)) };
    assert_eq!((rc, counts(state)), (abi::OK, (0, 0)));
    let mut out = 0;
    for (point, mode) in [(99, u32::from(Mode::Train)), (u32::from(BuildPoint::Input), 7)] {
        // SAFETY: as above; `out` is writable.
        let rc = unsafe { build::<Counting>(state, std::ptr::null(), point, mode, 0, 42, &mut out) };
        assert_eq!((rc, out, counts(state)), (abi::OK, 42, (0, 0)), "point {point}, mode {mode}");
    }
    // SAFETY: created above, destroyed once.
    unsafe { destroy::<Counting>(state) };
}

fn set(state: *mut c_void, name: &str, value: &str, room: usize) -> (i32, String, usize) {
    let mut text = vec![0u8; room];
    let mut error = abi::OutBuf { ptr: text.as_mut_ptr(), cap: room, len: 0 };
    // SAFETY: valid state and strings; `error` writable for its capacity.
    let rc = unsafe { set_param_checked::<Counting>(state, abi::Str::new(name), abi::Str::new(value), &mut error) };
    text.truncate(error.len.min(room));
    (rc, String::from_utf8(text).unwrap(), error.len)
}

#[test]
fn set_param_reports_a_status_and_the_reason() {
    let state = instance();
    assert_eq!(set(state, "rate", "0.25", 64).0, abi::OK);
    let (rc, reason, _) = set(state, "rate", "7", 256);
    assert_eq!(rc, abi::INVALID_VALUE);
    assert_eq!(reason, "rate: 7 is outside 0 ..= 1");
    let (rc, reason, _) = set(state, "mode", "clamp", 256);
    assert_eq!((rc, reason.as_str()), (abi::INVALID_VALUE, "mode: expected one of norm | value, got \"clamp\""));
    let (rc, cut, len) = set(state, "nope", "1", 8);
    assert_eq!(rc, abi::UNKNOWN_PARAM);
    assert_eq!(cut, "unknown ", "the reason is cut to the room given");
    assert_eq!(len, "unknown parameter `nope`; valid: rate, mode".len(), "and its full length reported");
    // SAFETY: created above, destroyed once.
    unsafe { destroy::<Counting>(state) };
}

#[test]
fn get_param_reports_the_full_length() {
    let state = instance();
    assert_eq!(set(state, "rate", "0.125", 64).0, abi::OK);
    let mut room = [0u8; 3];
    let mut out = abi::OutBuf { ptr: room.as_mut_ptr(), cap: room.len(), len: 0 };
    // SAFETY: valid state; `out` writable for its capacity.
    let rc = unsafe { get_param_checked::<Counting>(state, abi::Str::new("rate"), &mut out) };
    assert_eq!((rc, out.len, &room), (abi::OK, 5, b"0.1"));
    // SAFETY: as above.
    let rc = unsafe { get_param_checked::<Counting>(state, abi::Str::new("gone"), &mut out) };
    assert_eq!(rc, abi::UNKNOWN_PARAM);
    // The 1.0 function returns what it copied.
    let mut old = [0u8; 16];
    // SAFETY: valid state; `old` has 16 bytes.
    let n = unsafe { get_param::<Counting>(state, abi::Str::new("rate"), old.as_mut_ptr(), old.len()) };
    assert_eq!(&old[..n as usize], b"0.125");
    // SAFETY: created above, destroyed once.
    unsafe { destroy::<Counting>(state) };
}

#[test]
fn the_descriptor_declares_this_minor_and_its_size() {
    let d = descriptor::<Counting>();
    assert_eq!((d.abi_major, d.abi_minor, d.size), (abi::ABI_MAJOR, abi::ABI_MINOR, abi::DESCRIPTOR_SIZE_1_1));
    assert!(d.set_param_checked.is_some() && d.get_param_checked.is_some());
}
