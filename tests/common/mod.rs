//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cli;
pub mod gradcheck;
pub mod plugins;
pub mod procs;
pub mod screen;
pub mod served;
pub mod slurm;
pub mod sshd;
pub mod tmux;
pub mod twin;
