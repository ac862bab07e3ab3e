//! The instance report writer: the store's status, published under a lease
//! at `<key>/instances/<id>` for the fleet view (ADR 0011).
//!
//! A shell around `directive_core::instance::ReportSchedule`, which decides
//! when to write; this task grants and keeps alive the lease, performs the
//! writes, and revokes the lease on shutdown so a stopped instance
//! disappears at once (a killed one disappears when the lease expires). It
//! has its own etcd client and never touches the snapshot: a report that
//! cannot be written never affects `load()` or the applied set.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use directive_core::instance::{report_key, InstanceReport, ReportSchedule};
use directive_core::Status;
use etcd_client::{Client, LeaseKeepAliveStream, LeaseKeeper, PutOptions};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::connect::build_client;
use super::options::StoreOptions;
use crate::clock::now_ms;

/// Pause before granting a lease again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// What an instance reports as, and how often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InstanceOptions {
    pub(crate) id: String,
    pub(crate) labels: BTreeMap<String, String>,
    /// At most one write per interval.
    pub(crate) interval: Duration,
    /// The lease's time to live: how long a dead instance stays listed.
    pub(crate) ttl: Duration,
}

struct Lease {
    id: i64,
    keeper: LeaseKeeper,
    answers: LeaseKeepAliveStream,
    next_keep_alive: Instant,
}

/// Writes `status` changes as this instance's report until `cancel`.
pub(crate) async fn run(
    options: Arc<StoreOptions>,
    instance: InstanceOptions,
    mut status: watch::Receiver<Status>,
    cancel: CancellationToken,
) {
    let Ok(key) = report_key(&options.key, &instance.id) else {
        return; // checked by `StoreOptions::check`
    };
    let report = |status: &Status| {
        InstanceReport::from_status(
            &instance.id,
            &instance.labels,
            env!("CARGO_PKG_VERSION"),
            status,
            now_ms(),
        )
    };
    let interval_ms = u64::try_from(instance.interval.as_millis()).unwrap_or(u64::MAX);
    let mut schedule = ReportSchedule::new(interval_ms);
    schedule.observe(report(&status.borrow_and_update()));
    let mut client: Option<Client> = None;
    let mut lease: Option<Lease> = None;
    loop {
        if lease.is_none() {
            match grant(&mut client, &options, instance.ttl).await {
                Ok(granted) => lease = Some(granted),
                Err(cause) => {
                    tracing::debug!(%key, %cause, "instance report: no lease; retrying");
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(RETRY) => continue,
                    }
                }
            }
        }
        let (Some(held), Some(etcd)) = (lease.as_mut(), client.as_mut()) else {
            continue;
        };
        let now = now_ms();
        if let Some(due) = schedule.poll_write(now) {
            let put = PutOptions::new().with_lease(held.id);
            match etcd.put(key.as_str(), due.encode(), Some(put)).await {
                Ok(_) => schedule.written(due, now),
                Err(e) => {
                    tracing::debug!(%key, error = %e, "instance report write failed");
                    schedule.failed(due, now);
                    schedule.lease_lost();
                    lease = None;
                }
            }
            continue;
        }
        let wake = schedule
            .poll_timeout()
            .map(|due| Instant::now() + Duration::from_millis(due.saturating_sub(now)));
        tokio::select! {
            () = cancel.cancelled() => {
                // A last report saying so (a reader then tells a clean stop
                // from a lost instance), then gone at once rather than after
                // the TTL; best effort.
                let last = report(&status.borrow()).stopped();
                let put = PutOptions::new().with_lease(held.id);
                let _ = tokio::time::timeout(RETRY, etcd.put(key.as_str(), last.encode(), Some(put))).await;
                let _ = tokio::time::timeout(RETRY, etcd.lease_revoke(held.id)).await;
                return;
            }
            changed = status.changed() => {
                if changed.is_err() {
                    return; // the store is gone
                }
                schedule.observe(report(&status.borrow_and_update()));
            }
            () = sleep_until(wake) => {}
            () = tokio::time::sleep_until(held.next_keep_alive) => {
                held.next_keep_alive = Instant::now() + instance.ttl / 3;
                if held.keeper.keep_alive().await.is_err() {
                    schedule.lease_lost();
                    lease = None;
                }
            }
            answer = held.answers.message() => {
                // A TTL of 0 means etcd no longer knows the lease.
                if !matches!(answer, Ok(Some(a)) if a.ttl() > 0) {
                    tracing::debug!(%key, "instance report lease lost; granting a new one");
                    schedule.lease_lost();
                    lease = None;
                }
            }
        }
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A new lease with its keep-alive stream, connecting first if needed.
async fn grant(
    client: &mut Option<Client>,
    options: &StoreOptions,
    ttl: Duration,
) -> Result<Lease, String> {
    if client.is_none() {
        *client = Some(build_client(options).await.map_err(|e| e.to_string())?);
    }
    let etcd = client.as_mut().ok_or("no client")?;
    let ttl_secs = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
    let granted = etcd
        .lease_grant(ttl_secs, None)
        .await
        .map_err(|e| e.to_string());
    let granted = match granted {
        Ok(g) => g,
        Err(e) => {
            *client = None; // a fresh connection next time
            return Err(e);
        }
    };
    let (keeper, answers) = etcd
        .lease_keep_alive(granted.id())
        .await
        .map_err(|e| e.to_string())?;
    Ok(Lease {
        id: granted.id(),
        keeper,
        answers,
        next_keep_alive: Instant::now() + ttl / 3,
    })
}
