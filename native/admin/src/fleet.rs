//! The fleet as the admin API shows it: the instances' own reports on the
//! key (ADR 0011), followed through one etcd watch, and the rollout of the
//! key's latest write, for `GET /api/fleet` and the `fleet` SSE event.
//!
//! The view is a `watch` channel that always exists: empty until an etcd
//! backend is set (an in-memory backend has no fleet), then kept current by
//! [`directive_etcd::Publisher::watch_fleet`]. Readers see a whole listing,
//! and a burst of report writes collapses into the latest one.

use directive_etcd::Fleet;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The shared fleet view.
#[derive(Debug)]
pub(crate) struct FleetView {
    tx: watch::Sender<Fleet>,
}

impl FleetView {
    pub(crate) fn new() -> Self {
        FleetView {
            tx: watch::Sender::new(Fleet::default()),
        }
    }

    /// The listing now.
    pub(crate) fn now(&self) -> Fleet {
        self.tx.borrow().clone()
    }

    /// A receiver notified on every change.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Fleet> {
        self.tx.subscribe()
    }

    /// Copies `source` (a publisher's followed fleet) into the view until
    /// `cancel` or the source ends.
    pub(crate) fn follow(&self, mut source: watch::Receiver<Fleet>, cancel: CancellationToken) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            loop {
                tx.send_replace(source.borrow_and_update().clone());
                tokio::select! {
                    () = cancel.cancelled() => return,
                    changed = source.changed() => if changed.is_err() { return },
                }
            }
        });
    }
}

/// The JSON of a listing ([`Fleet::status`]): `key_revision`, the
/// `rollout` of that revision and every `instances` entry.
pub(crate) fn fleet_json(fleet: &Fleet) -> Value {
    serde_json::to_value(fleet.status()).unwrap_or_default()
}
