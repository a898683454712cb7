//! The client side of a run's socket: finding runs, connecting to one here
//! or over ssh, and the event stream a dashboard reads.

pub mod banner;
pub mod ended_run;
pub mod find;
pub mod session;
pub mod ssh;
pub mod stdio;
pub mod stream;
