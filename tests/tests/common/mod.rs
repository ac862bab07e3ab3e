//! Helpers shared by the real-etcd integration tests (`store.rs`,
//! `faults.rs`): test-tuned store options, bounded waits, small documents.

#![allow(dead_code)] // each test binary uses its own subset

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use directive_core::{Backoff, Snapshot};
use directive_etcd::StoreOptions;
use directive_tests::etcd_client::Client;

pub const KEY: &str = "osproxy/directives";
pub const TEST_BOUND: Duration = Duration::from_secs(90);
pub const CONVERGE: Duration = Duration::from_secs(15);

pub async fn bounded<T>(fut: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::time::timeout(TEST_BOUND, fut)
        .await
        .map_err(|_| anyhow!("test exceeded {TEST_BOUND:?}"))?
}

/// Store options tuned for tests: short timeouts, fast stall detection and backoff.
pub fn opts<S: Into<String>>(endpoints: impl IntoIterator<Item = S>) -> StoreOptions {
    StoreOptions::new(endpoints)
        .with_key(KEY)
        .with_connect_timeout(Duration::from_secs(3))
        .with_request_timeout(Duration::from_secs(3))
        .with_keep_alive(Duration::from_secs(1), Duration::from_secs(1))
        .with_progress(Duration::from_secs(1), Duration::from_secs(1))
        .with_backoff(Backoff {
            initial_ms: 50,
            max_ms: 1_000,
            full_jitter: true,
        })
}

/// A document with these directive ids, each for `ttl` seconds.
pub fn doc(ids: &[&str], ttl: u64) -> String {
    let ds: Vec<String> = ids
        .iter()
        .map(|id| format!(r#"{{"id":"{id}","level":"Shape","ttl_secs":{ttl}}}"#))
        .collect();
    format!(r#"{{"directives":[{}]}}"#, ds.join(","))
}

pub fn ids(snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .set
        .directives()
        .iter()
        .map(|d| d.id.clone())
        .collect()
}

/// Polls `cond` every 10 ms until true or `within` passes.
pub async fn eventually(
    what: &str,
    within: Duration,
    mut cond: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{what}: not true after {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn put(client: &mut Client, value: impl Into<Vec<u8>>) -> anyhow::Result<i64> {
    let resp = client.put(KEY, value, None).await?;
    Ok(resp.header().context("no header")?.revision())
}
