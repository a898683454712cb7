//! Backend code that may panic, turned into errors. luminal_cuda unwraps the
//! results of kernel compilation (NVRTC), module loading and device
//! allocation, so a kernel that does not compile or a GPU out of memory would
//! end the process with a panic and a backtrace. Run through [`quietly`],
//! such a failure becomes a message naming what failed: the run stops with an
//! error, its states put back where they were before the failed step.

/// Runs `f`; a panic inside it comes back as its message, and the process's
/// panic hook (which would print over the dashboard) stays silent about it
/// (see `panic_policy`: no hook is swapped, other threads' panics still show).
pub fn quietly<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    crate::panic_policy::expected(f).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown failure".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(quietly(|| 3), Ok(3));
        let failed: Result<(), String> = quietly(|| panic!("CUDA_ERROR_OUT_OF_MEMORY"));
        assert_eq!(failed, Err("CUDA_ERROR_OUT_OF_MEMORY".to_string()));
    }
}
