//! What the reducer publishes: snapshots, rejections and a status a caller
//! can show (the LaunchDarkly data-source status, in etcd terms).

use serde::Serialize;

use crate::{DecodeError, DirectiveSet};

/// What the key was when a [`Snapshot`] was established. The one place
/// that knows whether an empty set means "no value": nothing downstream
/// re-derives it from the set's contents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Nothing has been read yet (the initial empty set).
    #[default]
    Unread,
    /// The key does not exist (never written, or deleted) as of the
    /// snapshot's revision.
    Absent,
    /// The key's value, valid, written at the snapshot's revision.
    Value,
    /// The key's current value was malformed at startup; this is the newest
    /// valid earlier version, written at the snapshot's revision.
    Recovered,
    /// The key's current value was malformed at startup and no valid
    /// earlier version was found: the empty set, at revision 0.
    NoValidVersion,
}

/// The active directive set together with where it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The etcd revision this state was established at: the value's mod
    /// revision, or the revision of the delete / read that found the key absent.
    /// 0 before anything was read.
    pub revision: i64,
    /// The directives.
    pub set: DirectiveSet,
    /// What the key was.
    pub origin: Origin,
    /// Digest (FNV-1a 64, length) of the value bytes, to recognise a re-put
    /// of the identical value.
    pub(crate) digest: Option<(u64, usize)>,
}

impl Snapshot {
    /// True when this set was recovered from history at startup.
    pub fn is_recovered(&self) -> bool {
        self.origin == Origin::Recovered
    }

    /// True when this set stands for a value stored under the key (valid
    /// or recovered), false when the key is absent or nothing was read.
    pub fn has_value(&self) -> bool {
        matches!(self.origin, Origin::Value | Origin::Recovered)
    }
}

/// The data source's condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// No read of the key has completed yet; `load()` gives the empty set.
    Initializing,
    /// Connected, and the snapshot reflects etcd.
    Live,
    /// Disconnected since `since_ms`; the snapshot is the last known good.
    Stale {
        /// When the connection was lost, unix ms.
        since_ms: u64,
    },
}

impl State {
    /// The state's name: `initializing`, `live` or `stale`.
    pub fn name(&self) -> &'static str {
        match self {
            State::Initializing => "initializing",
            State::Live => "live",
            State::Stale { .. } => "stale",
        }
    }
}

/// A value that was refused, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The mod revision of the refused value.
    pub revision: i64,
    /// When it was refused, unix ms.
    pub at_ms: u64,
    /// Every error the decoder found.
    pub errors: Vec<DecodeError>,
}

/// Everything a dashboard or a readiness probe needs to know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Initializing, live or stale.
    #[serde(flatten)]
    pub state: State,
    /// Revision of the applied snapshot (see [`Snapshot::revision`]).
    pub applied_revision: i64,
    /// Highest etcd revision known to be reflected (the watch resumes after it).
    pub observed_revision: i64,
    /// When the snapshot last changed, unix ms.
    pub last_update_ms: Option<u64>,
    /// The most recent refused value.
    pub last_rejection: Option<Rejection>,
    /// How many times the connection was lost.
    pub reconnects: u64,
    /// The most recent connection or watch error.
    pub last_error: Option<String>,
    /// True when the applied set was recovered from history at startup.
    pub recovered_from_history: bool,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            state: State::Initializing,
            applied_revision: 0,
            observed_revision: 0,
            last_update_ms: None,
            last_rejection: None,
            reconnects: 0,
            last_error: None,
            recovered_from_history: false,
        }
    }
}
