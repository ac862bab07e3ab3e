//! The in-memory backend of `directivectl serve` without etcd.
//!
//! It behaves like the etcd one as far as the API can tell (validation,
//! `published_at` stamping, compare-and-swap on a revision, history and
//! rollback, store events) so the UI and scripts can be tried without etcd,
//! but it keeps nothing across restarts and serves one process only: it is
//! announced as such at start.

use std::sync::{Arc, Mutex, PoisonError};

use directive_core::attribution::Attribution;
use directive_core::{stamp, Limits, Snapshot, Stamped, State, Status};
use tokio::sync::broadcast;

use directive_etcd::clock::now_ms;
use directive_etcd::{
    DirectiveStore, HistoryEntry, InMemoryDirectiveStore, PublishError, Published, StoreEvent,
};

/// How many versions the in-memory history keeps.
const HISTORY_LEN: usize = 100;

/// An in-memory directive key with revisions.
#[derive(Clone, Debug)]
pub struct MemoryBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: InMemoryDirectiveStore,
    /// Stamped documents, oldest first, with their revisions.
    versions: Mutex<Vec<Version>>,
    events: broadcast::Sender<StoreEvent>,
    limits: Limits,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl MemoryBackend {
    /// An empty key at revision 0 (absent).
    pub fn new(limits: Limits) -> Self {
        MemoryBackend {
            inner: Arc::new(Inner {
                store: InMemoryDirectiveStore::new(),
                versions: Mutex::new(Vec::new()),
                events: broadcast::Sender::new(64),
                limits,
            }),
        }
    }

    /// The applied snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.inner.store.load())
    }

    /// Always live: there is nothing to lose a connection to.
    pub fn status(&self) -> Status {
        let snapshot = self.inner.store.load();
        Status {
            state: State::Live,
            applied_revision: snapshot.revision,
            observed_revision: snapshot.revision,
            ..Status::default()
        }
    }

    /// Store events (applied), as an etcd store would send them.
    pub fn events(&self) -> broadcast::Receiver<StoreEvent> {
        self.inner.events.subscribe()
    }

    /// Validates, stamps and stores `document` if the revision is `expected`
    /// (`None`: whatever it is now).
    pub fn publish(
        &self,
        document: &[u8],
        expected: Option<i64>,
    ) -> Result<Published, PublishError> {
        let stamped = stamp(document, now_ms(), &self.inner.limits)?;
        self.publish_stamped(&stamped, expected, None)
    }

    /// Stores what [`stamp`] prepared, exactly as the etcd publisher would
    /// write it, if the revision is `expected` (`None`: whatever it is now).
    pub fn publish_stamped(
        &self,
        stamped: &Stamped,
        expected: Option<i64>,
        by: Option<&Attribution>,
    ) -> Result<Published, PublishError> {
        if let Some(by) = by {
            by.check()
                .map_err(|e| PublishError::Attribution(e.to_string()))?;
        }
        let mut versions = self
            .inner
            .versions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.inner.store.load().revision;
        if let Some(expected) = expected {
            if expected != current {
                return Err(PublishError::Conflict {
                    current_revision: current,
                });
            }
        }
        self.inner.store.publish(stamped.set.clone());
        let snapshot = self.inner.store.load();
        versions.push(Version {
            revision: snapshot.revision,
            bytes: stamped.bytes.clone(),
            by: by.cloned(),
        });
        if versions.len() > HISTORY_LEN {
            versions.remove(0);
        }
        let _ = self.inner.events.send(StoreEvent::applied(&snapshot));
        tracing::info!(
            revision = snapshot.revision,
            directives = snapshot.set.len(),
            "published directive set (in memory)"
        );
        Ok(Published {
            revision: snapshot.revision,
        })
    }

    /// Up to `limit` versions, newest first.
    pub fn history(&self, limit: usize) -> Vec<HistoryEntry> {
        let versions = self
            .inner
            .versions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        versions
            .iter()
            .rev()
            .take(limit)
            .map(|v| HistoryEntry {
                attribution: v.by.clone(),
                ..HistoryEntry::of(v.revision, &v.bytes, now_ms(), &self.inner.limits)
            })
            .collect()
    }

    /// The document published at `revision`, as stored (one of the last
    /// [`HISTORY_LEN`] versions).
    pub fn version(&self, revision: i64) -> Result<Vec<u8>, PublishError> {
        let versions = self
            .inner
            .versions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        versions
            .iter()
            .find(|v| v.revision == revision)
            .map(|v| v.bytes.clone())
            .ok_or(PublishError::NotFound { revision })
    }

    /// Re-publishes the version at `revision` if the current revision is
    /// `expected` (`None`: whatever it is now).
    pub fn rollback(
        &self,
        revision: i64,
        expected: Option<i64>,
        by: Option<&Attribution>,
    ) -> Result<Published, PublishError> {
        let document = self.version(revision)?;
        let stamped = stamp(&document, now_ms(), &self.inner.limits)?;
        self.publish_stamped(&stamped, expected, by)
    }
}

/// One stored version and who wrote it.
#[derive(Debug)]
struct Version {
    revision: i64,
    bytes: Vec<u8>,
    by: Option<Attribution>,
}
