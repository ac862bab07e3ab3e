//! The fleet board: what each simulated (or, later, proxied) instance
//! applies, for `GET /api/fleet` and the `fleet` SSE event.
//!
//! The admin server only reads the board; whoever runs instances (the demo
//! today, the proxy fleet of issue 8 later) writes one row per instance. A
//! `watch` channel holds the rows, so readers always see a whole board and
//! a burst of updates collapses into the latest one.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::watch;

/// One instance as the board shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstanceReport {
    /// A stable name, e.g. `instance-1`.
    pub id: String,
    /// The revision of the snapshot it applies.
    pub applied_revision: i64,
    /// `initializing`, `live` or `stale`.
    pub state: &'static str,
    /// How many directives it applies.
    pub directives: usize,
    /// Milliseconds from the set's `published_at` stamp to this instance
    /// applying it, for the last change; `None` for unstamped sets.
    pub last_change_latency_ms: Option<u64>,
    /// Its HTTP port, when the instance serves traffic (issue 8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// The shared board: cheap to clone, one row per instance.
#[derive(Clone, Debug)]
pub struct FleetBoard {
    rows: Arc<watch::Sender<Vec<InstanceReport>>>,
}

impl Default for FleetBoard {
    fn default() -> Self {
        FleetBoard {
            rows: Arc::new(watch::Sender::new(Vec::new())),
        }
    }
}

impl FleetBoard {
    /// An empty board (what `serve` without a fleet shows).
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces the row with `report.id`, keeping rows in
    /// insertion order; readers are notified only on a real change.
    pub fn upsert(&self, report: InstanceReport) {
        self.rows
            .send_if_modified(|rows| match rows.iter_mut().find(|r| r.id == report.id) {
                Some(row) if *row == report => false,
                Some(row) => {
                    *row = report;
                    true
                }
                None => {
                    rows.push(report);
                    true
                }
            });
    }

    /// Removes every row (the fleet stopped).
    pub fn clear(&self) {
        self.rows.send_if_modified(|rows| {
            let changed = !rows.is_empty();
            rows.clear();
            changed
        });
    }

    /// The rows now.
    pub fn rows(&self) -> Vec<InstanceReport> {
        self.rows.borrow().clone()
    }

    /// A receiver notified on every change.
    pub fn subscribe(&self) -> watch::Receiver<Vec<InstanceReport>> {
        self.rows.subscribe()
    }
}
