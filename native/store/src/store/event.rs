//! Store events for listeners (`directivectl watch`, the admin SSE stream).
//!
//! The [`tokio::sync::watch`] channel of snapshots tells code *what* is
//! applied; this broadcast tells people *what happened*, including refusals
//! and connection trouble that do not change the snapshot. Events carry ids,
//! codes and paths only, never directive values.

use directive_core::{Rejection, Snapshot, Status};
use serde::Serialize;

/// One error of a rejected value: its code and JSON Pointer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RejectedError {
    /// The stable error code (e.g. `unknown_field`).
    pub code: String,
    /// JSON Pointer to the offending element.
    pub path: String,
}

/// Something the store did, as one JSON object tagged by `event`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StoreEvent {
    /// A new snapshot is active: `{"event":"applied","revision":R,"directives":N,"ids":[...]}`.
    Applied {
        /// The snapshot's revision.
        revision: i64,
        /// How many directives it holds.
        directives: usize,
        /// Their ids, in published order.
        ids: Vec<String>,
        /// True when recovered from history at startup.
        recovered: bool,
    },
    /// A value was refused; the last good snapshot stays:
    /// `{"event":"rejected","revision":R,"errors":[{"code","path"}]}`.
    Rejected {
        /// The refused value's mod revision.
        revision: i64,
        /// Every error found.
        errors: Vec<RejectedError>,
    },
    /// The data source's state changed: `{"event":"status","state":"live",...}`.
    Status {
        /// `initializing`, `live` or `stale`.
        state: &'static str,
        /// Revision of the applied snapshot.
        applied_revision: i64,
        /// Highest revision known to be reflected.
        observed_revision: i64,
        /// Connection losses so far.
        reconnects: u64,
        /// The most recent connection or watch error.
        #[serde(skip_serializing_if = "Option::is_none")]
        last_error: Option<String>,
    },
}

impl StoreEvent {
    /// The `applied` event for a snapshot.
    pub fn applied(snapshot: &Snapshot) -> Self {
        StoreEvent::Applied {
            revision: snapshot.revision,
            directives: snapshot.set.len(),
            ids: snapshot
                .set
                .directives()
                .iter()
                .map(|d| d.id.clone())
                .collect(),
            recovered: snapshot.is_recovered(),
        }
    }

    /// The `rejected` event for a refused value.
    pub fn rejected(rejection: &Rejection) -> Self {
        StoreEvent::Rejected {
            revision: rejection.revision,
            errors: rejection
                .errors
                .iter()
                .map(|e| RejectedError {
                    code: e.code.to_string(),
                    path: e.path.clone(),
                })
                .collect(),
        }
    }

    /// The `status` event for a store status.
    pub fn status(status: &Status) -> Self {
        StoreEvent::Status {
            state: status.state.name(),
            applied_revision: status.applied_revision,
            observed_revision: status.observed_revision,
            reconnects: status.reconnects,
            last_error: status.last_error.clone(),
        }
    }
}
