//! placeholder
mod spans;
