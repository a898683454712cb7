//! The run server: every run serves its records and takes commands on a
//! Unix socket in an owner-only directory, so any number of dashboards can
//! watch it, from this terminal, another one, or another machine over ssh;
//! and a run outlives the terminal that started it.

pub mod deadline;
pub mod detach;
pub mod fanout;
mod history;
pub mod identity;
pub mod limits;
pub mod listener;
pub mod rate;
pub mod record;
pub mod server;
pub mod socket_dir;
