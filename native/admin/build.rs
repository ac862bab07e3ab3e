//! Rebuilds the crate when anything under `web-demo/` changes, including
//! files added after the last build (the WASM `pkg/` copied in by
//! `scripts/ui-pkg.sh`): rust-embed tracks only the files it embedded.

fn main() {
    println!("cargo:rerun-if-changed=../../web-demo");
}
