//! The etcd watch-and-cache directive store.
//!
//! Every proxy instance keeps the fleet's directive set in memory and reads
//! it with one atomic load per request; a background task keeps it equal to
//! the etcd key, following the informer pattern (read, then watch from the
//! read's revision + 1; re-read on compaction or cancel; reconnect with
//! jittered exponential backoff). The decisions are the pure
//! `directive_core::Reducer`'s; this module is its I/O shell:
//!
//! - `options`: the builder shared with the publisher;
//! - `connect`: the client and error descriptions;
//! - `driver`: the one loop between etcd and the reducer;
//! - `shared`: snapshot, status and event publication;
//! - `handle`: the public [`EtcdDirectiveStore`];
//! - `event`: [`StoreEvent`], the listener-facing event stream;
//! - `reporter`: the instance report under a lease (opt-in).

mod connect;
mod driver;
mod event;
mod handle;
mod options;
mod reporter;
mod shared;

pub use connect::StoreError;
pub use event::{RejectedError, StoreEvent};
pub use handle::EtcdDirectiveStore;
pub use options::{StoreOptions, TlsConfig, DEFAULT_KEY};

pub(crate) use connect::{build_client, describe, is_compacted, is_future_revision};
