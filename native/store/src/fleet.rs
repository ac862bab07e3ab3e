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

/// Reads the reports of `key` and the key's revision, at one etcd
/// revision, which it returns with the fleet.
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
    let mut fleet = Fleet::new(current.kvs().first().map_or(0, |kv| kv.mod_revision()));
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
    let mut failures = 0;
    while !cancel.is_cancelled() && !tx.is_closed() {
        match follow_once(&publisher, &tx, &cancel, &mut failures).await {
            Ok(()) => return,
            Err(cause) => {
                tracing::debug!(%key, %cause, "fleet view: following again from a new listing");
                let pause = Duration::from_millis(backoff.ceiling_ms(failures));
                failures = failures.saturating_add(1);
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

/// One listing and the watch after it; `Ok` only when asked to stop. A
/// listing that succeeds resets `failures`.
async fn follow_once(
    publisher: &Publisher,
    tx: &watch::Sender<Fleet>,
    cancel: &CancellationToken,
    failures: &mut u32,
) -> Result<(), PublishError> {
    let key = publisher.key.as_str();
    let client = publisher.client().await?;
    let (mut fleet, at) = list(client, key).await?;
    *failures = 0;
    fleet.carry_over(&tx.borrow(), now_ms());
    tx.send_replace(fleet);
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
        if resp.canceled() || resp.compact_revision() > 0 {
            return Err(PublishError::Etcd(format!(
                "the fleet watch was cancelled: {}",
                resp.cancel_reason()
            )));
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
