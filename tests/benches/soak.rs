//! Soak: 100 stores against a 3-member etcd cluster under chaos (issue 7).
//!
//! Not in CI (minutes long). Run with
//! `cargo bench -p directive-tests --bench soak` (`SOAK_SECONDS`, default
//! 300) or `... -- --test` for a 10 s smoke run. Every store reaches the
//! cluster through one FaultProxy per member, so the chaos loop can kill and
//! restart members, blackhole or cut links, and publish (valid sets through
//! the `Publisher`, malformed values with a raw put) at the same time.
//!
//! It proves, from each store's own `events()` log: applied revisions only
//! go forward; no malformed revision is ever applied; every store ends on the
//! final revision; and the process's RSS (from `/proc/self/statm`) does not
//! grow beyond a bound between warm-up and the end. Exit code 1 on failure.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use directive_core::Backoff;
use directive_etcd::{EtcdDirectiveStore, Publisher, StoreEvent, StoreOptions};
use directive_tests::{EtcdCluster, FaultProxy};
use tokio::sync::broadcast::error::RecvError;

const KEY: &str = "osproxy/directives";
const STORES: usize = 100;
/// Allowed RSS growth from warm-up to the end.
const RSS_GROWTH_BOUND: u64 = 64 * 1024 * 1024;

fn opts<S: Into<String>>(endpoints: impl IntoIterator<Item = S>) -> StoreOptions {
    StoreOptions::new(endpoints)
        .with_key(KEY)
        .with_connect_timeout(Duration::from_secs(3))
        .with_request_timeout(Duration::from_secs(3))
        .with_keep_alive(Duration::from_secs(1), Duration::from_secs(1))
        .with_progress(Duration::from_secs(1), Duration::from_secs(1))
        .with_backoff(Backoff {
            initial_ms: 100,
            max_ms: 2_000,
            full_jitter: true,
        })
}

fn doc(i: u64) -> String {
    let tenant = format!("t{}", i % 7);
    directive_vectors::generate::one(&format!("soak-{i}"), "ShapeTiming", 600, &tenant)
}

/// Resident set size in bytes (4 KiB pages).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// xorshift64*: the chaos schedule, reproducible from `SOAK_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What one store's event log showed.
#[derive(Default, Debug)]
struct Log {
    applied: Vec<i64>,
    rejected: usize,
    lagged: u64,
}

#[derive(Default, Debug)]
struct Chaos {
    publishes: u64,
    publish_failures: u64,
    invalid_puts: u64,
    kills: u64,
    blackholes: u64,
    cuts: u64,
}

fn main() -> std::process::ExitCode {
    let smoke = std::env::args().any(|a| a == "--test");
    // `cargo bench` passes `--bench`; anything else is ignored.
    let seconds = if smoke {
        10
    } else {
        std::env::var("SOAK_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(300)
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("soak: runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(soak(Duration::from_secs(seconds))) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soak: FAILED: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn soak(duration: Duration) -> anyhow::Result<()> {
    let seed = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x50a4_u64);
    let mut rng = Rng(seed | 1);
    let mut cluster = EtcdCluster::start(3).await?;
    let mut proxies = Vec::new();
    for i in 0..3 {
        proxies.push(FaultProxy::for_endpoint(&cluster.member_endpoint(i)).await?);
    }
    let proxy_endpoints: Vec<String> = proxies.iter().map(FaultProxy::endpoint).collect();
    let publisher = Publisher::connect(opts(cluster.endpoints())).await?;
    let mut raw = cluster.client().await?;
    let mut counter = 0u64;
    publisher.publish(doc(counter).as_bytes(), None).await?;

    let t_connect = Instant::now();
    let mut stores = Vec::new();
    let mut logs = Vec::new();
    for _ in 0..STORES {
        let store = EtcdDirectiveStore::connect(opts(proxy_endpoints.clone())).await?;
        let log = Arc::new(Mutex::new(Log::default()));
        let mut events = store.events();
        let sink = Arc::clone(&log);
        tokio::spawn(async move {
            loop {
                let ev = events.recv().await;
                let mut log = sink.lock().unwrap_or_else(PoisonError::into_inner);
                match ev {
                    Ok(StoreEvent::Applied { revision, .. }) => log.applied.push(revision),
                    Ok(StoreEvent::Rejected { .. }) => log.rejected += 1,
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => log.lagged += n,
                    Err(RecvError::Closed) => return,
                }
            }
        });
        stores.push(store);
        logs.push(log);
    }
    eprintln!(
        "soak: {STORES} stores connected in {:?}; running {duration:?} (seed {seed})",
        t_connect.elapsed()
    );
    let rss_warm = rss_bytes();
    let mut rss_max = rss_warm;

    let mut chaos = Chaos::default();
    let mut invalid = HashSet::new();
    let mut down: Option<usize> = None;
    let mut holed: Option<(usize, Instant)> = None;
    let started = Instant::now();
    let deadline = started + duration;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200 + rng.below(300))).await;
        rss_max = rss_max.max(rss_bytes());
        if let Some((i, until)) = holed {
            if Instant::now() >= until {
                proxies[i].pass();
                holed = None;
            }
        }
        match rng.below(10) {
            0 => match down.take() {
                Some(i) => cluster.restart_member(i).await?,
                None => {
                    let i = rng.below(3) as usize;
                    cluster.stop_member(i)?;
                    chaos.kills += 1;
                    down = Some(i);
                }
            },
            1 if holed.is_none() => {
                let i = rng.below(3) as usize;
                proxies[i].blackhole();
                chaos.blackholes += 1;
                holed = Some((
                    i,
                    Instant::now() + Duration::from_millis(1000 + rng.below(3000)),
                ));
            }
            2 => {
                proxies[rng.below(3) as usize].cut();
                chaos.cuts += 1;
            }
            3 => {
                // A malformed value straight into the key: must never be applied.
                if let Ok(r) = raw
                    .put(KEY, r#"{"directives":[{"id":"x","tenant":null}]}"#, None)
                    .await
                {
                    if let Some(h) = r.header() {
                        invalid.insert(h.revision());
                        chaos.invalid_puts += 1;
                    }
                }
            }
            _ => {
                counter += 1;
                match publisher.publish(doc(counter).as_bytes(), None).await {
                    Ok(_) => chaos.publishes += 1,
                    Err(_) => chaos.publish_failures += 1,
                }
            }
        }
    }

    // Heal everything, publish once more, and wait for every store.
    if let Some(i) = down.take() {
        cluster.restart_member(i).await?;
    }
    for p in &proxies {
        p.pass();
    }
    let heal = Instant::now();
    let final_rev = loop {
        counter += 1;
        match publisher.publish(doc(counter).as_bytes(), None).await {
            Ok(p) => break p.revision,
            Err(e) if heal.elapsed() > Duration::from_secs(30) => bail!("final publish: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let converge_deadline = Instant::now() + Duration::from_secs(60);
    for (i, store) in stores.iter().enumerate() {
        let mut rx = store.subscribe();
        let left = converge_deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, rx.wait_for(|s| s.revision == final_rev))
            .await
            .with_context(|| format!("store {i} not on the final revision {final_rev}"))?
            .with_context(|| format!("store {i} stopped"))?;
    }
    let converged = heal.elapsed();
    // Let the last events reach the logs.
    let quiet = Instant::now() + Duration::from_millis(500);
    while Instant::now() < quiet {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss_end = rss_bytes();
    rss_max = rss_max.max(rss_end);

    let (mut applied, mut rejected, mut lagged, mut reconnects) = (0usize, 0usize, 0u64, 0u64);
    for (i, log) in logs.iter().enumerate() {
        let log = log.lock().unwrap_or_else(PoisonError::into_inner);
        ensure!(
            log.applied.windows(2).all(|w| w[0] < w[1]),
            "store {i} went back in revision: {:?}",
            log.applied
        );
        ensure!(
            !log.applied.iter().any(|r| invalid.contains(r)),
            "store {i} applied an invalid revision"
        );
        ensure!(
            log.applied.last() == Some(&final_rev),
            "store {i} log ends before {final_rev}"
        );
        applied += log.applied.len();
        rejected += log.rejected;
        lagged += log.lagged;
        reconnects += stores[i].status().reconnects;
    }
    let growth = rss_end.saturating_sub(rss_warm);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "soak: {:.0} s, {STORES} stores, 3 members, seed {seed}\n\
         chaos: {} publishes ({} failed), {} invalid puts, {} member kills, {} blackholes, {} cuts\n\
         stores: {applied} applied events, {rejected} rejections, {reconnects} reconnects, {lagged} lagged events\n\
         final revision {final_rev}: all {STORES} stores on it {converged:?} after heal\n\
         rss: warm {:.1} MiB, end {:.1} MiB, max {:.1} MiB, growth {:.1} MiB (bound {:.0} MiB)",
        duration.as_secs_f64(),
        chaos.publishes,
        chaos.publish_failures,
        chaos.invalid_puts,
        chaos.kills,
        chaos.blackholes,
        chaos.cuts,
        mib(rss_warm),
        mib(rss_end),
        mib(rss_max),
        mib(growth),
        mib(RSS_GROWTH_BOUND),
    );
    ensure!(
        growth <= RSS_GROWTH_BOUND,
        "RSS grew by {:.1} MiB",
        mib(growth)
    );
    ensure!(chaos.publishes > 0, "nothing was published");
    for store in &stores {
        store.shutdown().await;
    }
    println!("soak: 1 passed, 0 failed");
    Ok(())
}
