//! traintop: train neural networks in a terminal dashboard and steer the run.
//!
//! `unsafe` is denied everywhere but the plugin boundary (the modules of
//! `plugin` that load libraries and call through the C ABI allow it, each
//! block with a `// SAFETY:` comment). Modules are `pub` only where another
//! crate (the binary, tests, benches) uses them, so that the dead-code lint
//! sees the rest.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod activation;
pub(crate) mod chart;
pub mod cli;
pub(crate) mod client;
pub mod config;
pub mod data;
pub mod engine;
pub(crate) mod export;
pub(crate) mod format;
pub(crate) mod grad_health;
pub mod inspect;
pub mod panic_policy;
pub mod plugin;
pub mod protocol;
pub(crate) mod run_files;
pub(crate) mod run_lock;
pub(crate) mod serve;
pub mod sweep;
pub mod train;
pub mod tui;

/// mimalloc keeps freed memory for reuse. A graph rebuild (a technique
/// toggle) allocates and frees tens of megabytes (luminal's shape trackers are
/// 5 kB each, one per tape entry and per edge); the system allocator handed
/// those pages back and faulted them in again on every rebuild, which made
/// rebuilds about twice as slow (benches/engine.rs, `toggle`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
