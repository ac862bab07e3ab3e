//! The fleet as its instances report it: every report under
//! `<key>/instances/`, decoded as untrusted input (ADR 0011), read once
//! ([`list`]) or followed ([`follow`]).
//!
//! Following is one etcd watch over the range from the key to the end of
//! its reports' prefix, so the key's writes and the reports arrive in one
//! revision order; anything else in that range (another key sharing the
//! name's start) is skipped. Every failure (a compacted start, a broken
//! stream, an unreachable etcd) ends in a fresh listing after a backoff:
//! the listing is the truth, the watch only keeps it current.

use std::time::Duration;

use directive_core::attribution::{attribution_key, Attribution, Operation};
use directive_core::instance::reports_prefix;
use directive_core::Backoff;
use etcd_client::{Client, EventType, GetOptions, WatchOptions};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::publisher::{PublishError, Publisher};

pub use directive_core::instance::{
    Fleet, FleetStatus, Listed, ListedInstance, Lost, Progress, Rollout, Straggler,
};

/// Most reports one listing reads (a bound on a prefix anyone with write
/// access to etcd can fill).
pub const MAX_INSTANCES: i64 = 10_000;

/// Reads the reports of `key` and the revision of the key's latest write
/// (for an absent key, the `clear` that deleted it), at one etcd revision,
/// which it returns with the fleet.
pub(crate) async fn list(client: &Client, key: &str) -> Result<(Fleet, i64), PublishError> {
    let mut kv = client.kv_client();
    let prefix = reports_prefix(key);
    let resp = kv
        .get(
            prefix.as_str(),
            Some(GetOptions::new().with_prefix().with_limit(MAX_INSTANCES)),
        )
        .await?;
    let at = resp.header().map_or(0, |h| h.revision());
    let current = kv
        .get(key, Some(GetOptions::new().with_revision(at)))
        .await?;
    let key_revision = match current.kvs().first() {
        Some(kv) => kv.mod_revision(),
        None => absent_key_revision(client, key, at).await,
    };
    let mut fleet = Fleet::new(key_revision);
    for kv in resp.kvs() {
        fleet.put_report(
            &String::from_utf8_lossy(&kv.key()[prefix.len()..]),
            kv.value(),
        );
    }
    Ok((fleet, at))
}

/// The end of the range `[key, end)` that holds the key and every report.
fn range_end(key: &str) -> Vec<u8> {
    let mut end = reports_prefix(key).into_bytes();
    // The prefix ends in `/`, so incrementing its last byte cannot overflow.
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

/// Keeps `tx` holding the fleet of `key` until `cancel` fires or every
/// receiver is gone.
pub(crate) async fn follow(
    publisher: Publisher,
    tx: watch::Sender<Fleet>,
    cancel: CancellationToken,
) {
    let key = publisher.key.as_str();
    // A viewer, not a fleet: no jitter needed, a short cap keeps the view
    // fresh soon after etcd returns.
    let backoff = Backoff {
        initial_ms: 200,
        max_ms: 5_000,
        full_jitter: false,
    };
    let mut failures: u32 = 0;
    // The last revision the view reflects: a broken watch resumes after it
    // (no event is lost, so a clean stop in the gap stays a clean stop);
    // `None` lists afresh (at start, and when that revision is compacted).
    let mut resume: Option<i64> = None;
    while !cancel.is_cancelled() && !tx.is_closed() {
        match follow_once(&publisher, &tx, &cancel, &mut failures, &mut resume).await {
            Ok(()) => return,
            Err(cause) => {
                failures = failures.saturating_add(1);
                if failures > 3 {
                    tracing::warn!(%key, %cause, failures, "fleet view: cannot follow the reports; retrying");
                } else {
                    tracing::debug!(%key, %cause, "fleet view: following again");
                }
                let pause = Duration::from_millis(backoff.ceiling_ms(failures - 1));
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

/// The revision of the key's latest write when the key is absent at `at`:
/// the delete recorded by its attribution record (written in the same
/// transaction as a `clear`), else 0 (unknown: the key was never written,
/// or deleted around the publisher).
async fn absent_key_revision(client: &Client, key: &str, at: i64) -> i64 {
    let opts = GetOptions::new().with_revision(at);
    match client
        .kv_client()
        .get(attribution_key(key), Some(opts))
        .await
    {
        Ok(resp) => resp
            .kvs()
            .first()
            .filter(|kv| Attribution::decode(kv.value()).is_ok_and(|a| a.op == Operation::Clear))
            .map_or(0, |kv| kv.mod_revision()),
        Err(_) => 0,
    }
}

/// A listing when `resume` is `None`, then the watch from the revision
/// after the one the view reflects; `Ok` only when asked to stop. A watch
/// that delivers its first response resets `failures`.
async fn follow_once(
    publisher: &Publisher,
    tx: &watch::Sender<Fleet>,
    cancel: &CancellationToken,
    failures: &mut u32,
    resume: &mut Option<i64>,
) -> Result<(), PublishError> {
    let key = publisher.key.as_str();
    let client = publisher.client().await?;
    let at = match *resume {
        Some(at) => at,
        None => {
            let (mut fleet, at) = list(client, key).await?;
            fleet.carry_over(&tx.borrow(), now_ms());
            tx.send_replace(fleet);
            *resume = Some(at);
            at
        }
    };
    let prefix = reports_prefix(key);
    let options = WatchOptions::new()
        .with_range(range_end(key))
        .with_start_revision(at + 1);
    let mut stream = client.watch_client().watch(key, Some(options)).await?;
    loop {
        let message = tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            () = tx.closed() => return Ok(()),
            message = stream.message() => message?,
        };
        let Some(resp) = message else {
            return Err(PublishError::Etcd("the fleet watch ended".to_owned()));
        };
        if resp.compact_revision() > 0 {
            // The gap is gone from etcd's history: list afresh.
            *resume = None;
            return Err(PublishError::Etcd(format!(
                "the fleet watch's start is compacted (at {})",
                resp.compact_revision()
            )));
        }
        if resp.canceled() {
            return Err(PublishError::Etcd(format!(
                "the fleet watch was cancelled: {}",
                resp.cancel_reason()
            )));
        }
        *failures = 0;
        // Resume after the last event delivered (a response's header may be
        // ahead of events a catching-up watch has not sent yet).
        if let Some(last) = resp
            .events()
            .iter()
            .filter_map(|e| e.kv())
            .map(|kv| kv.mod_revision())
            .max()
        {
            *resume = Some(resume.map_or(last, |r| r.max(last)));
        }
        tx.send_if_modified(|fleet| {
            let mut changed = false;
            for event in resp.events() {
                let Some(kv) = event.kv() else { continue };
                let put = event.event_type() == EventType::Put;
                if kv.key() == key.as_bytes() {
                    changed |= fleet.key_revision != kv.mod_revision();
                    fleet.key_revision = kv.mod_revision();
                } else if let Some(id) = kv.key().strip_prefix(prefix.as_bytes()) {
                    let id = String::from_utf8_lossy(id);
                    changed |= if put {
                        fleet.put_report(&id, kv.value())
                    } else {
                        fleet.remove(&id, now_ms())
                    };
                }
            }
            changed
        });
    }
}
