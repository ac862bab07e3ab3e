//! The key's history across deletes: every write and every delete since
//! etcd's last compaction, newest first, so that nothing written to the key
//! can be hidden from the listing.
//!
//! Walking back with revisioned gets stops at a delete (etcd answers "no
//! key" before it), so a writer with etcd access could hide a version by
//! deleting the key and publishing again. The listing therefore reads the
//! current generation with gets when it holds enough versions (a key's
//! `version` counts the writes since its creation, none of them a delete),
//! and otherwise replays the key's events with a watch from the compaction
//! point, keeping only the newest `limit`.
//!
//! The replay's end: when the key exists, its current mod revision is the
//! last event, so the replay ends exactly there. When it is deleted, no
//! event is known to be the last (etcd 3.4 answers a progress request before
//! it has delivered the replay), so the replay ends after [`QUIET`] without
//! a message once a delete is the newest event seen, which is what the key's
//! absence requires; a newest event that is a write means more is coming.

use directive_core::attribution::{attribution_key, Attribution};
use std::collections::VecDeque;
use std::time::Duration;

use directive_core::{decode, Limits};
use etcd_client::{Client, EventType, GetOptions, WatchOptions};
use serde::Serialize;
use tokio::time::Instant;

use crate::clock::now_ms;
use crate::publisher::PublishError;
use crate::store::is_compacted;

/// A replay of a deleted key ends after this long without a message.
const QUIET: Duration = Duration::from_secs(1);

/// A replay that has not ended after this long fails.
const REPLAY_DEADLINE: Duration = Duration::from_secs(10);

/// What one entry of the history did to the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// A write of a value (a publish, a rollback, or a raw put).
    Put,
    /// A delete of the key (`directivectl clear`, or a raw delete).
    Delete,
}

/// One earlier (or the current) version of the key, or a delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// The revision of the write or delete (pass a write's to
    /// [`Publisher::rollback`](crate::Publisher::rollback)).
    pub revision: i64,
    /// A write or a delete.
    pub kind: Change,
    /// Its `published_at` stamp, when it is a write that has one and is valid.
    pub published_at: Option<u64>,
    /// How many directives it holds; `None` for a delete or an invalid value.
    pub directives: Option<usize>,
    /// Who made it, why and from where, when it was written with an
    /// attribution record (ADR 0014); `None` for a write made around the
    /// publisher (e.g. `etcdctl put`) or whose record does not decode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Attribution>,
}

impl HistoryEntry {
    /// The entry for the version written at `revision` with `value`: its
    /// stamp and size when it decodes (at `now_ms`, under `limits`), `None`
    /// for both when it does not. Every write in a listing is built here.
    pub fn of(revision: i64, value: &[u8], now_ms: u64, limits: &Limits) -> Self {
        let decoded = decode(value, now_ms, limits).ok();
        HistoryEntry {
            revision,
            kind: Change::Put,
            published_at: decoded
                .as_ref()
                .filter(|set| set.is_stamped())
                .map(|set| set.anchor_ms()),
            directives: decoded.map(|set| set.len()),
            attribution: None,
        }
    }

    /// The entry for a delete at `revision`.
    pub fn deleted(revision: i64) -> Self {
        HistoryEntry {
            revision,
            kind: Change::Delete,
            published_at: None,
            directives: None,
            attribution: None,
        }
    }
}

/// One event of the key, as the replay keeps it.
enum Event {
    Put { revision: i64, value: Vec<u8> },
    Delete { revision: i64 },
}

/// Up to `limit` entries of `key`'s history, newest first, each with its
/// attribution record when the write carried one.
pub(crate) async fn list(
    client: &Client,
    key: &str,
    limit: usize,
    limits: &Limits,
) -> Result<Vec<HistoryEntry>, PublishError> {
    let mut entries = versions(client, key, limit, limits).await?;
    let record_key = attribution_key(key);
    let mut kv = client.kv_client();
    for entry in &mut entries {
        // The record written with this change is the one whose mod revision
        // is the change's own; an older one belongs to an earlier change.
        let opts = GetOptions::new().with_revision(entry.revision);
        // A record that cannot be read (compacted, or a role without read
        // on the attribution key) leaves the entry unattributed: history
        // never fails for want of attribution.
        let resp = match kv.get(record_key.as_str(), Some(opts)).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::debug!(key, revision = entry.revision, error = %e, "attribution not readable");
                continue;
            }
        };
        entry.attribution = resp
            .kvs()
            .first()
            .filter(|r| r.mod_revision() == entry.revision)
            .and_then(|r| match Attribution::decode(r.value()) {
                Ok(record) => Some(record),
                Err(e) => {
                    tracing::debug!(key, revision = entry.revision, error = %e, "ignoring an attribution record");
                    None
                }
            });
    }
    Ok(entries)
}

/// Up to `limit` entries of `key`'s history, newest first, unattributed.
async fn versions(
    client: &Client,
    key: &str,
    limit: usize,
    limits: &Limits,
) -> Result<Vec<HistoryEntry>, PublishError> {
    let head = client.kv_client().get(key, None).await?;
    let head_revision = head.header().map_or(0, |h| h.revision());
    let current = head.kvs().first();
    if let Some(kv) = current {
        if usize::try_from(kv.version()).is_ok_and(|v| v >= limit) {
            return walk_generation(client, key, kv.mod_revision(), limit, limits).await;
        }
    }
    let last = current.map(|kv| kv.mod_revision());
    let events = replay(client, key, limit, head_revision, last).await?;
    let now = now_ms();
    Ok(events
        .iter()
        .rev()
        .map(|event| match event {
            Event::Put { revision, value } => HistoryEntry::of(*revision, value, now, limits),
            Event::Delete { revision } => HistoryEntry::deleted(*revision),
        })
        .collect())
}

/// `limit` versions by revisioned gets, from `revision` back, all within the
/// key's current generation (the caller checked it holds that many).
async fn walk_generation(
    client: &Client,
    key: &str,
    mut revision: i64,
    limit: usize,
    limits: &Limits,
) -> Result<Vec<HistoryEntry>, PublishError> {
    let mut kv_client = client.kv_client();
    let now = now_ms();
    let mut entries = Vec::with_capacity(limit);
    while entries.len() < limit && revision > 0 {
        let opts = GetOptions::new().with_revision(revision);
        let resp = match kv_client.get(key, Some(opts)).await {
            Ok(resp) => resp,
            Err(e) if is_compacted(&e) => break,
            Err(e) => return Err(e.into()),
        };
        let Some(kv) = resp.kvs().first() else { break };
        entries.push(HistoryEntry::of(kv.mod_revision(), kv.value(), now, limits));
        revision = kv.mod_revision() - 1;
    }
    Ok(entries)
}

/// The newest `limit` events of `key` up to `head_revision`, oldest first,
/// replayed from the compaction point; `last` is the key's mod revision
/// when it exists (the replay's exact end).
async fn replay(
    client: &Client,
    key: &str,
    limit: usize,
    head_revision: i64,
    last: Option<i64>,
) -> Result<VecDeque<Event>, PublishError> {
    let deadline = Instant::now() + REPLAY_DEADLINE;
    let mut start = 1;
    'watch: loop {
        let opts = WatchOptions::new().with_start_revision(start);
        let mut stream = client.watch_client().watch(key, Some(opts)).await?;
        let mut kept: VecDeque<Event> = VecDeque::new();
        loop {
            // A deleted key's replay may end at a quiet moment, once what
            // was seen agrees with the key's absence.
            let may_end = last.is_none() && !matches!(kept.back(), Some(Event::Put { .. }));
            let wait = if may_end {
                (Instant::now() + QUIET).min(deadline)
            } else {
                deadline
            };
            let message = match tokio::time::timeout_at(wait, stream.message()).await {
                Ok(message) => message?,
                Err(_) if may_end => return Ok(kept),
                Err(_) => {
                    return Err(PublishError::Etcd(format!(
                        "the history replay of {key} did not finish within {}s",
                        REPLAY_DEADLINE.as_secs()
                    )))
                }
            };
            let Some(resp) = message else {
                return Err(PublishError::Etcd(
                    "the watch ended during the history replay".into(),
                ));
            };
            if resp.canceled() {
                if resp.compact_revision() > 0 {
                    start = resp.compact_revision();
                    continue 'watch;
                }
                return Err(PublishError::Etcd(format!(
                    "the history replay was canceled: {}",
                    resp.cancel_reason()
                )));
            }
            for event in resp.events() {
                let Some(kv) = event.kv() else { continue };
                let revision = kv.mod_revision();
                if revision > head_revision {
                    return Ok(kept);
                }
                kept.push_back(match event.event_type() {
                    EventType::Put => Event::Put {
                        revision,
                        value: kv.value().to_vec(),
                    },
                    EventType::Delete => Event::Delete { revision },
                });
                if kept.len() > limit {
                    kept.pop_front();
                }
                if Some(revision) == last {
                    return Ok(kept);
                }
            }
        }
    }
}
