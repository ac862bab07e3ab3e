//! # directive-etcd
//!
//! What a proxy embeds: the tokio + etcd watch-and-cache
//! [`EtcdDirectiveStore`], the [`Publisher`] (the safe writer of the key), the
//! [`DirectiveStore`] trait with an in-memory implementation, and the clock.
//! Everything that decides what the fleet applies lives in `directive-core`;
//! this crate only moves bytes and reads the time. The admin HTTP server
//! (`directive-admin`), the proxy hook (`directive-proxy`) and the CLI
//! (`directivectl`) are crates of their own, so a proxy that only wants the
//! store compiles no HTTP server and no argument parser.

#![forbid(unsafe_code)]

pub mod clock;
mod directive_store;
pub mod fleet;
pub mod history;
pub mod metrics;
pub mod publisher;
pub mod store;

pub use directive_store::{DirectiveStore, InMemoryDirectiveStore};
pub use fleet::{Fleet, FleetStatus, Listed, ListedInstance, Lost, Progress, Rollout, Straggler};
pub use history::{Change, HistoryEntry};
pub use publisher::{PublishError, Published, Publisher};
pub use store::{EtcdDirectiveStore, StoreError, StoreEvent, StoreOptions, TlsConfig};
