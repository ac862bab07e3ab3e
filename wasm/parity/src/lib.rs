//! # directive-wasm-parity
//!
//! Proof that the WASM build reports exactly what native `directive-core`
//! reports, byte for byte.
//!
//! The native reference cannot run inside a WASM test, so the build script
//! (compiled for the host, linked to the host's `directive-core`) computes
//! it: for every decode and evaluate case of the shared corpus, and for a
//! few hundred directive sets generated from a fixed seed (valid ones and
//! broken ones), it stores the input and the native JSON text in
//! `OUT_DIR/expected.json`. The tests in `tests/parity.rs` then run the WASM
//! build on each input, in Node and in Chromium, and compare the text byte
//! for byte. Nothing expected is checked in, so the reference can never go
//! stale: a change to the core or the corpus regenerates it.

#![forbid(unsafe_code)]

/// The expectations computed natively by the build script (JSON text):
/// `{"seed", "corpus": [{"name", "kind", "output"}], "generated": [{"input_hex", "now_ms", "report"}]}`.
pub const EXPECTED_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/expected.json"));

/// Decodes lowercase hex, as the build script writes inputs.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}
