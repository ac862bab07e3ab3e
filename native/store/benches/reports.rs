//! Instance reports (ADR 0011): what they cost during a storm of publishes.
//!
//! With `StoreOptions::with_instance` every store writes a JSON report under
//! a lease at `<key>/instances/<id>`, coalesced to at most one write per
//! report interval (default 1 s). A publish changes every instance's report
//! at once, so a storm is where reports cost most: etcd takes up to N writes
//! per interval, and each store does a little more work per applied put.
//! This measures, in one run against a real etcd, N = 100 stores (each with
//! its own client) through a storm of 50 puts 20 ms apart, with reports off
//! and with reports on (default timing), rounds in the order off, on, on,
//! off so that drift on the machine weighs on both alike:
//!
//! - propagation p50 / p99: from a put to the last of the N stores applying
//!   it (each store's `subscribe()` channel), against N bare etcd-client
//!   watches on the same key measured on the same puts (etcd's own
//!   delivery, the floor); the budget is p99 within 1.5x + 1 ms of theirs;
//! - report writes per second: the Put events a separate watch on
//!   `<key>/instances/` sees in the storm window (from the first put to the
//!   last one applied everywhere, rounded up to whole intervals: over k
//!   intervals an instance writes at most k times), next to the bound
//!   N / interval, and the shortest gap seen between two writes of one
//!   instance (coalescing spaces the writes by the interval; the gap is
//!   taken where the counter receives them, so delivery jitter under load
//!   can take a few tens of ms off it).
//!
//! Ours and the bare watch are detected by the same task, so a put both see
//! before it runs gets the same time for both (as in `propagation.rs`): the
//! ratio bounds the store's overhead, it does not resolve below the task's
//! wake-up. Load that reports put on etcd or on the machine slows the bare
//! watch too: that shows in reports on against reports off, not in the ratio.
//!
//! Run: `cargo bench -p directive-etcd --bench reports` (needs Debian's
//! `etcd-server`). With `--test` (as `cargo test --benches` passes) it runs
//! one tiny round per configuration (N = 3, 3 puts) to prove it works.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use directive_core::instance::reports_prefix;
use directive_etcd::{EtcdDirectiveStore, StoreOptions};
use directive_tests::EtcdCluster;
use etcd_client::{Client, EventType, WatchOptions};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

const KEY: &str = "bench/directives";

/// The report interval `StoreOptions::with_instance` defaults to (ADR 0011),
/// which the "on" configuration keeps: the bound is N / this.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Time between two puts of the storm.
const SPACING: Duration = Duration::from_millis(20);

/// How long every receiver may take to see one put.
const PUT_DEADLINE: Duration = Duration::from_secs(10);

/// Quiet asked of the report watch before a storm: the startup reports
/// (initializing, then live) are all written, and every instance's last
/// write is more than one interval old, as in a fleet at rest.
const QUIET: Duration = Duration::from_millis(1250);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reports {
    Off,
    On,
}

impl Reports {
    fn name(self) -> &'static str {
        match self {
            Reports::Off => "reports off",
            Reports::On => "reports on (1 s / 10 s)",
        }
    }
}

/// What the rounds of one configuration measured, pooled.
#[derive(Default)]
struct Outcome {
    /// Per put, until the last store applied it (ms).
    ours: Vec<f64>,
    /// Per put, until the last bare watcher saw it (ms).
    bare: Vec<f64>,
    /// Report writes seen in the storm windows.
    writes: usize,
    /// The storm windows' total length.
    window: Duration,
    /// The shortest gap between two writes of one instance, from a storm's
    /// first put until its window was counted.
    min_gap: Option<Duration>,
}

/// Every report write the counter saw: when it arrived, under which key.
type Seen = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

fn doc(i: usize) -> String {
    directive_vectors::generate::one(&format!("d{i}"), "Shape", 600, &format!("t{i}"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Waits until every receiver's revision reaches `rev`; when that was.
async fn all_reach<T>(
    receivers: Vec<watch::Receiver<T>>,
    rev: i64,
    revision: impl Fn(&T) -> i64,
) -> Instant {
    for mut rx in receivers {
        rx.wait_for(|v| revision(v) >= rev)
            .await
            .expect("the sender outlives the storm");
    }
    Instant::now()
}

/// A watch on `<KEY>/instances/` recording every Put, its own client.
async fn report_counter(endpoints: &[String], seen: Seen) -> tokio::task::JoinHandle<()> {
    let mut client = Client::connect(endpoints, None)
        .await
        .expect("counter client");
    let mut stream = client
        .watch(reports_prefix(KEY), Some(WatchOptions::new().with_prefix()))
        .await
        .expect("counter watch");
    let created = stream.message().await.expect("counter watch answers");
    assert!(
        created.is_some_and(|r| r.created()),
        "counter watch created"
    );
    tokio::spawn(async move {
        let _keep = client;
        while let Ok(Some(resp)) = stream.message().await {
            let at = Instant::now();
            let mut seen = seen.lock().expect("counter lock");
            for ev in resp.events() {
                if ev.event_type() == EventType::Put {
                    if let Some(kv) = ev.kv() {
                        seen.push((at, kv.key().to_vec()));
                    }
                }
            }
        }
    })
}

/// Waits (bounded) until `instances` reports exist and none was written for
/// [`QUIET`].
async fn settle(seen: &Seen, instances: usize) {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(30);
    loop {
        let (keys, last) = {
            let seen = seen.lock().expect("counter lock");
            let keys: HashSet<&[u8]> = seen.iter().map(|(_, k)| k.as_slice()).collect();
            (keys.len(), seen.last().map_or(start, |(at, _)| *at))
        };
        let now = Instant::now();
        if keys >= instances && now.duration_since(last.max(start)) >= QUIET {
            return;
        }
        assert!(
            now < deadline,
            "reports settled within 30 s ({keys} of {instances} instances)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One round: `n` stores and `n` bare watchers, a storm of `puts` puts.
async fn round(endpoints: &[String], n: usize, puts: usize, reports: Reports, into: &mut Outcome) {
    let mut writer = Client::connect(endpoints, None).await.expect("writer");
    writer.put(KEY, doc(0), None).await.expect("seed");

    let seen: Seen = Arc::default();
    let counter = report_counter(endpoints, Arc::clone(&seen)).await;

    let mut stores = Vec::new();
    for i in 0..n {
        let mut options = StoreOptions::new(endpoints.to_vec()).with_key(KEY);
        if reports == Reports::On {
            options = options.with_instance(format!("i{i}"), BTreeMap::new());
        }
        stores.push(EtcdDirectiveStore::connect(options).await.expect("store"));
    }
    let ours: Vec<_> = stores.iter().map(EtcdDirectiveStore::subscribe).collect();

    // Bare watchers: the revision each has seen, sent by its own task.
    let mut bare = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..n {
        let mut client = Client::connect(endpoints, None).await.expect("bare client");
        let mut stream = client
            .watch(KEY, Some(WatchOptions::new()))
            .await
            .expect("bare watch");
        let created = stream.message().await.expect("bare watch answers");
        assert!(created.is_some_and(|r| r.created()), "bare watch created");
        let (tx, rx) = watch::channel(0_i64);
        bare.push(rx);
        tasks.push(tokio::spawn(async move {
            let _keep = client;
            while let Ok(Some(resp)) = stream.message().await {
                for ev in resp.events() {
                    if ev.event_type() == EventType::Put {
                        if let Some(kv) = ev.kv() {
                            tx.send_replace(kv.mod_revision());
                        }
                    }
                }
            }
        }));
    }

    let instances = if reports == Reports::On { n } else { 0 };
    settle(&seen, instances).await;

    // The storm: puts on a fixed schedule, each put's propagation measured
    // by its own task (a slow put does not delay the next one).
    let start = Instant::now();
    let mut ticker = tokio::time::interval(SPACING);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut measures = Vec::new();
    for p in 1..=puts {
        ticker.tick().await;
        let t0 = Instant::now();
        let rev = writer
            .put(KEY, doc(p), None)
            .await
            .expect("put")
            .header()
            .map_or(0, |h| h.revision());
        let (ours, bare) = (ours.clone(), bare.clone());
        measures.push(tokio::spawn(async move {
            let both = async {
                tokio::join!(
                    all_reach(ours, rev, |s| s.revision),
                    all_reach(bare, rev, |r| *r)
                )
            };
            let (o, b) = tokio::time::timeout(PUT_DEADLINE, both)
                .await
                .expect("every store and bare watcher saw the put within 10 s");
            (o, ms(o - t0), ms(b - t0))
        }));
    }
    let mut last_applied = start;
    for m in measures {
        let (applied, o, b) = m.await.expect("measure task");
        last_applied = last_applied.max(applied);
        into.ours.push(o);
        into.bare.push(b);
    }

    // The storm window: whole intervals from the first put, covering the
    // last apply.
    let storm = last_applied - start;
    let intervals = storm.as_nanos().div_ceil(REPORT_INTERVAL.as_nanos()).max(1);
    let window = REPORT_INTERVAL * u32::try_from(intervals).expect("a short storm");
    let end = start + window;
    // Writes are received a little after they are made.
    tokio::time::sleep_until((end + Duration::from_millis(100)).into()).await;
    {
        let seen = seen.lock().expect("counter lock");
        into.writes += seen
            .iter()
            .filter(|(at, _)| *at >= start && *at < end)
            .count();
        let mut by_key: HashMap<&[u8], Vec<Instant>> = HashMap::new();
        for (at, key) in seen.iter().filter(|(at, _)| *at >= start) {
            by_key.entry(key.as_slice()).or_default().push(*at);
        }
        for times in by_key.values() {
            for pair in times.windows(2) {
                let gap = pair[1] - pair[0];
                into.min_gap = Some(into.min_gap.map_or(gap, |g| g.min(gap)));
            }
        }
    }
    into.window += window;

    for s in &stores {
        s.shutdown().await;
    }
    for t in tasks {
        t.abort();
    }
    counter.abort();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let etcd = EtcdCluster::start(1)
        .await
        .expect("etcd starts (apt-get install etcd-server)");
    let endpoints = etcd.endpoints();
    let (n, puts, order): (usize, usize, &[Reports]) = if quick {
        (3, 3, &[Reports::Off, Reports::On])
    } else {
        (
            100,
            50,
            &[Reports::Off, Reports::On, Reports::On, Reports::Off],
        )
    };

    let mut off = Outcome::default();
    let mut on = Outcome::default();
    for &reports in order {
        let into = match reports {
            Reports::Off => &mut off,
            Reports::On => &mut on,
        };
        round(&endpoints, n, puts, reports, into).await;
    }

    let rounds = order.len() / 2;
    println!(
        "N = {n} stores, {rounds} round(s) per configuration of {puts} puts {} ms apart, \
         order {}",
        SPACING.as_millis(),
        order
            .iter()
            .map(|r| if *r == Reports::On { "on" } else { "off" })
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    println!(
        "| configuration | p50 | p99 | bare watch p50 | bare watch p99 | p99 ratio | \
         budget (1.5x + 1 ms) | report writes/s | bound (N / interval) | min gap, one instance |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let bound = n as f64 / REPORT_INTERVAL.as_secs_f64();
    for (reports, outcome) in [(Reports::Off, &mut off), (Reports::On, &mut on)] {
        outcome.ours.sort_by(f64::total_cmp);
        outcome.bare.sort_by(f64::total_cmp);
        let (o50, o99, b50, b99) = (
            percentile(&outcome.ours, 0.5),
            percentile(&outcome.ours, 0.99),
            percentile(&outcome.bare, 0.5),
            percentile(&outcome.bare, 0.99),
        );
        let met = o99 <= 1.5 * b99 + 1.0;
        let rate = outcome.writes as f64 / outcome.window.as_secs_f64();
        println!(
            "| {} | {o50:.2} ms | {o99:.2} ms | {b50:.2} ms | {b99:.2} ms | {:.2}x | {} | \
             {rate:.1}/s ({} in {:.0} s) | {bound:.0}/s | {} |",
            reports.name(),
            o99 / b99,
            if met { "met" } else { "missed" },
            outcome.writes,
            outcome.window.as_secs_f64(),
            outcome
                .min_gap
                .map_or_else(|| "-".to_owned(), |g| format!("{:.0} ms", ms(g))),
        );
    }
    println!();
    println!(
        "Without coalescing (one write per instance per put) the storm would cost {:.0}/s.",
        n as f64 / SPACING.as_secs_f64()
    );

    // Proof that the counter counts: nothing without reports, every
    // instance at least once with them.
    assert_eq!(off.writes, 0, "no report is written with reports off");
    assert!(
        on.writes >= n,
        "every instance reported in the storm ({} writes for {n} instances)",
        on.writes
    );
}
