//! # directive-wasm
//!
//! wasm-bindgen bindings of `directive-core` for browsers and Node (issue 5).
//! Today it only proves that the core links for `wasm32-unknown-unknown`.

#![forbid(unsafe_code)]

pub use directive_core::VERSION;
