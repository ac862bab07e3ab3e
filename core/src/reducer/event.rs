//! The reducer's vocabulary: what the etcd shell observed, and what the
//! reducer asks it to do next.
//!
//! Revisions are etcd's `i64` revisions, passed through unchanged.

use serde::Serialize;

/// A key's value as etcd returned it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyValue<'a> {
    /// The raw value bytes.
    pub value: &'a [u8],
    /// The revision of the put that wrote this value.
    pub mod_revision: i64,
}

/// Something the shell observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A full, linearizable read of the key: the response header's revision,
    /// and the key's value if it exists.
    Read {
        /// Header revision of the read.
        revision: i64,
        /// The key, or `None` when absent.
        kv: Option<KeyValue<'a>>,
    },
    /// The answer to [`Command::ReadHistory`]: the key as it was at the asked
    /// revision, or `None` when it did not exist then or that history is compacted.
    HistoryRead {
        /// The key at that revision.
        kv: Option<KeyValue<'a>>,
    },
    /// The watch was created (etcd confirmed it).
    WatchCreated,
    /// A put on the key, from the watch.
    Put {
        /// The new value.
        kv: KeyValue<'a>,
    },
    /// The answer to [`Command::Probe`]: the key's mod revision, `None`
    /// when the key is absent.
    Probed {
        /// The key's mod revision, if it exists.
        mod_revision: Option<i64>,
    },
    /// A delete of the key, from the watch, at this revision.
    Delete {
        /// Revision of the delete.
        revision: i64,
    },
    /// A server progress notification: etcd has sent everything up to this
    /// revision.
    Progress {
        /// Header revision.
        revision: i64,
    },
    /// A watch message that proves the stream is alive but vouches for no
    /// revision (on etcd 3.4, the answer to a progress request is sent even
    /// while the watcher still catches up).
    Heartbeat,
    /// The watch's start revision was compacted away.
    Compacted {
        /// etcd's compact revision.
        compact_revision: i64,
    },
    /// etcd cancelled the watch.
    Canceled {
        /// etcd's reason, if it gave one.
        reason: String,
    },
    /// The connection, a read or the watch stream failed.
    Disconnected {
        /// What failed (an etcd error; never a value).
        cause: String,
    },
    /// The connection was refused: nothing listens at the endpoint (etcd
    /// is down or restarting). A failure like [`Event::Disconnected`],
    /// but one that costs etcd nothing to retry, so it never grows the
    /// backoff (ADR 0017).
    Refused {
        /// What failed.
        cause: String,
    },
}

/// What the shell does after a backoff delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Retry {
    /// Read the key in full.
    Read,
    /// Reopen the watch from this revision.
    Watch {
        /// First revision the watch must deliver.
        start_revision: i64,
    },
}

/// What the shell must do now. Every command replaces whatever the shell
/// was doing (an outstanding read, an open watch), except
/// [`Command::RequestProgress`], which is sent on the open watch, and
/// [`Command::Probe`], a read made beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Command {
    /// Read the key in full, then report [`Event::Read`].
    Read,
    /// Read the key as of this revision, then report [`Event::HistoryRead`].
    ReadHistory {
        /// Revision to read at.
        revision: i64,
    },
    /// (Re)open the watch from this revision with progress notifications.
    Watch {
        /// First revision the watch must deliver.
        start_revision: i64,
    },
    /// Ask etcd for a progress notification on the open watch.
    RequestProgress,
    /// Beside the open watch, read the key's mod revision (keys only, no
    /// value), then report [`Event::Probed`]: a silent watch whose progress
    /// request went unanswered (an etcd gRPC proxy does not forward them)
    /// is alive if the path answers and the key is no further than what
    /// the watch delivered.
    Probe,
    /// Drop the connection's current work and do nothing until `until_ms`
    /// (the reducer's next timeout), when the reducer issues `then`.
    BackOff {
        /// Retry number of the backoff schedule (0 = the first step).
        attempt: u32,
        /// When the delay ends, unix ms in the caller's clock.
        until_ms: u64,
        /// What will be retried.
        then: Retry,
    },
}

impl From<Retry> for Command {
    fn from(retry: Retry) -> Self {
        match retry {
            Retry::Read => Command::Read,
            Retry::Watch { start_revision } => Command::Watch { start_revision },
        }
    }
}
