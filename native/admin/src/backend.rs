//! What the admin API reads and writes: an etcd store with its publisher,
//! or the in-memory key.
//!
//! An enum rather than a trait object: there are exactly two, the API
//! handlers stay plain `async fn`s, and `match` makes each difference
//! (e.g. rollback's revision check) visible in one place.

use std::sync::Arc;

use directive_core::attribution::Attribution;
use directive_core::{Origin, Snapshot, Stamped, State, Status, WireFormat};
use serde::Serialize;
use tokio::sync::broadcast;

use super::memory::MemoryBackend;
use directive_etcd::{
    EtcdDirectiveStore, HistoryEntry, PublishError, Published, Publisher, StoreEvent,
};

/// The data behind the API.
// One per app, held in an `Arc`: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Backend {
    /// What this instance applies from etcd, and the safe writer of the key.
    Etcd {
        /// The watch-and-cache store (reads, status, events).
        store: EtcdDirectiveStore,
        /// The writer (publish, history, rollback).
        publisher: Publisher,
    },
    /// A process-local key (`serve` without `--endpoints`).
    Memory(MemoryBackend),
}

/// Where the data behind the API lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum DataSource {
    /// A key of an etcd cluster.
    Etcd {
        /// The cluster's endpoints, as configured.
        endpoints: Vec<String>,
        /// The directive key.
        key: String,
    },
    /// The process-local key.
    Memory,
}

impl Backend {
    /// How publishes through this backend write the document: the etcd
    /// publisher's configured format; the in-memory key is never read by
    /// an upstream instance, so it is always stamped.
    pub fn format(&self) -> WireFormat {
        match self {
            Backend::Etcd { publisher, .. } => publisher.options().format(),
            Backend::Memory(_) => WireFormat::Stamped,
        }
    }

    /// Which key of which etcd (or the in-memory key).
    pub fn source(&self) -> DataSource {
        match self {
            Backend::Etcd { publisher, .. } => DataSource::Etcd {
                endpoints: publisher.options().endpoints().to_vec(),
                key: publisher.options().key().to_owned(),
            },
            Backend::Memory(_) => DataSource::Memory,
        }
    }

    /// The applied snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self {
            Backend::Etcd { store, .. } => store.snapshot(),
            Backend::Memory(memory) => memory.snapshot(),
        }
    }

    /// The store's status.
    pub fn status(&self) -> Status {
        match self {
            Backend::Etcd { store, .. } => store.status(),
            Backend::Memory(memory) => memory.status(),
        }
    }

    /// True once the key has been read.
    pub fn is_ready(&self) -> bool {
        self.status().state != State::Initializing
    }

    /// The key's mod revision for `snapshot`, as `If-Match` expects it,
    /// given the key's revision in the store now ([`Backend::stored_revision`]).
    ///
    /// A snapshot of a value ([`Origin::Value`]) was established at the
    /// value's mod revision. Any other snapshot (the key absent, recovered
    /// from history, nothing valid) does not know the key's revision: under
    /// etcd it is the stored one.
    pub fn key_revision(&self, snapshot: &Snapshot, stored_revision: i64) -> i64 {
        match self {
            Backend::Etcd { .. } if snapshot.origin != Origin::Value => stored_revision,
            _ => snapshot.revision,
        }
    }

    /// The key's mod revision in the store right now (0 when absent),
    /// whether or not the value there is the applied one. Under etcd, one
    /// read.
    pub async fn stored_revision(&self) -> Result<i64, PublishError> {
        match self {
            Backend::Etcd { publisher, .. } => Ok(publisher.current().await?.1),
            Backend::Memory(memory) => Ok(memory.snapshot().revision),
        }
    }

    /// The value written at `revision`, as stored.
    pub async fn version(&self, revision: i64) -> Result<Vec<u8>, PublishError> {
        match self {
            Backend::Etcd { publisher, .. } => publisher.version(revision).await,
            Backend::Memory(memory) => memory.version(revision),
        }
    }

    /// The store's event stream.
    pub fn events(&self) -> broadcast::Receiver<StoreEvent> {
        match self {
            Backend::Etcd { store, .. } => store.events(),
            Backend::Memory(memory) => memory.events(),
        }
    }

    /// Compare-and-swap publish of a document [`directive_core::stamp`]
    /// prepared (decoded once, checked as the fleet will decode it).
    pub async fn publish_stamped(
        &self,
        stamped: &Stamped,
        expected: Option<i64>,
        by: Option<&Attribution>,
    ) -> Result<Published, PublishError> {
        match self {
            Backend::Etcd { publisher, .. } => {
                publisher.publish_stamped_by(stamped, expected, by).await
            }
            Backend::Memory(memory) => memory.publish_stamped(stamped, expected, by),
        }
    }

    /// Up to `limit` versions, newest first.
    pub async fn history(&self, limit: usize) -> Result<Vec<HistoryEntry>, PublishError> {
        match self {
            Backend::Etcd { publisher, .. } => publisher.history(limit).await,
            Backend::Memory(memory) => Ok(memory.history(limit)),
        }
    }

    /// Re-publishes an earlier version. With `expected`, refuses (409) when
    /// the key has moved on. Under etcd that check is a read just before the
    /// publisher's own compare-and-swap: a write landing between the two is
    /// still never overwritten blindly, the rollback then applies on top of
    /// it (the publisher compares against the revision it read).
    pub async fn rollback(
        &self,
        revision: i64,
        expected: Option<i64>,
        by: Option<&Attribution>,
    ) -> Result<Published, PublishError> {
        match self {
            Backend::Etcd { publisher, .. } => publisher.rollback_by(revision, expected, by).await,
            Backend::Memory(memory) => memory.rollback(revision, expected, by),
        }
    }

    /// Stops the store's background task (etcd); nothing for memory.
    pub async fn shutdown(&self) {
        if let Backend::Etcd { store, .. } = self {
            store.shutdown().await;
        }
    }
}
