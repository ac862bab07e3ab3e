//! Embedding the store in a proxy: from a request to a decision, once per request.
//!
//! Three layers, each usable alone:
//! - [`attrs`] maps an HTTP request onto the directive vocabulary (tenant,
//!   index, principal, endpoint kind, request id), with [`host`], [`path`]
//!   and [`hop`] deciding what a request is for and what is forwarded;
//! - [`hook`] turns attributes into a [`Decision`](directive_core::Decision)
//!   with one snapshot load, and renders it as the `x-diagnostics` header
//!   (sent only when [`DiagnosticsHeader`] says so: off by default);
//! - [`server`] is a complete reverse proxy (hyper) that applies the hook on
//!   every request, used by the demo's fleet, the proxy tests and the
//!   overhead benchmark (with [`hook::NoHook`] as the compiled-out baseline).
//!
//! For a service of your own (axum, hyper, tonic), [`layer::DirectiveLayer`]
//! is the same decision as tower middleware: the [`Decision`](directive_core::Decision)
//! in the request's extensions and a `tracing` span at the decided level.
//!
//! [`echo`] is the trivial upstream those run against.

pub mod attrs;
pub mod echo;
pub mod hook;
pub mod hop;
pub mod host;
pub mod layer;
pub mod metrics;
pub mod options;
pub mod path;
pub mod server;

pub use attrs::{RequestAttrs, RequestIdPolicy};
pub use directive_conn::ConnectionLimits;
pub use hook::{header_value, DirectiveHook, Hook, NoHook, HEADER};
pub use layer::{Attributes, DirectiveLayer, DirectiveService, HeaderAttributes};
pub use options::{DiagnosticsHeader, ProxyOptions};
pub use server::{serve, serve_with};
