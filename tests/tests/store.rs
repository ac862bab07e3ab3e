//! The etcd directive store and publisher against a real etcd (issue 3).
//!
//! Every test is bounded; waits poll with deadlines instead of sleeping.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context as _};
use directive_core::instance::{self, InstanceReport, ReportState};
use directive_core::State;
use directive_etcd::{
    DirectiveStore, EtcdDirectiveStore, PublishError, Publisher, StoreError, StoreEvent,
    StoreOptions, TlsConfig,
};
use directive_tests::etcd_client::{Client, GetOptions};
use directive_tests::{EtcdCluster, EtcdOptions, FaultProxy, TlsMaterial};

mod common;

use common::*;

/// Retries a put until it succeeds (members may be down or electing).
async fn put_retry(client: &mut Client, value: &str) -> anyhow::Result<i64> {
    let deadline = Instant::now() + CONVERGE;
    loop {
        match put(client, value).await {
            Ok(r) => return Ok(r),
            Err(e) if Instant::now() >= deadline => return Err(e.context("put kept failing")),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Retries a delete until it succeeds (members may be down or electing).
async fn delete_retry(client: &mut Client) -> anyhow::Result<i64> {
    let deadline = Instant::now() + CONVERGE;
    loop {
        match client.delete(KEY, None).await {
            Ok(resp) => return Ok(resp.header().context("no header")?.revision()),
            Err(e) if Instant::now() >= deadline => {
                return Err(anyhow!(e).context("delete kept failing"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test]
async fn applies_puts_and_deletes_live_like_the_upstream() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let mut client = cluster.client().await?;
        put(&mut client, doc(&["a"], 600)).await?;
        let store = EtcdDirectiveStore::connect(opts(cluster.endpoints())).await?;
        ensure!(
            store.load().set.len() == 1,
            "initial publish read at connect"
        );
        ensure!(store.status().state == State::Live);

        let r2 = put(&mut client, doc(&["a", "b"], 600)).await?;
        eventually("second publish applied", CONVERGE, || {
            store.load().revision == r2
        })
        .await?;
        ensure!(ids(&store.load()) == ["a", "b"]);

        let r3 = put(&mut client, "not json").await?;
        eventually("malformed value rejected", CONVERGE, || {
            store
                .status()
                .last_rejection
                .is_some_and(|r| r.revision == r3)
        })
        .await?;
        ensure!(store.load().revision == r2, "last good kept");
        ensure!(store.load().set.len() == 2);

        let r4 = client
            .delete(KEY, None)
            .await?
            .header()
            .context("hdr")?
            .revision();
        eventually("delete empties", CONVERGE, || store.load().revision == r4).await?;
        ensure!(store.load().set.is_empty());
        store.shutdown().await;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn publisher_refuses_invalid_and_stale_writes_and_rolls_back() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let publisher = Publisher::connect(opts(cluster.endpoints())).await?;
        let store = EtcdDirectiveStore::connect(opts(cluster.endpoints())).await?;

        let first = publisher
            .publish(doc(&["one"], 600).as_bytes(), Some(0))
            .await?;
        // Must-not-exist fails once it exists.
        match publisher
            .publish(doc(&["x"], 600).as_bytes(), Some(0))
            .await
        {
            Err(PublishError::Conflict { current_revision }) => {
                ensure!(current_revision == first.revision)
            }
            other => bail!("expected a conflict, got {other:?}"),
        }
        // The stored document is stamped now.
        let (value, rev) = publisher.current().await?;
        ensure!(rev == first.revision);
        let value: serde_json::Value = serde_json::from_slice(&value.context("value")?)?;
        let stamp = value["published_at"].as_u64().context("published_at")?;
        let now = directive_etcd::clock::now_ms();
        ensure!(
            now >= stamp && now - stamp < 10_000,
            "stamp {stamp} vs now {now}"
        );

        // Two concurrent publishes against the same revision: exactly one wins.
        let p2 = publisher.clone();
        let (doc_a, doc_b) = (doc(&["two_a"], 600), doc(&["two_b"], 600));
        let (a, b) = tokio::join!(
            publisher.publish(doc_a.as_bytes(), Some(first.revision)),
            p2.publish(doc_b.as_bytes(), Some(first.revision)),
        );
        let (winner, conflict) = match (a, b) {
            (Ok(w), Err(c)) | (Err(c), Ok(w)) => (w, c),
            other => bail!("expected exactly one winner: {other:?}"),
        };
        match conflict {
            PublishError::Conflict { current_revision } => {
                ensure!(
                    current_revision == winner.revision,
                    "conflict reports the winner's revision"
                )
            }
            other => bail!("loser should get a conflict: {other:?}"),
        }

        // Invalid: never written.
        let before = publisher.current().await?.1;
        let invalid =
            br#"{"directives":[{"id":"bad","level":"Shape","ttl_secs":60,"tennant":"acme"}]}"#;
        match publisher.publish(invalid, None).await {
            Err(PublishError::Invalid(errors)) => ensure!(!errors.errors.is_empty()),
            other => bail!("expected invalid: {other:?}"),
        }
        ensure!(
            publisher.current().await?.1 == before,
            "revision moved on an invalid publish"
        );

        // History and rollback.
        let history = publisher.history(10).await?;
        ensure!(history.len() == 2, "history: {history:?}");
        ensure!(history[0].revision == winner.revision && history[1].revision == first.revision);
        ensure!(history
            .iter()
            .all(|h| h.directives == Some(1) && h.published_at.is_some()));
        let rolled = publisher.rollback(first.revision, None).await?;
        ensure!(rolled.revision > winner.revision);
        eventually("store applies the rollback", CONVERGE, || {
            store.load().revision == rolled.revision
        })
        .await?;
        ensure!(ids(&store.load()) == ["one"]);

        // Clear with a stale expected revision conflicts; with the right one empties.
        ensure!(matches!(
            publisher.clear(Some(first.revision)).await,
            Err(PublishError::Conflict { .. })
        ));
        let cleared = publisher.clear(Some(rolled.revision)).await?;
        eventually("store applies the clear", CONVERGE, || {
            store.load().revision == cleared.revision
        })
        .await?;
        ensure!(store.load().set.is_empty());
        store.shutdown().await;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn no_write_is_lost_between_the_read_and_the_watch() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let mut client = cluster.client().await?;
        put(&mut client, doc(&["w0"], 600)).await?;
        // Writers run while stores connect, so puts land between each
        // store's read and its watch start.
        let mut writer = cluster.client().await?;
        let writes = tokio::spawn(async move {
            let mut last = 0;
            for i in 1..=300 {
                last = put(&mut writer, doc(&[&format!("w{i}")], 600)).await?;
            }
            Ok::<i64, anyhow::Error>(last)
        });
        let mut stores = Vec::new();
        while !writes.is_finished() {
            stores.push(EtcdDirectiveStore::connect(opts(cluster.endpoints())).await?);
        }
        let last = writes.await??;
        ensure!(
            stores.len() >= 2,
            "only {} stores connected during the writes",
            stores.len()
        );
        for store in &stores {
            eventually("store reaches the final revision", CONVERGE, || {
                store.load().revision == last
            })
            .await?;
            ensure!(ids(&store.load()) == ["w300"]);
        }
        for store in &stores {
            store.shutdown().await;
        }
        Ok(())
    })
    .await
}

#[tokio::test]
async fn delete_and_compaction_during_an_outage_are_applied_after_it() -> anyhow::Result<()> {
    bounded(async {
        let mut cluster = EtcdCluster::start(3).await?;
        let others = [cluster.member_endpoint(1), cluster.member_endpoint(2)];
        let mut client = cluster.client_for(&others).await?;
        let r1 = put(&mut client, doc(&["a"], 600)).await?;
        let store = EtcdDirectiveStore::connect(opts([cluster.member_endpoint(0)])).await?;
        ensure!(store.load().revision == r1);
        let mut events = store.events();

        // Delete during the outage of the store's only member.
        cluster.stop_member(0)?;
        eventually("stale", CONVERGE, || {
            matches!(store.status().state, State::Stale { .. })
        })
        .await?;
        let rd = delete_retry(&mut client).await?;
        cluster.restart_member(0).await?;
        eventually("delete applied after reconnect", CONVERGE, || {
            store.load().revision == rd
        })
        .await?;
        ensure!(store.load().set.is_empty());
        eventually("live again", CONVERGE, || {
            store.status().state == State::Live
        })
        .await?;

        // Compaction past the applied revision during an outage.
        cluster.stop_member(0)?;
        eventually("stale again", CONVERGE, || {
            matches!(store.status().state, State::Stale { .. })
        })
        .await?;
        let mut last = 0;
        for i in 0..5 {
            last = put_retry(&mut client, &doc(&[&format!("c{i}")], 600)).await?;
        }
        // The harness's compact() also dials the stopped member: compact
        // through the survivors instead, physically, retrying.
        let deadline = Instant::now() + CONVERGE;
        let physical = directive_tests::etcd_client::CompactionOptions::new().with_physical();
        while let Err(e) = client.compact(last, Some(physical.clone())).await {
            ensure!(Instant::now() < deadline, "compact kept failing: {e}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        cluster.restart_member(0).await?;
        eventually("converged after compaction", CONVERGE, || {
            store.load().revision == last
        })
        .await?;
        ensure!(ids(&store.load()) == ["c4"]);
        let status = store.status();
        ensure!(status.reconnects >= 2, "status: {status:?}");

        // Applied revisions only ever go forward; the compacted-away
        // intermediate versions are never applied.
        let mut applied = Vec::new();
        while let Ok(ev) = events.try_recv() {
            if let StoreEvent::Applied { revision, .. } = ev {
                applied.push(revision);
            }
        }
        ensure!(applied == [rd, last], "applied revisions: {applied:?}");
        store.shutdown().await;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn malformed_value_at_startup_recovers_the_newest_valid_version() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let mut client = cluster.client().await?;
        put(&mut client, doc(&["old"], 600)).await?;
        let good = put(&mut client, doc(&["good"], 600)).await?;
        put(&mut client, "{\"directives\":[").await?;
        let bad = put(&mut client, doc(&["x"], 999_999_999)).await?;
        let store = EtcdDirectiveStore::connect(opts(cluster.endpoints())).await?;
        let snap = store.load();
        ensure!(
            snap.is_recovered() && snap.revision == good,
            "snapshot rev {}",
            snap.revision
        );
        ensure!(ids(&snap) == ["good"]);
        let status = store.status();
        ensure!(status.recovered_from_history);
        ensure!(status
            .last_rejection
            .as_ref()
            .is_some_and(|r| r.revision == bad));
        ensure!(status.state == State::Live);
        // A later valid put replaces the recovered set.
        let next = put(&mut client, doc(&["new"], 600)).await?;
        eventually("new value", CONVERGE, || store.load().revision == next).await?;
        ensure!(!store.load().is_recovered());
        store.shutdown().await;
        Ok(())
    })
    .await
}

fn expiry(store: &EtcdDirectiveStore) -> u64 {
    store
        .load()
        .set
        .directives()
        .first()
        .map_or(0, |d| d.expires_at_ms)
}

#[tokio::test]
async fn reconnects_and_restarts_never_extend_a_ttl() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let proxy = FaultProxy::for_endpoint(&cluster.member_endpoint(0)).await?;
        let publisher = Publisher::connect(opts(cluster.endpoints())).await?;
        let published = publisher.publish(doc(&["t"], 600).as_bytes(), None).await?;
        let a = EtcdDirectiveStore::connect(opts([proxy.endpoint()])).await?;
        let b = EtcdDirectiveStore::connect(opts(cluster.endpoints())).await?;
        let exp = expiry(&a);
        ensure!(exp != 0 && exp == expiry(&b), "two stores, same expiry");
        let (value, _) = publisher.current().await?;
        let value: serde_json::Value = serde_json::from_slice(&value.context("value")?)?;
        let stamp = value["published_at"].as_u64().context("stamp")?;
        ensure!(exp == stamp + 600_000);

        // Reconnect (connections cut): same revision re-read, same expiry.
        proxy.cut();
        eventually("reconnected", CONVERGE, || {
            let s = a.status();
            s.reconnects >= 1 && s.state == State::Live
        })
        .await?;
        ensure!(a.load().revision == published.revision && expiry(&a) == exp);

        // Restart: a new store anchors to the stamp, not to now.
        a.shutdown().await;
        drop(a);
        let a2 = EtcdDirectiveStore::connect(opts(cluster.endpoints())).await?;
        ensure!(expiry(&a2) == exp);

        // An unstamped document is not re-anchored by a reconnect either.
        let mut client = cluster.client().await?;
        let r = put(&mut client, doc(&["u"], 600)).await?;
        let c = EtcdDirectiveStore::connect(opts([proxy.endpoint()])).await?;
        ensure!(c.load().revision == r);
        let unstamped = expiry(&c);
        proxy.cut();
        eventually("reconnected", CONVERGE, || {
            let s = c.status();
            s.reconnects >= 1 && s.state == State::Live
        })
        .await?;
        ensure!(expiry(&c) == unstamped);
        for s in [a2, b, c] {
            s.shutdown().await;
        }
        Ok(())
    })
    .await
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_background_task() -> anyhow::Result<()> {
    bounded(async {
        // Outside a runtime: an error, not a panic.
        let fut = EtcdDirectiveStore::connect(opts(["http://127.0.0.1:1"]));
        let outcome = std::thread::spawn(move || {
            let mut fut = Box::pin(fut);
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            matches!(
                fut.as_mut().poll(&mut cx),
                std::task::Poll::Ready(Err(StoreError::NoRuntime))
            )
        })
        .join()
        .map_err(|_| anyhow!("connect panicked outside a runtime"))?;
        ensure!(outcome, "connect outside a runtime must return NoRuntime");

        let cluster = EtcdCluster::start(1).await?;
        let proxy = FaultProxy::for_endpoint(&cluster.member_endpoint(0)).await?;
        let store = EtcdDirectiveStore::connect(opts([proxy.endpoint()])).await?;
        ensure!(store.is_running());
        eventually("connection open", CONVERGE, || {
            proxy.active_connections() >= 1
        })
        .await?;
        let clone = store.clone();
        let before = store.load().revision;
        store.shutdown().await;
        ensure!(!store.is_running() && !clone.is_running());
        eventually("connection closed after shutdown", CONVERGE, || {
            proxy.active_connections() == 0
        })
        .await?;
        ensure!(
            store.load().revision == before,
            "the last snapshot stays loadable"
        );

        // Drop of the last handle (no shutdown call) also stops everything.
        let store = EtcdDirectiveStore::connect(opts([proxy.endpoint()])).await?;
        let clone = store.clone();
        eventually("connection open", CONVERGE, || {
            proxy.active_connections() >= 1
        })
        .await?;
        drop(store);
        ensure!(clone.is_running(), "a clone keeps the task");
        drop(clone);
        eventually("connection closed after drop", CONVERGE, || {
            proxy.active_connections() == 0
        })
        .await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn blackholed_watch_is_declared_stalled_then_converges() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let proxy = FaultProxy::for_endpoint(&cluster.member_endpoint(0)).await?;
        let mut client = cluster.client().await?;
        put(&mut client, doc(&["before"], 600)).await?;
        let store = EtcdDirectiveStore::connect(opts([proxy.endpoint()])).await?;
        ensure!(ids(&store.load()) == ["before"]);

        let started = Instant::now();
        proxy.blackhole();
        // Keep-alive 1 s + 1 s, progress 1 s + 1 s: detection within 5 s.
        eventually("stale within the deadline", Duration::from_secs(5), || {
            matches!(store.status().state, State::Stale { .. })
        })
        .await?;
        let detected = started.elapsed();
        eprintln!("blackhole detected after {detected:?}");
        let during = put(&mut client, doc(&["during"], 600)).await?;
        ensure!(
            ids(&store.load()) == ["before"],
            "last good kept while stale"
        );
        proxy.pass();
        eventually("converged after heal", Duration::from_secs(30), || {
            store.load().revision == during && store.status().state == State::Live
        })
        .await?;
        ensure!(ids(&store.load()) == ["during"]);
        store.shutdown().await;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn killing_any_member_of_three_keeps_the_store_current() -> anyhow::Result<()> {
    bounded(async {
        let mut cluster = EtcdCluster::start(3).await?;
        let store = EtcdDirectiveStore::connect(opts(cluster.endpoints())).await?;
        // Kill each member in turn: one of them carries the store's watch.
        for victim in 0..3 {
            cluster.stop_member(victim)?;
            let survivors: Vec<String> = (0..3)
                .filter(|&i| i != victim)
                .map(|i| cluster.member_endpoint(i))
                .collect();
            let mut client = cluster.client_for(&survivors).await?;
            let r = put_retry(&mut client, &doc(&[&format!("k{victim}")], 600)).await?;
            eventually("update arrives through the survivors", CONVERGE, || {
                store.load().revision >= r
            })
            .await?;
            ensure!(ids(&store.load()) == [format!("k{victim}")]);
            cluster.restart_member(victim).await?;
        }
        let status = store.status();
        ensure!(status.reconnects >= 1, "the interruption shows: {status:?}");
        eventually("live", CONVERGE, || store.status().state == State::Live).await?;
        store.shutdown().await;
        Ok(())
    })
    .await
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[tokio::test]
async fn fifty_stores_converge_on_a_publish_storm() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let mut client = cluster.client().await?;
        put(&mut client, doc(&["s"], 600)).await?;
        let mut stores = Vec::new();
        for _ in 0..50 {
            stores.push(EtcdDirectiveStore::connect(opts(cluster.endpoints())).await?);
        }
        let mut writers = Vec::new();
        for w in 0..4 {
            let mut c = cluster.client().await?;
            writers.push(tokio::spawn(async move {
                let mut last = 0;
                for i in 0..250 {
                    last = put(&mut c, doc(&[&format!("w{w}_{i}")], 600)).await?;
                }
                Ok::<i64, anyhow::Error>(last)
            }));
        }
        let mut last = 0;
        for w in writers {
            last = last.max(w.await??);
        }
        for store in &stores {
            eventually("store on the final revision", CONVERGE, || {
                store.load().revision == last
            })
            .await?;
        }

        // Propagation delay from a put to every store.
        let mut delays = Vec::new();
        for i in 0..20 {
            let receivers: Vec<_> = stores.iter().map(EtcdDirectiveStore::subscribe).collect();
            let t0 = Instant::now();
            let r = put(&mut client, doc(&[&format!("p{i}")], 600)).await?;
            let waits = receivers.into_iter().map(|mut rx| async move {
                rx.wait_for(|s| s.revision >= r).await.map(|_| t0.elapsed())
            });
            for d in futures_join_all(waits).await {
                delays.push(d?);
            }
        }
        delays.sort();
        eprintln!(
            "propagation to 50 stores over 20 puts: p50 {:?}, p99 {:?}, max {:?}",
            percentile(&delays, 0.50),
            percentile(&delays, 0.99),
            delays.last().copied().unwrap_or_default()
        );
        for store in &stores {
            store.shutdown().await;
        }
        Ok(())
    })
    .await
}

/// Awaits all futures concurrently (spawned, so they progress in parallel).
async fn futures_join_all<T: Send + 'static>(
    futs: impl IntoIterator<Item = impl Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

#[tokio::test]
async fn tls_and_auth_work_and_bad_credentials_fail_fast() -> anyhow::Result<()> {
    bounded(async {
        let material = TlsMaterial::generate()?;
        let cluster = EtcdCluster::start_with(
            1,
            EtcdOptions {
                tls: Some(material.clone()),
                auth: Some(("directive".to_owned(), "s3cret".to_owned())),
                ..EtcdOptions::default()
            },
        )
        .await?;
        let tls = TlsConfig {
            ca_pem: Some(material.ca_cert_pem.clone()),
            identity: Some((
                material.client_cert_pem.clone(),
                material.client_key_pem.clone(),
            )),
            domain: None,
        };
        let mut client = cluster.client().await?;
        let r = put(&mut client, doc(&["secure"], 600)).await?;
        let good = opts(cluster.endpoints()).with_tls(tls.clone());
        let store =
            EtcdDirectiveStore::connect(good.clone().with_auth("directive", "s3cret")).await?;
        ensure!(store.load().revision == r);
        let r2 = put(&mut client, doc(&["secure2"], 600)).await?;
        eventually("update over TLS", CONVERGE, || store.load().revision == r2).await?;

        // Wrong password: fails fast with etcd's cause.
        let started = Instant::now();
        let err = EtcdDirectiveStore::connect(good.clone().with_auth("directive", "wrong"))
            .await
            .err()
            .context("wrong password must fail")?;
        let msg = err.to_string();
        eprintln!("wrong password: {msg} after {:?}", started.elapsed());
        ensure!(started.elapsed() < Duration::from_secs(4));
        ensure!(msg.contains("authentication failed"), "message: {msg}");

        // Unknown CA: a TLS error.
        let other = TlsMaterial::generate()?;
        let bad_tls = TlsConfig {
            ca_pem: Some(other.ca_cert_pem.clone()),
            ..tls.clone()
        };
        let err = EtcdDirectiveStore::connect(
            opts(cluster.endpoints())
                .with_tls(bad_tls)
                .with_auth("directive", "s3cret"),
        )
        .await
        .err()
        .context("unknown CA must fail")?;
        eprintln!("unknown CA: {err}");

        // Unreachable and blackholed endpoints: bounded by the connect timeout.
        let port = directive_tests::free_port()?;
        let started = Instant::now();
        let err = EtcdDirectiveStore::connect(opts([format!("http://127.0.0.1:{port}")]))
            .await
            .err()
            .context("unreachable must fail")?;
        eprintln!("unreachable: {err} after {:?}", started.elapsed());
        ensure!(started.elapsed() < Duration::from_secs(4));
        let plain = EtcdCluster::start(1).await?;
        let proxy = FaultProxy::for_endpoint(&plain.member_endpoint(0)).await?;
        proxy.blackhole();
        let started = Instant::now();
        let err = EtcdDirectiveStore::connect(opts([proxy.endpoint()]))
            .await
            .err()
            .context("blackholed must fail")?;
        eprintln!("blackholed: {err} after {:?}", started.elapsed());
        ensure!(started.elapsed() < Duration::from_secs(4));
        ensure!(matches!(
            err,
            StoreError::Timeout { .. } | StoreError::Connect { .. }
        ));
        store.shutdown().await;
        Ok(())
    })
    .await
}

/// Every instance report under the key's prefix: id → decoded report, or
/// the decoder's refusal.
async fn reports(
    client: &mut Client,
) -> anyhow::Result<std::collections::BTreeMap<String, Result<InstanceReport, String>>> {
    let prefix = instance::reports_prefix(KEY);
    let resp = client
        .get(prefix.as_str(), Some(GetOptions::new().with_prefix()))
        .await?;
    Ok(resp
        .kvs()
        .iter()
        .map(|kv| {
            let id = String::from_utf8_lossy(&kv.key()[prefix.len()..]).into_owned();
            let report = InstanceReport::decode(kv.value()).map_err(|e| e.to_string());
            (id, report)
        })
        .collect())
}

/// Polls the reports until `done` holds for them (bounded by `CONVERGE`).
async fn reports_until(
    client: &mut Client,
    what: &str,
    done: impl Fn(&std::collections::BTreeMap<String, Result<InstanceReport, String>>) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let seen = reports(client).await?;
        if done(&seen) {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "{what}: reports stayed {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn at(
    seen: &std::collections::BTreeMap<String, Result<InstanceReport, String>>,
    id: &str,
) -> Option<i64> {
    match seen.get(id) {
        Some(Ok(r)) if r.state == ReportState::Live => Some(r.applied_revision),
        _ => None,
    }
}

#[tokio::test]
async fn instances_report_what_they_applied_under_a_lease() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let mut client = cluster.client().await?;
        let r1 = put(&mut client, doc(&["a"], 600)).await?;
        let timing = |o: StoreOptions| {
            o.with_report_timing(Duration::from_millis(50), Duration::from_secs(2))
        };
        let zone = [("zone".to_owned(), "z1".to_owned())];
        let a = EtcdDirectiveStore::connect(timing(
            opts(cluster.endpoints()).with_instance("a", zone.clone()),
        ))
        .await?;
        let b =
            EtcdDirectiveStore::connect(timing(opts(cluster.endpoints()).with_instance("b", [])))
                .await?;
        reports_until(&mut client, "both report r1", |s| {
            at(s, "a") == Some(r1) && at(s, "b") == Some(r1)
        })
        .await?;
        let seen = reports(&mut client).await?;
        let report_a = seen["a"].as_ref().map_err(|e| anyhow!("{e}"))?;
        ensure!(report_a.labels.get("zone").map(String::as_str) == Some("z1"));
        ensure!(
            a.load().revision == r1,
            "the key's own watch does not see the reports"
        );

        let r2 = put(&mut client, doc(&["a", "b"], 600)).await?;
        reports_until(&mut client, "both report r2", |s| {
            at(s, "a") == Some(r2) && at(s, "b") == Some(r2)
        })
        .await?;

        // A report written by hand is refused by every reader, and listed.
        client
            .put(instance::report_key(KEY, "junk")?, "not a report", None)
            .await?;
        let seen = reports(&mut client).await?;
        ensure!(
            matches!(seen.get("junk"), Some(Err(e)) if e.contains("schema")),
            "{seen:?}"
        );

        // A lost lease (revoked behind the store's back) is granted again and
        // the report re-written.
        let key_b = instance::report_key(KEY, "b")?;
        let lease = client.get(key_b.as_str(), None).await?.kvs()[0].lease();
        client.lease_revoke(lease).await?;
        reports_until(&mut client, "b re-reports on a new lease", |s| {
            at(s, "b") == Some(r2)
        })
        .await?;

        // A clean shutdown revokes the lease: the instance leaves at once.
        let stopping = Instant::now();
        a.shutdown().await;
        reports_until(&mut client, "a leaves", |s| !s.contains_key("a")).await?;
        ensure!(
            stopping.elapsed() < Duration::from_millis(1500),
            "revoked, not expired: {:?}",
            stopping.elapsed()
        );
        ensure!(at(&reports(&mut client).await?, "b") == Some(r2));
        b.shutdown().await;
        Ok(())
    })
    .await
}

/// Set, to the etcd endpoints, in the child process of
/// `a_killed_instance_disappears_within_its_lease_ttl`.
const KILLED_CHILD: &str = "DIRECTIVE_TESTS_KILLED_CHILD";
/// What that child prints on stdout once its store is connected.
const KILLED_READY: &str = "killed-instance-ready";
/// The lease TTL of the killed instance (and of its witness).
const KILLED_TTL: Duration = Duration::from_secs(3);

/// The child: one reporting instance, parked until the parent kills it.
async fn killed_child(endpoints: &str) -> anyhow::Result<()> {
    let store = EtcdDirectiveStore::connect(
        opts(endpoints.split(','))
            .with_instance(
                "killed",
                [("pid".to_owned(), std::process::id().to_string())],
            )
            .with_report_timing(Duration::from_millis(50), KILLED_TTL),
    )
    .await?;
    println!("{KILLED_READY}");
    std::io::Write::flush(&mut std::io::stdout())?;
    tokio::time::sleep(Duration::from_secs(120)).await;
    store.shutdown().await;
    bail!("not killed by the parent within 120 s")
}

/// `id`'s state and applied revision in `fleet`, when it has a valid report.
fn reported(fleet: &directive_etcd::Fleet, id: &str) -> Option<(ReportState, i64)> {
    fleet
        .reports()
        .find(|r| r.id == id)
        .map(|r| (r.state, r.applied_revision))
}

/// Checks a listing seen while following: no instance's applied revision
/// went back (`applied`: the highest seen per instance).
fn never_regresses(
    now: &directive_etcd::Fleet,
    applied: &mut std::collections::BTreeMap<String, i64>,
) -> anyhow::Result<()> {
    for r in now.reports() {
        let highest = applied.entry(r.id.clone()).or_insert(r.applied_revision);
        ensure!(
            r.applied_revision >= *highest,
            "{}'s report regressed from r{highest} to r{}",
            r.id,
            r.applied_revision
        );
        *highest = r.applied_revision;
    }
    Ok(())
}

/// Follows `fleet` until `done` holds (bounded by `within`), checking every
/// listing seen with [`never_regresses`]. Returns that listing.
async fn follow_until(
    fleet: &mut tokio::sync::watch::Receiver<directive_etcd::Fleet>,
    applied: &mut std::collections::BTreeMap<String, i64>,
    what: &str,
    within: Duration,
    done: impl Fn(&directive_etcd::Fleet) -> bool,
) -> anyhow::Result<directive_etcd::Fleet> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = fleet.borrow_and_update().clone();
        never_regresses(&now, applied)?;
        if done(&now) {
            return Ok(now);
        }
        match tokio::time::timeout_at(deadline, fleet.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => bail!("{what}: the fleet view stopped; last {now:?}"),
            Err(_) => bail!("{what}: not within {within:?}; last {now:?}"),
        }
    }
}

/// Follows `fleet` for `period`, failing on the first listing seen where
/// `holds` does not (or that [`never_regresses`] refuses).
async fn follow_holding(
    fleet: &mut tokio::sync::watch::Receiver<directive_etcd::Fleet>,
    applied: &mut std::collections::BTreeMap<String, i64>,
    what: &str,
    period: Duration,
    holds: impl Fn(&directive_etcd::Fleet) -> bool,
) -> anyhow::Result<()> {
    let end = tokio::time::Instant::now() + period;
    loop {
        let now = fleet.borrow_and_update().clone();
        never_regresses(&now, applied)?;
        ensure!(holds(&now), "{what}: broken by {now:?}");
        match tokio::time::timeout_at(end, fleet.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => bail!("{what}: the fleet view stopped; last {now:?}"),
            Err(_) => return Ok(()),
        }
    }
}

/// A killed process cannot revoke its lease: its report stays listed until
/// the lease expires (TTL - TTL/3 to TTL after the kill, as the store renews
/// every TTL/3, plus etcd's expiry check, every 500 ms), then a follower
/// lists it as lost with the revision it last applied. The instance runs in
/// a child process (this test binary again, selected by `KILLED_CHILD`) so
/// it can be SIGKILLed.
#[tokio::test]
async fn a_killed_instance_disappears_within_its_lease_ttl() -> anyhow::Result<()> {
    if let Ok(endpoints) = std::env::var(KILLED_CHILD) {
        return killed_child(&endpoints).await;
    }
    bounded(async {
        use tokio::io::AsyncBufReadExt as _;
        let cluster = EtcdCluster::start(1).await?;
        let mut client = cluster.client().await?;
        let r1 = put(&mut client, doc(&["a"], 600)).await?;
        let publisher = Publisher::connect(opts(cluster.endpoints())).await?;
        let cancel = tokio_util::sync::CancellationToken::new();
        let _stop = cancel.clone().drop_guard();
        let mut fleet = publisher.watch_fleet(cancel);
        let mut applied = std::collections::BTreeMap::new();
        // An instance in this process: the kill takes only the killed one.
        let survivor = EtcdDirectiveStore::connect(
            opts(cluster.endpoints())
                .with_instance("survivor", [])
                .with_report_timing(Duration::from_millis(50), KILLED_TTL),
        )
        .await?;

        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .args([
                "--exact",
                "a_killed_instance_disappears_within_its_lease_ttl",
                "--nocapture",
            ])
            .env(KILLED_CHILD, cluster.endpoints().join(","))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("run the test binary as the child")?;
        let pid = child.id().context("the child's pid")?.to_string();
        let mut lines =
            tokio::io::BufReader::new(child.stdout.take().context("piped stdout")?).lines();
        tokio::time::timeout(CONVERGE, async {
            while let Some(line) = lines.next_line().await? {
                if line.contains(KILLED_READY) {
                    return Ok(());
                }
            }
            bail!("the child exited before it was ready")
        })
        .await
        .map_err(|_| anyhow!("the child was not ready within {CONVERGE:?}"))??;

        let both_at = |r: i64| {
            move |f: &directive_etcd::Fleet| {
                reported(f, "killed") == Some((ReportState::Live, r))
                    && reported(f, "survivor") == Some((ReportState::Live, r))
            }
        };
        let seen = follow_until(
            &mut fleet,
            &mut applied,
            "both live at r1",
            CONVERGE,
            both_at(r1),
        )
        .await?;
        let killed = seen
            .reports()
            .find(|r| r.id == "killed")
            .context("listed")?;
        ensure!(
            killed.labels.get("pid") == Some(&pid),
            "the report is the child's: {killed:?}"
        );
        let r2 = put(&mut client, doc(&["a", "b"], 600)).await?;
        follow_until(
            &mut fleet,
            &mut applied,
            "both live at r2",
            CONVERGE,
            both_at(r2),
        )
        .await?;
        // Alive, it outlives its TTL: the store renews the lease (every
        // TTL/3 from the grant). Half a renewal period more puts the kill
        // mid-period, rather than just after a renewal, where the ready
        // handshake alone would put it.
        follow_holding(
            &mut fleet,
            &mut applied,
            "a live instance stays listed past its TTL",
            KILLED_TTL + Duration::from_millis(1500),
            both_at(r2),
        )
        .await?;

        let kill_ms = directive_etcd::clock::now_ms();
        child.start_kill().context("SIGKILL the child")?;
        let killed_at = Instant::now();
        let gone = follow_until(
            &mut fleet,
            &mut applied,
            "the killed instance's report expires",
            CONVERGE,
            |f| reported(f, "killed").is_none(),
        )
        .await?;
        let took = killed_at.elapsed();
        eprintln!(
            "killed instance gone after {:.2} s (TTL {} s)",
            took.as_secs_f64(),
            KILLED_TTL.as_secs()
        );
        let status = tokio::time::timeout(CONVERGE, child.wait()).await??;
        ensure!(
            std::os::unix::process::ExitStatusExt::signal(&status) == Some(9),
            "the child died of SIGKILL, not on its own: {status:?}"
        );
        ensure!(
            took > Duration::from_millis(500),
            "gone after {took:?}: a revoke, not the lease expiring"
        );
        ensure!(
            took <= KILLED_TTL + Duration::from_millis(1500),
            "still listed {took:?} after the kill (TTL {KILLED_TTL:?})"
        );
        ensure!(gone.lost.len() == 1, "{:?}", gone.lost);
        let lost = &gone.lost[0];
        ensure!(
            lost.id == "killed" && lost.applied_revision == r2,
            "lost with the revision it applied: {lost:?}"
        );
        ensure!(
            (kill_ms..=directive_etcd::clock::now_ms()).contains(&lost.since_ms),
            "lost since the kill: {lost:?}, killed at {kill_ms}"
        );
        ensure!(
            reported(&gone, "survivor") == Some((ReportState::Live, r2)),
            "{gone:?}"
        );

        // A clean stop leaves at once and is not a loss.
        survivor.shutdown().await;
        let left = follow_until(
            &mut fleet,
            &mut applied,
            "the survivor leaves",
            CONVERGE,
            |f| reported(f, "survivor").is_none(),
        )
        .await?;
        ensure!(
            left.lost.iter().map(|l| l.id.as_str()).collect::<Vec<_>>() == ["killed"],
            "{:?}",
            left.lost
        );
        Ok(())
    })
    .await
}

/// Two principals publish concurrently (each retrying its own conflicts):
/// every version's attribution record names the author whose document it
/// is, with that author's message, at the version's own revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_are_each_attributed_to_their_author() -> anyhow::Result<()> {
    use directive_core::attribution::{Attribution, Operation, Source};
    let cluster = EtcdCluster::start(1).await?;
    let key = "store/attributed";
    let writer = |author: &'static str| {
        let options = StoreOptions::new(cluster.endpoints()).with_key(key);
        async move {
            let publisher = Publisher::connect(options).await?;
            for i in 0..5 {
                let id = format!("{author}-{i}");
                let doc =
                    format!(r#"{{"directives":[{{"id":"{id}","level":"Shape","ttl_secs":60}}]}}"#);
                let by = Attribution {
                    author: author.to_owned(),
                    source: Source::Cli,
                    op: Operation::Publish,
                    message: Some(id.clone()),
                    restored_revision: None,
                    at_ms: 1,
                };
                // Bounded: a conflict means the other author just wrote.
                let mut attempts = 0;
                loop {
                    match publisher.publish_by(doc.as_bytes(), None, Some(&by)).await {
                        Ok(_) => break,
                        Err(PublishError::Conflict { .. }) if attempts < 50 => attempts += 1,
                        Err(e) => bail!("{author}: {e}"),
                    }
                }
            }
            anyhow::Ok(())
        }
    };
    let (a, b) = tokio::join!(tokio::spawn(writer("alice")), tokio::spawn(writer("bob")));
    a??;
    b??;
    let publisher =
        Publisher::connect(StoreOptions::new(cluster.endpoints()).with_key(key)).await?;
    let history = publisher.history(20).await?;
    ensure!(history.len() == 10, "ten versions: {history:?}");
    for entry in &history {
        let by = entry
            .attribution
            .as_ref()
            .ok_or_else(|| anyhow!("revision {} has no record", entry.revision))?;
        let value = String::from_utf8(publisher.version(entry.revision).await?)?;
        let message = by.message.as_deref().unwrap_or_default();
        ensure!(
            message.starts_with(&by.author) && value.contains(&format!("\"{message}\"")),
            "revision {}: record {by:?} does not describe {value}",
            entry.revision
        );
    }
    Ok(())
}
