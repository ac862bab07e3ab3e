//! # directive-osproxy
//!
//! For an osproxy fleet moving to this control plane one instance at a
//! time: [`UpstreamStore`] implements the upstream's
//! `osproxy_observe::DirectiveStore` over this project's etcd store, so an
//! osproxy pipeline that holds an `Arc<dyn osproxy_observe::DirectiveStore>`
//! keeps its code and gets this store's behaviour: no gap between read and
//! watch, compaction and deletes handled, stall detection, backoff, status,
//! metrics and instance reports ([`directive_etcd::EtcdDirectiveStore`]).
//!
//! The one-line change in an osproxy server, where it connects its store:
//!
//! ```no_run
//! # async fn wire() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use osproxy_core::{Clock, SystemClock};
//! use osproxy_observe::DirectiveStore;
//!
//! let endpoints = vec!["http://127.0.0.1:2379".to_owned()];
//! let clock: Arc<dyn Clock> = Arc::new(SystemClock);
//! // was: osproxy_etcd::EtcdDirectiveStore::connect(&endpoints, "osproxy/directives", clock)
//! let store = directive_osproxy::UpstreamStore::connect(&endpoints, "osproxy/directives", clock).await?;
//! let read_side: Arc<dyn DirectiveStore> = Arc::new(store);
//! # let _ = read_side;
//! # Ok(())
//! # }
//! ```
//!
//! The upstream's `DirectiveSet` is built once per snapshot this store
//! applies ([`to_upstream`]), never per request: `load()` is two atomic
//! loads and a reference-count increment (the upstream trait returns an
//! `Arc`). Expiries are absolute here (ADR 0001) and instants there; the
//! conversion reads the system clock (which anchored them) and the
//! pipeline's clock together, once per set, so the upstream's
//! `now < expires_at` gives the answer this project's decoder gives.
//!
//! [`compat::check`] says, for a document, whether the upstream and this
//! project accept it and explains every difference (`directivectl validate
//! --upstream-compat`).

#![forbid(unsafe_code)]

pub mod compat;
mod convert;
mod store;

pub use convert::{to_upstream, Converted};
pub use store::{UpstreamStore, WallClock};
