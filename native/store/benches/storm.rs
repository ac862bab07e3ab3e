//! The restart storm (issue 17): N stores (1,000 by default) in one
//! process, each with its own client, against one etcd that is stopped for
//! 3 s, 15 s and 60 s, then twice 20 s apart, and restarted. For each
//! outage: the time from etcd serving again (the harness's first answered
//! read; stores may reconnect during etcd's startup, before it) until every
//! store is live on a revision written right then (p50 / p99 / max over the
//! stores), and etcd's own time from restart to serving; the
//! stores' connection attempts per second while etcd was down (their
//! reconnect counters); etcd's peak request rate in the first seconds back
//! (its own `grpc_server_started_total`, sampled every 200 ms). The
//! baseline, in the same run: the schedule's first backoff ceiling, the
//! least a jittered retry can promise.
//!
//! Run: `cargo bench -p directive-etcd --bench storm` (STORM_STORES=N to
//! change N; needs Debian's `etcd-server`). With `--test`, 20 stores and
//! one 2 s outage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use directive_core::State;
use directive_etcd::{EtcdDirectiveStore, StoreOptions};
use directive_tests::EtcdCluster;

const KEY: &str = "bench/storm";

/// etcd's count of gRPC requests started, from its own `/metrics`.
async fn requests_started(client_url: &str) -> Option<f64> {
    directive_tests::metric_sum(client_url, |l| l.starts_with("grpc_server_started_total{"))
        .await
        .ok()
}

fn reconnects(stores: &[EtcdDirectiveStore]) -> u64 {
    stores.iter().map(|s| s.status().reconnects).sum()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// One outage of `down`: returns (p50, p99, max) recovery in ms, attempts
/// per second while down, etcd's peak requests per second once back.
async fn outage(
    etcd: &mut EtcdCluster,
    stores: &[EtcdDirectiveStore],
    down: Duration,
    round: usize,
) -> (f64, f64, f64, f64, f64, f64) {
    etcd.stop_member(0).expect("etcd stops");
    let stopped = Instant::now();
    let before = reconnects(stores);
    // The outage itself is the condition measured: etcd stays down for it.
    tokio::time::sleep(down).await;
    let attempts = (reconnects(stores) - before) as f64 / stopped.elapsed().as_secs_f64();
    let restarting = Instant::now();
    etcd.restart_member(0).await.expect("etcd restarts");
    let serving = Instant::now();
    let startup = serving.duration_since(restarting).as_secs_f64() * 1000.0;
    let url = etcd.member_endpoint(0);
    let mut client = etcd.client().await.expect("client");
    let doc = format!(r#"{{"directives":[{{"id":"r{round}","level":"Shape","ttl_secs":600}}]}}"#);
    let rev = client
        .put(KEY, doc, None)
        .await
        .expect("put")
        .header()
        .map_or(0, |h| h.revision());
    let mut done: Vec<Option<f64>> = vec![None; stores.len()];
    let mut peak = 0.0_f64;
    let mut last_sample = (Instant::now(), requests_started(&url).await.unwrap_or(0.0));
    let deadline = Instant::now() + Duration::from_secs(120);
    // Until every store recovered, and etcd's request rate sampled for
    // the first 2 s back at least.
    while done.iter().any(Option::is_none) || serving.elapsed() < Duration::from_secs(2) {
        assert!(
            Instant::now() < deadline,
            "stores did not recover within 120 s"
        );
        for (slot, store) in done.iter_mut().zip(stores) {
            let s = store.status();
            if slot.is_none() && s.state == State::Live && s.applied_revision >= rev {
                *slot = Some(serving.elapsed().as_secs_f64() * 1000.0);
            }
        }
        if last_sample.0.elapsed() >= Duration::from_millis(200) {
            if let Some(now) = requests_started(&url).await {
                let rate = (now - last_sample.1) / last_sample.0.elapsed().as_secs_f64();
                peak = peak.max(rate);
                last_sample = (Instant::now(), now);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut times: Vec<f64> = done.into_iter().flatten().collect();
    times.sort_by(f64::total_cmp);
    (
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or_default(),
        attempts,
        peak,
        startup,
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let n: usize = std::env::var("STORM_STORES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 20 } else { 1_000 });
    let mut etcd = EtcdCluster::start(1)
        .await
        .expect("etcd starts (apt-get install etcd-server)");
    let options = StoreOptions::new(etcd.endpoints())
        .with_key(KEY)
        .with_connect_timeout(Duration::from_secs(30));
    let first_step = options.reducer_config().backoff.ceiling_ms(0);
    let mut client = etcd.client().await.expect("client");
    client
        .put(KEY, r#"{"directives":[]}"#, None)
        .await
        .expect("seed");
    let started = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let mut joins = Vec::new();
    for _ in 0..n {
        let (options, gate) = (options.clone(), Arc::clone(&gate));
        joins.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate");
            EtcdDirectiveStore::connect(options).await.expect("store")
        }));
    }
    let mut stores = Vec::new();
    for j in joins {
        stores.push(j.await.expect("connect task"));
    }
    println!(
        "{n} stores connected in {:.1} s; first backoff ceiling (baseline) {first_step} ms",
        started.elapsed().as_secs_f64()
    );
    println!("| outage | recovery p50 | p99 | max | p99 / first ceiling | etcd restart to serving | attempts/s while down (per store) | etcd peak requests/s once back |");
    println!("|---|---|---|---|---|---|---|---|");
    let plan: Vec<(&str, Duration)> = if quick {
        vec![("2 s", Duration::from_secs(2))]
    } else {
        vec![
            ("3 s", Duration::from_secs(3)),
            ("15 s", Duration::from_secs(15)),
            ("60 s", Duration::from_secs(60)),
            ("20 s, first of two", Duration::from_secs(20)),
            (
                "20 s, second (20 s after the first came back)",
                Duration::from_secs(20),
            ),
        ]
    };
    for (round, (label, down)) in plan.into_iter().enumerate() {
        if label.starts_with("20 s, second") {
            tokio::time::sleep(Duration::from_secs(20)).await;
        }
        let (p50, p99, max, attempts, peak, startup) =
            outage(&mut etcd, &stores, down, round).await;
        println!(
            "| {label} | {p50:.0} ms | {p99:.0} ms | {max:.0} ms | {:.2} | {startup:.0} ms | {attempts:.0} ({:.2}) | {peak:.0} |",
            p99 / first_step as f64,
            attempts / n as f64
        );
    }
    for s in &stores {
        s.shutdown().await;
    }
}
