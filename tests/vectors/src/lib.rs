//! # directive-vectors
//!
//! The shared test-vector corpus (`cases/*.json`, format in
//! `docs/vectors.md`) and the one runner every surface uses. A surface is
//! anything that can validate a document and evaluate a request: the core
//! library itself, the WASM build, the CLI, the HTTP API. Each implements
//! [`Surface`]; [`run_all`] feeds it every case and compares what it returns
//! with what the case expects, so "the browser decides exactly as the fleet
//! does" is a test, not a claim.

#![forbid(unsafe_code)]

mod case;
mod check;
pub mod generate;
mod native;
mod request;

pub use case::{load, Case, CaseKind, Corpus, Document};
pub use check::{check_case, run_all, Failure, Summary, Surface};
pub use native::{limits_from, Native};
pub use request::RequestSpec;

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));
