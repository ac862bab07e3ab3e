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
    /// The answer to [`Action::ReadHistory`]: the key as it was at the asked
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
    /// A delete of the key, from the watch, at this revision.
    Delete {
        /// Revision of the delete.
        revision: i64,
    },
    /// A progress notification (or any response header): etcd has sent
    /// everything up to this revision.
    Progress {
        /// Header revision.
        revision: i64,
    },
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
}

/// What the shell should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Read the key in full, then report [`Event::Read`].
    Read,
    /// (Re)open the watch from this revision with progress notifications.
    Watch {
        /// First revision the watch must deliver.
        start_revision: i64,
    },
    /// Read the key as of this revision, then report [`Event::HistoryRead`].
    ReadHistory {
        /// Revision to read at.
        revision: i64,
    },
}

/// An [`Action`], possibly to be taken only after a backoff delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Command {
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
    /// When set, wait out retry number `n` of the backoff schedule first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_attempt: Option<u32>,
}

impl Command {
    pub(crate) fn now(action: Action) -> Self {
        Command {
            action,
            backoff_attempt: None,
        }
    }
}
