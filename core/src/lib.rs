//! # directive-core
//!
//! The sans-IO heart of the directive control plane: everything that decides
//! *what* the fleet applies, with none of the *how* of getting it there.
//!
//! - [`decode`] turns a wire document into a [`DirectiveSet`] or into every
//!   error it contains ([`DecodeErrors`]), fail-closed: any error rejects the
//!   whole set.
//! - [`DirectiveSet::evaluate`] answers "what applies to this request?" from a
//!   target index, in time proportional to the candidates, not the set.
//! - [`Reducer`] turns what an etcd shell observed into the active
//!   [`Snapshot`], [`Rejection`]s and the next [`Command`].
//! - [`validate`] produces the [`ValidationReport`], the one JSON shape the
//!   CLI, the HTTP API and the browser share.
//!
//! The crate reads no clock (time is always a `now_ms` parameter, unix
//! milliseconds), does no I/O and depends on no runtime, so the same code runs
//! in every proxy of the fleet and, compiled to WebAssembly, in the browser.

#![forbid(unsafe_code)]

pub mod attribution;
mod backoff;
mod decode;
pub mod diff;
mod directive;
mod endpoint;
mod error;
pub mod instance;
mod level;
mod limits;
mod reducer;
mod report;
mod request;
pub mod sampling;
mod schema;
mod set;
mod stamp;

pub use backoff::Backoff;
pub use decode::decode;
pub use directive::{Directive, Target};
pub use endpoint::EndpointKind;
pub use error::{DecodeError, DecodeErrors, ErrorCode};
pub use level::DiagLevel;
pub use limits::Limits;
pub use reducer::{
    Command, Event, KeyValue, Origin, Output, Reducer, ReducerConfig, Rejection, Restart, Retry,
    Snapshot, State, Status,
};
pub use report::{validate, DirectiveReport, ValidationReport};
pub use request::{Decision, Explanation, Request};
pub use schema::{schema, SCHEMA_ID};
pub use set::DirectiveSet;
pub use stamp::{stamp, stamp_as, Stamped, WireFormat};

/// The crate version, for `version()` in the CLI and the WASM build.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
