//! The admin HTTP API of `directivectl serve` and `directivectl demo`.
//!
//! The upstream's admin endpoint disappeared as soon as etcd was used (no
//! way to read what an instance applies), accepted its token over cleartext
//! on reads, leaked the token's length through its comparison, and published
//! last-writer-wins with no audit (spec §6, items 13, 20, 21). This API reads
//! what this instance's [`EtcdDirectiveStore`](directive_etcd::EtcdDirectiveStore)
//! applies, publishes only through the validating, compare-and-swap
//! [`Publisher`](directive_etcd::Publisher) (`If-Match` on the revision), and exposes
//! history, rollback and a live event stream, all behind a bearer token.
//! The security decisions are in `docs/adr/0004-admin-api-security.md`.
//!
//! - `state`: [`AdminConfig`], [`AdminApp`] (the backend slot, hub, fleet);
//! - `backend` and `memory`: what the API reads and writes;
//! - `auth`: the token and its constant-time check;
//! - `routes`, `handlers`, `body`, `sse`, `ui`: the HTTP surface;
//! - `hub` and `fleet`: the event fan-out and the fleet view (the
//!   instances' reports);
//! - `listen`: the listen policy, TLS and the bounded accept loop;
//! - `error`: every error status and its JSON body.

mod auth;
mod backend;
mod body;
mod error;
mod fleet;
mod handlers;
mod hub;
mod listen;
mod memory;
pub mod metrics;
pub mod roles;
mod routes;
mod sse;
mod state;
mod ui;

pub use auth::{AdminToken, MIN_TOKEN_LEN, TOKEN_ENV};
pub use backend::{Backend, DataSource};
pub use directive_conn::ConnectionLimits;
pub use error::ApiError;
pub use listen::{
    check_policy, load_tls, start, start_metrics, ListenError, ListenOptions, RunningServer,
    TlsFiles,
};
pub use memory::MemoryBackend;
pub use routes::LOOPBACK_HOSTS;
pub use state::{AdminApp, AdminConfig};
