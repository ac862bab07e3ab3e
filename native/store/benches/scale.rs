//! Scale (issue 17): N = 1, 100, 1,000 stores in one process, each with its
//! own client, against one real etcd, straight and through an `etcd
//! grpc-proxy`, publishing a ~100 KB document; and in the same run, the
//! floor: N bare etcd-client watches that parse each value as a
//! `serde_json::Value` (the least any consumer must do). Stores and bare
//! watches run in separate phases, so each has the machine to itself.
//!
//! Per N and topology: propagation p50 / p99 from the put to the last
//! receiver, ours and the floor, and their ratio (budget: p99 within 1.5x +
//! 1 ms of the floor); etcd's bytes sent per publish (its own
//! `etcd_network_client_grpc_sent_bytes_total`); etcd's and the proxy's
//! RSS; the client RSS per store; the time to connect the whole fleet. A
//! last phase: the 1,000 stores through the proxy, 30 s of quiet, then the
//! puts: reconnects during the quiet (budget: zero) and the propagation.
//!
//! Run: `cargo bench -p directive-etcd --bench scale` (SCALE_SIZES=1,100 to
//! choose N; needs Debian's `etcd-server`). With `--test`, N = 1 and 3 puts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use directive_etcd::{EtcdDirectiveStore, StoreOptions};
use directive_tests::{EtcdCluster, GrpcProxy};
use etcd_client::{Client, EventType, WatchOptions};
use tokio::sync::Semaphore;

const KEY: &str = "bench/scale";

/// A ~100 KB document, different for every `put`.
fn document(put: usize) -> String {
    directive_vectors::generate::tenant_scoped(1_100, &format!("p{put}-"), "Shape")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// Resident set size of a process, in MB (from `/proc`).
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// etcd's bytes sent to gRPC clients so far (0 when it cannot be read).
async fn bytes_sent(client_url: &str) -> f64 {
    directive_tests::metric_sum(client_url, |l| {
        l.starts_with("etcd_network_client_grpc_sent_bytes_total")
    })
    .await
    .unwrap_or(0.0)
}

/// Puts `puts` documents, one at a time, and returns for each the time
/// until `applied(rev)` held (ms), sorted, with etcd's bytes sent per put.
async fn publish_and_time(
    writer: &mut Client,
    etcd_url: &str,
    puts: usize,
    applied: impl Fn(i64) -> bool,
) -> (Vec<f64>, f64) {
    let before = bytes_sent(etcd_url).await;
    let mut times = Vec::new();
    for p in 1..=puts {
        let doc = document(p);
        let t0 = Instant::now();
        let rev = writer
            .put(KEY, doc, None)
            .await
            .expect("put")
            .header()
            .map_or(0, |h| h.revision());
        let deadline = t0 + Duration::from_secs(60);
        while !applied(rev) {
            assert!(Instant::now() < deadline, "not applied within 60 s");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        // Let the fleet settle (and etcd's counters catch up) between puts.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let per_put = (bytes_sent(etcd_url).await - before) / puts as f64;
    times.sort_by(f64::total_cmp);
    (times, per_put)
}

struct Row {
    p50: f64,
    p99: f64,
    bytes_per_put: f64,
    connect_s: f64,
    client_rss_per_store_kb: f64,
    reconnects: u64,
}

/// N stores on `endpoint`: connect, optionally stay quiet, then the puts.
async fn stores_phase(
    endpoint: &str,
    etcd_url: &str,
    writer: &mut Client,
    n: usize,
    puts: usize,
    quiet: Duration,
) -> Row {
    let rss_before = rss_mb(std::process::id());
    let options = StoreOptions::new([endpoint.to_owned()])
        .with_key(KEY)
        .with_connect_timeout(Duration::from_secs(60));
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(64));
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
    let connect_s = started.elapsed().as_secs_f64();
    let client_rss_per_store_kb = (rss_mb(std::process::id()) - rss_before) * 1024.0 / n as f64;
    // The quiet period is the condition measured (idle watches).
    tokio::time::sleep(quiet).await;
    let reconnects = stores.iter().map(|s| s.status().reconnects).sum();
    let (times, bytes_per_put) = publish_and_time(writer, etcd_url, puts, |rev| {
        stores.iter().all(|s| s.status().applied_revision >= rev)
    })
    .await;
    for s in &stores {
        s.shutdown().await;
    }
    Row {
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        bytes_per_put,
        connect_s,
        client_rss_per_store_kb,
        reconnects,
    }
}

/// N bare watches on `endpoint`, each parsing every value.
async fn floor_phase(
    endpoint: &str,
    etcd_url: &str,
    writer: &mut Client,
    n: usize,
    puts: usize,
) -> Row {
    let seen: Arc<Vec<std::sync::atomic::AtomicI64>> = Arc::new(
        (0..n)
            .map(|_| std::sync::atomic::AtomicI64::new(0))
            .collect(),
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let mut client = Client::connect([endpoint], None)
            .await
            .expect("bare client");
        let mut stream = client
            .watch(KEY, Some(WatchOptions::new()))
            .await
            .expect("bare watch");
        let seen = Arc::clone(&seen);
        tasks.push(tokio::spawn(async move {
            let _keep = client;
            while let Ok(Some(resp)) = stream.message().await {
                for ev in resp.events() {
                    if let (EventType::Put, Some(kv)) = (ev.event_type(), ev.kv()) {
                        let parsed = serde_json::from_slice::<serde_json::Value>(kv.value());
                        if parsed.is_ok() {
                            seen[i].store(kv.mod_revision(), std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                }
            }
        }));
    }
    let connect_s = started.elapsed().as_secs_f64();
    let (times, bytes_per_put) = publish_and_time(writer, etcd_url, puts, |rev| {
        seen.iter()
            .all(|s| s.load(std::sync::atomic::Ordering::SeqCst) >= rev)
    })
    .await;
    for t in tasks {
        t.abort();
    }
    Row {
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        bytes_per_put,
        connect_s,
        client_rss_per_store_kb: 0.0,
        reconnects: 0,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let sizes: Vec<usize> = match std::env::var("SCALE_SIZES") {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) if quick => vec![1],
        Err(_) => vec![1, 100, 1_000],
    };
    let puts = if quick { 3 } else { 20 };
    let etcd = EtcdCluster::start(1)
        .await
        .expect("etcd starts (apt-get install etcd-server)");
    let etcd_url = etcd.member_endpoint(0);
    let etcd_pid = etcd.member(0).pid().expect("etcd runs");
    let proxy = GrpcProxy::start(&etcd.endpoints())
        .await
        .expect("grpc-proxy starts");
    let proxy_pid = proxy.pid().expect("proxy runs");
    let mut writer = Client::connect([etcd_url.clone()], None)
        .await
        .expect("writer");
    writer.put(KEY, document(0), None).await.expect("seed");
    println!(
        "document: {} bytes; {puts} puts per phase",
        document(1).len()
    );
    println!("| topology | N | ours p50 | ours p99 | floor p50 | floor p99 | p99 / floor | budget (1.5x + 1 ms) | etcd bytes sent per publish (ours / floor) | etcd RSS | proxy RSS | client RSS per store | connect (ours / floor) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (topology, endpoint) in [
        ("straight", etcd_url.clone()),
        ("grpc-proxy", proxy.endpoint()),
    ] {
        for &n in &sizes {
            let ours =
                stores_phase(&endpoint, &etcd_url, &mut writer, n, puts, Duration::ZERO).await;
            let floor = floor_phase(&endpoint, &etcd_url, &mut writer, n, puts).await;
            let met = ours.p99 <= 1.5 * floor.p99 + 1.0;
            println!(
                "| {topology} | {n} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.2}x | {} | {:.0} KB / {:.0} KB | {:.0} MB | {:.0} MB | {:.0} KB | {:.1} s / {:.1} s |",
                ours.p50,
                ours.p99,
                floor.p50,
                floor.p99,
                ours.p99 / floor.p99,
                if met { "met" } else { "missed" },
                ours.bytes_per_put / 1024.0,
                floor.bytes_per_put / 1024.0,
                rss_mb(etcd_pid),
                rss_mb(proxy_pid),
                ours.client_rss_per_store_kb,
                ours.connect_s,
                floor.connect_s,
            );
        }
    }
    if !quick {
        let n = *sizes.iter().max().unwrap_or(&1);
        let quiet = Duration::from_secs(30);
        let idle = stores_phase(&proxy.endpoint(), &etcd_url, &mut writer, n, puts, quiet).await;
        println!(
            "\nidle through the proxy: {n} stores, {} s quiet, then {puts} puts: {} reconnects while quiet (budget 0); p50 {:.1} ms, p99 {:.1} ms",
            quiet.as_secs(),
            idle.reconnects,
            idle.p50,
            idle.p99
        );
    }
}
