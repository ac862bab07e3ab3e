//! # directive-etcd
//!
//! The native shell around `directive-core`: the clock, and (as the project
//! grows) the tokio + etcd watch-and-cache store, the publisher, the admin
//! HTTP API and the `directivectl` CLI. Everything that decides what the
//! fleet applies lives in `directive-core`; this crate only moves bytes and
//! reads the time.

#![forbid(unsafe_code)]

pub mod admin;
pub mod clock;
pub mod demo;
mod directive_store;
pub mod proxy;
pub mod publisher;
pub mod store;

pub use directive_store::{DirectiveStore, InMemoryDirectiveStore};
pub use publisher::{HistoryEntry, PublishError, Published, Publisher};
pub use store::{EtcdDirectiveStore, StoreError, StoreEvent, StoreOptions, TlsConfig};
