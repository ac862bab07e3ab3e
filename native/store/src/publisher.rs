//! The safe writer of the directive key.
//!
//! The upstream's publish was last-writer-wins with no validation at the
//! store (spec §6, weaknesses 14 and 21). Here every write
//!
//! - is validated with the same decoder the fleet uses, so an invalid set is
//!   never written (the key's revision does not move);
//! - is stamped with a fresh `published_at`, so every instance anchors TTLs
//!   to the same instant (ADR 0001), unless the options ask for the
//!   upstream's format while upstream instances still read the key
//!   ([`StoreOptions::with_format`], ADR 0015);
//! - is an etcd transaction comparing the key's mod revision (or absence), so
//!   two admins never silently overwrite each other: the loser gets
//!   [`PublishError::Conflict`] with the revision to re-base on.
//!
//! History and rollback read etcd's own MVCC history of the key, so they
//! need no extra storage and are bounded by compaction.

use directive_core::attribution::{attribution_key, Attribution};
use directive_core::{stamp_as, DecodeErrors, Limits, Stamped, WireFormat};
use std::sync::Arc;

use etcd_client::{Client, Compare, CompareOp, GetOptions, KvClient, Txn, TxnOp, TxnOpResponse};
use serde::Serialize;
use tokio::sync::{watch, OnceCell};
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::history::HistoryEntry;
use crate::store::{
    build_client, describe, is_compacted, is_future_revision, StoreError, StoreOptions,
};

/// A successful write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Published {
    /// The etcd revision of the write (the key's new mod revision).
    pub revision: i64,
}

/// Why a publisher operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The document does not decode; nothing was written.
    #[error(transparent)]
    Invalid(#[from] DecodeErrors),
    /// The key's mod revision was not the expected one; nothing was written.
    #[error(
        "conflict: the key is at revision {current_revision} (0 = absent), not the expected one"
    )]
    Conflict {
        /// The key's current mod revision, 0 when absent.
        current_revision: i64,
    },
    /// No version of the key exists at that revision (another key's write,
    /// a delete, or a revision in the future).
    #[error("revision {revision} not found: no version of the key was written there")]
    NotFound {
        /// The revision asked for.
        revision: i64,
    },
    /// That revision is older than etcd's compaction point.
    #[error("revision {revision} is compacted away")]
    Compacted {
        /// The revision asked for.
        revision: i64,
    },
    /// etcd failed the request.
    #[error("etcd error: {0}")]
    Etcd(String),
    /// The attribution record is out of bounds; nothing was written.
    #[error("{0}")]
    Attribution(String),
    /// In the upstream format, the key already holds exactly this document;
    /// nothing was written. Instances of this project keep the expiry of a
    /// byte-identical write (ADR 0001) while upstream instances would
    /// restart every TTL, so the fleet would disagree (ADR 0015).
    #[error(
        "the key already holds exactly this document (revision {revision}); in the upstream \
         format a byte-identical write would restart every TTL on osproxy instances but not \
         on this project's: nothing was written (to extend, change ttl_secs)"
    )]
    Unchanged {
        /// The key's mod revision.
        revision: i64,
    },
    /// The prepared document is stamped but the options say the upstream
    /// format (or the reverse); nothing was written.
    #[error("the document is not in the configured format ({0}); nothing was written")]
    WrongFormat(&'static str),
}

impl From<etcd_client::Error> for PublishError {
    fn from(e: etcd_client::Error) -> Self {
        PublishError::Etcd(describe(&e))
    }
}

/// Writes, clears, lists and rolls back the directive key.
#[derive(Clone)]
pub struct Publisher {
    /// Built on first use ([`Publisher::new`]) or at once ([`Publisher::connect`]).
    client: Arc<OnceCell<Client>>,
    options: Arc<StoreOptions>,
    pub(crate) key: String,
    limits: Limits,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// Connects with the same options a store uses (endpoints, key, TLS,
    /// auth, timeouts, limits), proving the connection with one read.
    pub async fn connect(options: StoreOptions) -> Result<Self, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::NoRuntime);
        }
        let connect = async {
            let client = build_client(&options).await?;
            client
                .kv_client()
                .get(
                    options.key.as_str(),
                    Some(GetOptions::new().with_count_only()),
                )
                .await
                .map_err(|e| StoreError::connect(&options, &e))?;
            Ok::<_, StoreError>(client)
        };
        let client = match tokio::time::timeout(options.connect_timeout, connect).await {
            Ok(result) => result?,
            Err(_) => return Err(StoreError::timeout(&options)),
        };
        let publisher = Publisher::new(options)?;
        let _ = publisher.client.set(client);
        Ok(publisher)
    }

    /// A publisher that connects on first use: no I/O here, so it cannot
    /// fail on an unreachable etcd; each operation then reports etcd's
    /// answer (a server that must come up while etcd is down uses this and
    /// lets requests fail until etcd answers). Fails only on options that
    /// can never work.
    pub fn new(options: StoreOptions) -> Result<Self, StoreError> {
        options.check()?;
        Ok(Publisher {
            client: Arc::new(OnceCell::new()),
            key: options.key.clone(),
            limits: options.reducer.limits,
            options: Arc::new(options),
        })
    }

    /// The options it was built with (endpoints, key, ...).
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    pub(crate) async fn client(&self) -> Result<&Client, PublishError> {
        self.client
            .get_or_try_init(|| build_client(&self.options))
            .await
            .map_err(|e| PublishError::Etcd(e.to_string()))
    }

    async fn kv(&self) -> Result<KvClient, PublishError> {
        Ok(self.client().await?.kv_client())
    }

    /// The key's current value and mod revision (`(None, 0)` when absent);
    /// the revision is what to pass as `expected_revision`.
    pub async fn current(&self) -> Result<(Option<Vec<u8>>, i64), PublishError> {
        let resp = self.kv().await?.get(self.key.as_str(), None).await?;
        Ok(match resp.kvs().first() {
            Some(kv) => (Some(kv.value().to_vec()), kv.mod_revision()),
            None => (None, 0),
        })
    }

    /// Validates `document`, stamps it with `published_at` = now (in the
    /// options' [`directive_core::WireFormat`]) and writes it if the key's mod revision is `expected_revision` (`Some(0)`: the key
    /// must not exist; `None`: whatever it is right now, read first).
    pub async fn publish(
        &self,
        document: &[u8],
        expected_revision: Option<i64>,
    ) -> Result<Published, PublishError> {
        self.publish_by(document, expected_revision, None).await
    }

    /// As [`Self::publish`], recording `by` (who, why, from where) at
    /// `<key>/attribution` in the same transaction (ADR 0014).
    pub async fn publish_by(
        &self,
        document: &[u8],
        expected_revision: Option<i64>,
        by: Option<&Attribution>,
    ) -> Result<Published, PublishError> {
        let stamped = stamp_as(document, now_ms(), &self.limits, self.options.format)?;
        self.publish_stamped_by(&stamped, expected_revision, by)
            .await
    }

    /// Writes a document [`directive_core::stamp_as`] prepared in the
    /// options' format (the exact bytes, already checked as every instance
    /// will decode them), under the same compare-and-swap as
    /// [`Self::publish`].
    pub async fn publish_stamped(
        &self,
        stamped: &Stamped,
        expected_revision: Option<i64>,
    ) -> Result<Published, PublishError> {
        self.publish_stamped_by(stamped, expected_revision, None)
            .await
    }

    /// As [`Self::publish_stamped`], recording `by` (who, why, from where)
    /// at `<key>/attribution` in the same transaction (ADR 0014).
    pub async fn publish_stamped_by(
        &self,
        stamped: &Stamped,
        expected_revision: Option<i64>,
        by: Option<&Attribution>,
    ) -> Result<Published, PublishError> {
        let format = self.options.format;
        if stamped.set.is_stamped() != (format == WireFormat::Stamped) {
            return Err(PublishError::WrongFormat(format.as_str()));
        }
        let expected = match (expected_revision, format) {
            (Some(r), WireFormat::Stamped) => r,
            (None, WireFormat::Stamped) => self.current().await?.1,
            (expected, WireFormat::Upstream) => {
                let (value, revision) = self.current().await?;
                if value.as_deref() == Some(stamped.bytes.as_slice()) {
                    return Err(PublishError::Unchanged { revision });
                }
                expected.unwrap_or(revision)
            }
        };
        let published = self
            .swap(
                expected,
                TxnOp::put(self.key.as_str(), stamped.bytes.clone(), None),
                by,
            )
            .await?;
        tracing::info!(
            key = %self.key,
            revision = published.revision,
            directives = stamped.set.len(),
            "published directive set"
        );
        Ok(published)
    }

    /// Deletes the key if its mod revision is `expected_revision` (as for
    /// [`Self::publish`]); every instance then applies the empty set.
    pub async fn clear(&self, expected_revision: Option<i64>) -> Result<Published, PublishError> {
        self.clear_by(expected_revision, None).await
    }

    /// As [`Self::clear`], recording `by` in the same transaction.
    pub async fn clear_by(
        &self,
        expected_revision: Option<i64>,
        by: Option<&Attribution>,
    ) -> Result<Published, PublishError> {
        let expected = match expected_revision {
            Some(r) => r,
            None => self.current().await?.1,
        };
        let published = self
            .swap(expected, TxnOp::delete(self.key.as_str(), None), by)
            .await?;
        tracing::info!(key = %self.key, revision = published.revision, "cleared directive set");
        Ok(published)
    }

    /// The transaction: `op` (and the attribution record, when given) if
    /// the key is at `expected` (0 = absent), else read the key to report
    /// the conflict. One transaction: the record and the change share a
    /// revision, and neither is written without the other.
    async fn swap(
        &self,
        expected: i64,
        op: TxnOp,
        by: Option<&Attribution>,
    ) -> Result<Published, PublishError> {
        let compare = if expected == 0 {
            Compare::version(self.key.as_str(), CompareOp::Equal, 0)
        } else {
            Compare::mod_revision(self.key.as_str(), CompareOp::Equal, expected)
        };
        let mut ops = vec![op];
        if let Some(by) = by {
            by.check()
                .map_err(|e| PublishError::Attribution(e.to_string()))?;
            ops.push(TxnOp::put(attribution_key(&self.key), by.encode(), None));
        }
        let txn = Txn::new()
            .when([compare])
            .and_then(ops)
            .or_else([TxnOp::get(self.key.as_str(), None)]);
        let resp = self.kv().await?.txn(txn).await?;
        if resp.succeeded() {
            return Ok(Published {
                revision: resp.header().map_or(0, |h| h.revision()),
            });
        }
        let current_revision = resp
            .op_responses()
            .into_iter()
            .find_map(|r| match r {
                TxnOpResponse::Get(get) => {
                    Some(get.kvs().first().map_or(0, |kv| kv.mod_revision()))
                }
                _ => None,
            })
            .unwrap_or(0);
        tracing::info!(key = %self.key, expected, current_revision, "publish lost a race");
        Err(PublishError::Conflict { current_revision })
    }

    /// The instances reporting on the key (`<key>/instances/`), each report
    /// decoded as untrusted input, with the key's revision at the same
    /// moment.
    pub async fn fleet(&self) -> Result<crate::Fleet, PublishError> {
        let (fleet, _) = crate::fleet::list(self.client().await?, &self.key).await?;
        Ok(fleet)
    }

    /// Follows the fleet: the receiver holds the current listing (empty
    /// until the first one) and changes on every report written, expired
    /// or removed and on every write of the key, until `cancel` fires or
    /// every receiver is dropped. Failures (etcd unreachable, a compacted
    /// watch) are retried from a fresh listing, with backoff.
    pub fn watch_fleet(&self, cancel: CancellationToken) -> watch::Receiver<crate::Fleet> {
        let (tx, rx) = watch::channel(crate::Fleet::default());
        tokio::spawn(crate::fleet::follow(self.clone(), tx, cancel));
        rx
    }

    /// Up to `limit` entries of the key's history, newest first, starting
    /// with the current version: every write and every delete since etcd's
    /// last compaction (see [`crate::history`]).
    pub async fn history(&self, limit: usize) -> Result<Vec<HistoryEntry>, PublishError> {
        let client = self.client().await?;
        crate::history::list(client, &self.key, limit, &self.limits).await
    }

    /// Re-publishes the version written at `revision` with a fresh stamp
    /// (in the options' format),
    /// through the same validation and compare-and-swap as [`Self::publish`]:
    /// against `expected_revision` when given, else against the key's
    /// current revision.
    pub async fn rollback(
        &self,
        revision: i64,
        expected_revision: Option<i64>,
    ) -> Result<Published, PublishError> {
        self.rollback_by(revision, expected_revision, None).await
    }

    /// As [`Self::rollback`], recording `by` in the same transaction.
    pub async fn rollback_by(
        &self,
        revision: i64,
        expected_revision: Option<i64>,
        by: Option<&Attribution>,
    ) -> Result<Published, PublishError> {
        let value = self.version(revision).await?;
        tracing::info!(key = %self.key, revision, "rolling back");
        self.publish_by(&value, expected_revision, by).await
    }

    /// The value written at `revision`, exactly as etcd holds it:
    /// [`PublishError::NotFound`] when that revision is not a write of the
    /// key (another key's, a delete, or a revision in the future),
    /// [`PublishError::Compacted`] when it is older than the compaction point.
    pub async fn version(&self, revision: i64) -> Result<Vec<u8>, PublishError> {
        let opts = GetOptions::new().with_revision(revision);
        let resp = match self.kv().await?.get(self.key.as_str(), Some(opts)).await {
            Ok(resp) => resp,
            Err(e) if is_compacted(&e) => return Err(PublishError::Compacted { revision }),
            Err(e) if is_future_revision(&e) => return Err(PublishError::NotFound { revision }),
            Err(e) => return Err(e.into()),
        };
        match resp.kvs().first() {
            Some(kv) if kv.mod_revision() == revision => Ok(kv.value().to_vec()),
            _ => Err(PublishError::NotFound { revision }),
        }
    }
}
