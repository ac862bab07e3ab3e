//! Recovery: etcd restarted; time from etcd serving again until every store
//! is live on the latest revision, against the backoff schedule's own delay
//! (the ceiling of the first retry), in one run.
//!
//! Run: `cargo bench -p directive-etcd --bench recovery` (needs Debian's
//! `etcd-server`). With `--test`, one short round.

use std::time::{Duration, Instant};

use directive_core::{Backoff, State};
use directive_etcd::{EtcdDirectiveStore, StoreOptions};
use directive_tests::EtcdCluster;

const KEY: &str = "bench/recovery";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let (stores_n, rounds) = if quick { (2, 1) } else { (10, 5) };
    let mut etcd = EtcdCluster::start(1)
        .await
        .expect("etcd starts (apt-get install etcd-server)");
    let backoff = Backoff::default();
    let options = StoreOptions::new(etcd.endpoints())
        .with_key(KEY)
        .with_backoff(backoff)
        .with_connect_timeout(Duration::from_secs(2));
    let mut client = etcd.client().await.expect("client");
    client
        .put(KEY, r#"{"directives":[]}"#, None)
        .await
        .expect("seed");
    let mut stores = Vec::new();
    for _ in 0..stores_n {
        stores.push(
            EtcdDirectiveStore::connect(options.clone())
                .await
                .expect("store"),
        );
    }
    let mut times = Vec::new();
    for round in 0..rounds {
        etcd.stop_member(0).expect("etcd stops");
        // Every store notices the outage before etcd comes back.
        let deadline = Instant::now() + Duration::from_secs(20);
        while stores.iter().any(|s| s.status().state == State::Live) {
            assert!(Instant::now() < deadline, "stores never noticed the outage");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        etcd.restart_member(0).await.expect("etcd restarts");
        let t0 = Instant::now();
        let mut client = etcd.client().await.expect("client");
        let doc =
            format!(r#"{{"directives":[{{"id":"r{round}","level":"Shape","ttl_secs":60}}]}}"#);
        let rev = client
            .put(KEY, doc, None)
            .await
            .expect("put")
            .header()
            .map_or(0, |h| h.revision());
        let deadline = Instant::now() + Duration::from_secs(60);
        while !stores
            .iter()
            .all(|s| s.status().state == State::Live && s.status().applied_revision >= rev)
        {
            assert!(
                Instant::now() < deadline,
                "stores did not recover within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let budget = backoff.ceiling_ms(0) as f64 + 1000.0;
    let worst = times.last().copied().unwrap_or_default();
    println!(
        "recovery of {stores_n} stores over {rounds} restarts: median {:.0} ms, max {:.0} ms; \
         first backoff step {} ms; budget (step + 1 s) {budget:.0} ms: {}",
        times[times.len() / 2],
        worst,
        backoff.ceiling_ms(0),
        if worst <= budget { "met" } else { "missed" }
    );
    for s in &stores {
        s.shutdown().await;
    }
}
