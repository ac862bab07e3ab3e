//! A mixed fleet on a real etcd: the published upstream's own
//! `osproxy_etcd::EtcdDirectiveStore` 1.0.5 and this project's store behind
//! the adapter watch the same key.
//!
//! - Publishes made with this project's publisher in the upstream format
//!   (ADR 0015) are applied by both, with the same decisions.
//! - A publish in the default (stamped) format is applied by ours and
//!   refused by the upstream, which keeps its last set; an upstream
//!   instance that starts while it is the value applies nothing at all
//!   until the next upstream-format publish. (The upstream reads, then
//!   watches from whatever revision etcd is at by then, so a publish in
//!   between is missed until a reconnect: the test waits for its watches,
//!   counted by etcd, before publishing.)
//! - A delete and a compaction during an outage: ours applies the delete,
//!   the upstream keeps the deleted set after it has reconnected.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use directive_core::{Backoff, Decision, WireFormat};
use directive_etcd::{clock::now_ms, Publisher, StoreOptions};
use directive_osproxy::UpstreamStore;
use directive_tests::{metric_sum, EtcdCluster, FaultProxy};
use directive_vectors::generate::Rng;
use directive_vectors::RequestSpec;
use osproxy_core::{Clock, SystemClock};
use osproxy_etcd::EtcdDirectiveStore as UpstreamEtcdStore;
use osproxy_observe::DirectiveStore as _;

use super::{our_decision, requests_for, upstream_decision};

const KEY: &str = "osproxy/directives";
const CONVERGE: Duration = Duration::from_secs(15);

/// Store options tuned for tests: short timeouts, fast stall detection and
/// backoff.
fn options(endpoint: String) -> StoreOptions {
    StoreOptions::new([endpoint])
        .with_key(KEY)
        .with_connect_timeout(Duration::from_secs(3))
        .with_request_timeout(Duration::from_secs(3))
        .with_keep_alive(Duration::from_secs(1), Duration::from_secs(1))
        .with_progress(Duration::from_secs(1), Duration::from_secs(1))
        .with_backoff(Backoff {
            initial_ms: 50,
            max_ms: 500,
            full_jitter: true,
        })
}

/// The sets published in turn: targets, levels, sampling and flags, each
/// deciding differently from the one before for the requests asked.
/// The last one is not empty, so "keeps its last set" is told apart from
/// "applies nothing".
const SETS: &[&str] = &[
    r#"{"directives":[{"id":"acme","level":"ShapeTiming","ttl_secs":600,"tenant":"acme"}]}"#,
    r#"{"directives":[]}"#,
    r#"{"directives":[{"id":"search","level":"Shape","ttl_secs":600,"endpoint":"Search","sample_per_mille":250},
        {"id":"bulk","level":"ShapeRewriteDiff","ttl_secs":600,"endpoint":"IngestBulk","capture":true}]}"#,
    r#"{"directives":[{"id":"logs","level":"Off","ttl_secs":600,"index":"logs","ring_buffer":true},
        {"id":"alice","level":"ShapeTiming","ttl_secs":600,"principal":"alice","tenant":"beta"}]}"#,
];

/// Refused by the upstream when stamped; decides unlike every set above.
const STAMPED: &str = r#"{"directives":[{"id":"everyone","level":"ShapeRewriteDiff","ttl_secs":600,"capture":true}]}"#;

fn requests() -> Vec<RequestSpec> {
    let mut rng = Rng(0x0016_f1ee);
    let mut all = Vec::new();
    for doc in SETS.iter().chain([&STAMPED]) {
        let set = directive_core::decode(doc.as_bytes(), now_ms(), &Default::default())
            .expect("test sets are valid");
        all.extend(requests_for(&set, &mut rng));
    }
    all
}

/// The upstream store's decisions for `requests`, now.
fn upstream_decisions(
    store: &dyn osproxy_observe::DirectiveStore,
    requests: &[RequestSpec],
) -> Vec<Decision> {
    let set = store.load();
    let now = SystemClock.now();
    requests
        .iter()
        .map(|r| upstream_decision(&set, r, now))
        .collect()
}

/// What this project decides for `requests` from `document`, now.
fn decisions_of(document: &str, requests: &[RequestSpec]) -> Vec<Decision> {
    let now = now_ms();
    let set = directive_core::decode(document.as_bytes(), now, &Default::default())
        .expect("test sets are valid");
    requests
        .iter()
        .map(|r| our_decision(&set, r, now))
        .collect()
}

/// Polls `check` every 10 ms until it returns `Some`, for at most `within`.
async fn poll<T>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("{what}: not true after {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// etcd's count of registered watchers, from its own `/metrics`.
async fn watchers(client_url: &str) -> anyhow::Result<u64> {
    let total = metric_sum(client_url, |l| {
        l.starts_with("etcd_debugging_mvcc_watcher_total ")
    })
    .await?;
    Ok(total as u64)
}

async fn await_watchers(client_url: &str, want: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let have = watchers(client_url).await?;
        if have == want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("etcd has {have} watcher(s), not {want}, after {CONVERGE:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_fleet_applies_every_publish_made_in_the_upstream_format() -> anyhow::Result<()> {
    let cluster = EtcdCluster::start(1).await?;
    let endpoint = cluster.member_endpoint(0);
    let upstream_format =
        Publisher::connect(options(endpoint.clone()).with_format(WireFormat::Upstream)).await?;
    let stamped = Publisher::connect(options(endpoint.clone())).await?;
    upstream_format.publish(SETS[0].as_bytes(), Some(0)).await?;

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let theirs =
        UpstreamEtcdStore::connect(std::slice::from_ref(&endpoint), KEY, Arc::clone(&clock))
            .await?;
    let ours = UpstreamStore::connect_with(options(endpoint.clone()), Arc::clone(&clock)).await?;
    // The upstream reads, then watches from whatever revision etcd is at
    // by then: publishing before its watch exists could be missed for good.
    await_watchers(&endpoint, 2).await?;
    let requests = requests();

    // Every publish in the upstream format: both apply it, same decisions.
    for (i, document) in SETS.iter().enumerate() {
        let revision = if i == 0 {
            upstream_format.current().await?.1
        } else {
            upstream_format
                .publish(document.as_bytes(), None)
                .await?
                .revision
        };
        let want = decisions_of(document, &requests);
        poll("ours applies the publish", CONVERGE, || {
            (ours.snapshot().revision == revision).then_some(())
        })
        .await?;
        assert_eq!(upstream_decisions(&ours, &requests), want, "ours, set {i}");
        poll("the upstream applies the publish", CONVERGE, || {
            (upstream_decisions(&theirs, &requests) == want).then_some(())
        })
        .await
        .with_context(|| format!("set {i}"))?;
    }
    let last = decisions_of(SETS[SETS.len() - 1], &requests);

    // A stamped publish: ours applies it, the upstream refuses it.
    let refused = stamped.publish(STAMPED.as_bytes(), None).await?.revision;
    poll("ours applies the stamped publish", CONVERGE, || {
        (ours.snapshot().revision == refused).then_some(())
    })
    .await?;
    let stamped_decisions = decisions_of(STAMPED, &requests);
    assert_ne!(stamped_decisions, last, "the test sets must differ");
    assert_eq!(upstream_decisions(&ours, &requests), stamped_decisions);
    // An upstream instance starting now reads a value it refuses: it
    // applies the empty set, silently.
    let late = UpstreamEtcdStore::connect(std::slice::from_ref(&endpoint), KEY, Arc::clone(&clock))
        .await?;
    assert_eq!(late.load().len(), 0, "a starting upstream applies nothing");
    await_watchers(&endpoint, 3).await?;

    // The next upstream-format publish reaches it; until then it keeps the
    // set before the stamped one, and it never applies the stamped one.
    let next = SETS[0];
    upstream_format.publish(next.as_bytes(), None).await?;
    let want = decisions_of(next, &requests);
    poll("the upstream applies the next publish", CONVERGE, || {
        let seen = upstream_decisions(&theirs, &requests);
        assert_ne!(
            seen, stamped_decisions,
            "the upstream applied a stamped document"
        );
        if seen != want {
            assert_eq!(seen, last, "the upstream lost its last set");
        }
        (seen == want).then_some(())
    })
    .await?;
    poll("the late upstream applies it too", CONVERGE, || {
        (upstream_decisions(&late, &requests) == want).then_some(())
    })
    .await?;
    ours.store().shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_and_a_compaction_during_an_outage_reach_ours_but_not_the_upstream(
) -> anyhow::Result<()> {
    let cluster = EtcdCluster::start(1).await?;
    let endpoint = cluster.member_endpoint(0);
    let publisher =
        Publisher::connect(options(endpoint.clone()).with_format(WireFormat::Upstream)).await?;
    publisher.publish(SETS[0].as_bytes(), Some(0)).await?;
    let to_ours = FaultProxy::for_endpoint(&endpoint).await?;
    let to_theirs = FaultProxy::for_endpoint(&endpoint).await?;

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let theirs =
        UpstreamEtcdStore::connect(&[to_theirs.endpoint()], KEY, Arc::clone(&clock)).await?;
    let ours = UpstreamStore::connect_with(options(to_ours.endpoint()), Arc::clone(&clock)).await?;
    assert_eq!((ours.load().len(), theirs.load().len()), (1, 1));
    await_watchers(&endpoint, 2).await?;

    // The outage: no bytes move, every open connection closes.
    for proxy in [&to_ours, &to_theirs] {
        proxy.blackhole();
        proxy.cut();
    }
    await_watchers(&endpoint, 0).await?;
    let deleted = publisher.clear(None).await?.revision;
    let mut client = cluster.client().await?;
    for i in 0..3 {
        client.put("other/key", format!("{i}"), None).await?;
    }
    let head = client
        .get("other/key", None)
        .await?
        .header()
        .context("header")?
        .revision();
    cluster.compact(head).await?;

    for proxy in [&to_ours, &to_theirs] {
        proxy.pass();
    }
    // Both have reconnected and watch again: the upstream read the key
    // (absent) before it watched.
    await_watchers(&endpoint, 2).await?;
    poll("ours applies the delete", CONVERGE, || {
        // After a compaction, the revision is the re-listing's, not the
        // delete's (compacted away).
        (ours.snapshot().revision >= deleted && ours.load().is_empty()).then_some(())
    })
    .await?;
    assert_eq!(
        theirs.load().len(),
        1,
        "the upstream applied a delete it cannot see"
    );
    ours.store().shutdown().await;
    Ok(())
}
