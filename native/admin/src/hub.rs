//! The event hub behind `GET /api/events`.
//!
//! Store events (applied / rejected / status) and fleet changes come from
//! different places; the hub turns each into its JSON line once and fans it
//! out to every SSE client through one broadcast channel. A slow client that
//! falls behind gets a `lagged` event and can re-read the state, instead of
//! slowing down the store or the other clients.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::fleet::{fleet_json, FleetView};
use directive_etcd::StoreEvent;

/// How many events a client may fall behind before it is told it lagged.
const CAPACITY: usize = 1024;

/// The shortest time between two `fleet` events.
const FLEET_EVENT_SPACING: std::time::Duration = std::time::Duration::from_millis(100);

/// Fan-out of serialized events.
#[derive(Clone, Debug)]
pub(crate) struct EventHub {
    tx: broadcast::Sender<Arc<str>>,
}

impl EventHub {
    pub(crate) fn new() -> Self {
        EventHub {
            tx: broadcast::Sender::new(CAPACITY),
        }
    }

    /// Sends one JSON line to every client (none listening is fine).
    pub(crate) fn send(&self, line: String) {
        let _ = self.tx.send(Arc::from(line));
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }

    /// Forwards a store's events until it closes or `cancel` fires.
    pub(crate) fn forward_store(
        &self,
        mut events: broadcast::Receiver<StoreEvent>,
        cancel: CancellationToken,
    ) {
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    () = cancel.cancelled() => return,
                    event = events.recv() => event,
                };
                match event {
                    Ok(event) => hub.send(store_event_line(&event)),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        hub.send(json!({"event": "lagged", "missed": missed}).to_string());
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Sends a `fleet` event on every change of the view until `cancel`,
    /// at most one per [`FLEET_EVENT_SPACING`]: every event carries the
    /// whole listing, so a large fleet whose reports change together (a
    /// publish) costs one event per spacing, not one per instance; the
    /// `watch` channel keeps only the latest listing meanwhile.
    pub(crate) fn forward_fleet(&self, view: &FleetView, cancel: CancellationToken) {
        let hub = self.clone();
        let mut rows = view.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    changed = rows.changed() => if changed.is_err() { return },
                }
                let line = fleet_event_line(&rows.borrow_and_update());
                hub.send(line);
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(FLEET_EVENT_SPACING) => {}
                }
            }
        });
    }
}

/// A store event as its JSON line (the same object as `watch --json`).
pub(crate) fn store_event_line(event: &StoreEvent) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

/// `{"event":"fleet", ...}` with the body of `GET /api/fleet`.
pub(crate) fn fleet_event_line(fleet: &directive_etcd::Fleet) -> String {
    let mut line = fleet_json(fleet);
    if let Some(object) = line.as_object_mut() {
        object.insert("event".to_owned(), "fleet".into());
    }
    line.to_string()
}
