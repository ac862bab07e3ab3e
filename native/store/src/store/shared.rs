//! State shared between the store's handles and its background task.
//!
//! The snapshot sits in an `ArcSwap` so `load()` is one atomic load; the same
//! `Arc` goes to a `watch` channel for code that reacts to changes. Status
//! lives in its own `watch` channel (read rarely, never on the hot path).

use std::sync::Arc;

use arc_swap::ArcSwap;
use directive_core::{Output, Snapshot, Status};
use tokio::sync::{broadcast, watch};

use super::event::StoreEvent;

/// Capacity of the event broadcast; a slower listener sees `Lagged`.
const EVENT_CAPACITY: usize = 256;

pub(crate) struct Shared {
    pub(crate) current: ArcSwap<Snapshot>,
    pub(crate) snapshots: watch::Sender<Arc<Snapshot>>,
    pub(crate) status: watch::Sender<Status>,
    pub(crate) events: broadcast::Sender<StoreEvent>,
}

impl Shared {
    pub(crate) fn new() -> Self {
        let empty = Arc::new(Snapshot::default());
        Shared {
            current: ArcSwap::new(Arc::clone(&empty)),
            snapshots: watch::Sender::new(empty),
            status: watch::Sender::new(Status::default()),
            events: broadcast::Sender::new(EVENT_CAPACITY),
        }
    }

    /// Publishes one reducer output: snapshot first (so a status of `live`
    /// never precedes its data), then rejection, then status.
    pub(crate) fn publish(&self, key: &str, out: &Output, status: &Status) {
        if let Some(snapshot) = &out.applied {
            self.current.store(Arc::clone(snapshot));
            self.snapshots.send_replace(Arc::clone(snapshot));
            tracing::info!(
                key,
                revision = snapshot.revision,
                directives = snapshot.set.len(),
                recovered = snapshot.is_recovered(),
                stamped = snapshot.set.is_stamped(),
                "applied directive set"
            );
            // No receivers is fine: events are for whoever listens.
            let _ = self.events.send(StoreEvent::applied(snapshot));
        }
        if let Some(rejection) = &out.rejected {
            let codes: Vec<&str> = rejection.errors.iter().map(|e| e.code.as_str()).collect();
            tracing::warn!(
                key,
                revision = rejection.revision,
                codes = ?codes,
                kept_revision = status.applied_revision,
                "rejected directive value; keeping the last good set"
            );
            let _ = self.events.send(StoreEvent::rejected(rejection));
        }
        if out.status_changed {
            let previous = self.status.send_replace(status.clone());
            if previous.state.name() != status.state.name() {
                tracing::info!(
                    key,
                    from = previous.state.name(),
                    to = status.state.name(),
                    observed_revision = status.observed_revision,
                    reconnects = status.reconnects,
                    "directive store state changed"
                );
                let _ = self.events.send(StoreEvent::status(status));
            }
        }
    }
}
