//! traintop: train neural networks in a terminal dashboard and steer the run.

pub mod cli;
pub mod client;
pub mod config;
pub mod data;
pub mod engine;
pub mod format;
pub mod grad_health;
pub mod inspect;
pub mod plugin;
pub mod protocol;
pub mod serve;
pub mod train;
pub mod tui;

/// mimalloc keeps freed memory for reuse. A graph rebuild (a technique
/// toggle) allocates and frees tens of megabytes (luminal's shape trackers are
/// 5 kB each, one per tape entry and per edge); the system allocator handed
/// those pages back and faulted them in again on every rebuild, which made
/// rebuilds about twice as slow (benches/engine.rs, `toggle`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
