//! # directive-conn
//!
//! Connection-level limits shared by our two HTTP servers (the admin API
//! and the reverse proxy): what a hostile client on the network must not
//! get around, all counted from accept ([`ConnectionLimits`]).
//!
//! - [`accept`]: the next connection, backing off when accept fails (out
//!   of descriptors) instead of spinning;
//! - [`Registry`]: the open connections; at the cap a newcomer evicts the
//!   connection idle the longest (one that never sent a request first), and
//!   is refused at once only when every connection is busy;
//! - [`tracked`]: a service wrapper recording each request's start and the
//!   end of its response body, so "idle" means no request in flight;
//! - [`drive`]: serves one connection until it ends, misses its head
//!   deadline, stays idle too long, is evicted, or the server stops, then
//!   closes it with a bounded lingering close ([`linger`]).

#![forbid(unsafe_code)]

mod accept;
mod drive;
mod limits;
pub mod linger;
mod registry;

pub use accept::{accept, ACCEPT_BACKOFF};
pub use drive::{builder, drive};
pub use limits::ConnectionLimits;
pub use registry::{tracked, Activity, Admitted, Guarded, Registry, Tracked};
