//! Propagation: from a put to every one of N stores applying it, against a
//! bare etcd-client watch on the same key (etcd's own delivery, the floor),
//! N = 1, 10, 100, each store and each bare watcher with its own client, all
//! in one process against a real etcd, in one run.
//!
//! Run: `cargo bench -p directive-etcd --bench propagation` (needs Debian's
//! `etcd-server`). With `--test` (as `cargo test --benches` passes) it runs
//! one tiny round to prove it works.

use std::sync::Arc;
use std::time::{Duration, Instant};

use directive_etcd::{EtcdDirectiveStore, StoreOptions};
use directive_tests::EtcdCluster;
use etcd_client::{Client, EventType, WatchOptions};
use tokio::sync::Mutex;

const KEY: &str = "bench/directives";

fn doc(i: usize) -> String {
    directive_vectors::generate::one(&format!("d{i}"), "Shape", 600, &format!("t{i}"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// For each put, the time until the last of the N receivers saw it (ms).
async fn run(endpoints: &[String], n: usize, puts: usize) -> (Vec<f64>, Vec<f64>) {
    let mut writer = Client::connect(endpoints, None).await.expect("writer");
    writer.put(KEY, doc(0), None).await.expect("seed");

    let mut stores = Vec::new();
    for _ in 0..n {
        let s = EtcdDirectiveStore::connect(StoreOptions::new(endpoints.to_vec()).with_key(KEY))
            .await
            .expect("store");
        stores.push(s);
    }
    // Bare watchers: the revision each has seen, updated by its own task.
    let seen: Arc<Vec<Mutex<i64>>> = Arc::new((0..n).map(|_| Mutex::new(0)).collect());
    let mut tasks = Vec::new();
    for i in 0..n {
        let mut client = Client::connect(endpoints, None).await.expect("bare client");
        let mut stream = client
            .watch(KEY, Some(WatchOptions::new()))
            .await
            .expect("bare watch");
        let seen = Arc::clone(&seen);
        tasks.push(tokio::spawn(async move {
            let _keep = client;
            while let Ok(Some(resp)) = stream.message().await {
                for ev in resp.events() {
                    if ev.event_type() == EventType::Put {
                        if let Some(kv) = ev.kv() {
                            *seen[i].lock().await = kv.mod_revision();
                        }
                    }
                }
            }
        }));
    }

    let (mut ours, mut bare) = (Vec::new(), Vec::new());
    for p in 1..=puts {
        let t0 = Instant::now();
        let rev = writer
            .put(KEY, doc(p), None)
            .await
            .expect("put")
            .header()
            .map_or(0, |h| h.revision());
        let (mut our_done, mut bare_done) = (None, None);
        let deadline = t0 + Duration::from_secs(10);
        while (our_done.is_none() || bare_done.is_none()) && Instant::now() < deadline {
            if our_done.is_none() && stores.iter().all(|s| s.status().applied_revision >= rev) {
                our_done = Some(t0.elapsed());
            }
            if bare_done.is_none() {
                let mut all = true;
                for s in seen.iter() {
                    all &= *s.lock().await >= rev;
                }
                if all {
                    bare_done = Some(t0.elapsed());
                }
            }
            tokio::task::yield_now().await;
        }
        ours.push(our_done.expect("stores applied within 10 s").as_secs_f64() * 1000.0);
        bare.push(
            bare_done
                .expect("bare watchers saw it within 10 s")
                .as_secs_f64()
                * 1000.0,
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for s in &stores {
        s.shutdown().await;
    }
    for t in tasks {
        t.abort();
    }
    ours.sort_by(f64::total_cmp);
    bare.sort_by(f64::total_cmp);
    (ours, bare)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let etcd = EtcdCluster::start(1)
        .await
        .expect("etcd starts (apt-get install etcd-server)");
    let endpoints = etcd.endpoints();
    let (sizes, puts): (&[usize], usize) = if quick {
        (&[1], 3)
    } else {
        (&[1, 10, 100], 50)
    };
    println!("| N | ours p50 | ours p99 | bare watch p50 | bare watch p99 | p99 ratio | budget (1.5x + 1 ms) |");
    println!("|---|---|---|---|---|---|---|");
    for &n in sizes {
        let (ours, bare) = run(&endpoints, n, puts).await;
        let (o50, o99, b50, b99) = (
            percentile(&ours, 0.5),
            percentile(&ours, 0.99),
            percentile(&bare, 0.5),
            percentile(&bare, 0.99),
        );
        let met = o99 <= 1.5 * b99 + 1.0;
        println!(
            "| {n} | {o50:.2} ms | {o99:.2} ms | {b50:.2} ms | {b99:.2} ms | {:.2}x | {} |",
            o99 / b99,
            if met { "met" } else { "missed" }
        );
    }
}
