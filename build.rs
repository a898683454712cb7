//! Nothing to generate: this build script exists so that the technique plugins,
//! listed as build-dependencies, are compiled whenever traintop is (see
//! Cargo.toml), and `cargo run` finds them next to the binary's deps.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
