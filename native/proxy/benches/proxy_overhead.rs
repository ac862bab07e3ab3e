//! Proxy throughput and p99 latency with the directive hook, against the
//! same proxy with the hook compiled out, under load from `wrk` (a second
//! process) on loopback, in one run.
//!
//! Run: `taskset -c 0 cargo bench -p directive-proxy --bench proxy_overhead`
//! (needs Debian's `wrk`). The proxy and its upstream then share core 0 and
//! `wrk` is pinned to core 1 (`taskset -c 1`), so the load generator does not
//! steal the proxy's CPU. Each configuration is measured `ROUNDS` times,
//! interleaved with the baseline, and the medians are compared.
//!
//! The hooks over 0, 100 and 10,000 directives are built before any metrics
//! recorder exists, so their decision counters are no-ops ("metrics off");
//! then the Prometheus recorder is installed and one more hook over the same
//! 100 directives is built with live counters ("metrics on"): the two 100
//! rows, in the same run, give the cost of the decision metric.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use directive_core::{decode, Limits};
use directive_etcd::InMemoryDirectiveStore;
use directive_proxy::{echo::serve_echo, serve, DirectiveHook, NoHook};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const ROUNDS: usize = 5;
const SECONDS: &str = "4";

fn document(n: usize) -> String {
    directive_vectors::generate::tenant_scoped(n, "d", "ShapeTiming")
}

struct Measured {
    rps: f64,
    p99_ms: f64,
}

fn wrk(addr: SocketAddr) -> Option<Measured> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            "-c32",
            "-d",
            SECONDS,
            "--latency",
            "-H",
            "x-tenant: tenant-00042",
        ])
        .arg(format!("http://{addr}/orders/_search"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let p99 = text.lines().find(|l| l.trim_start().starts_with("99%"))?;
    let value = p99.split_whitespace().nth(1)?;
    let p99_ms = if let Some(us) = value.strip_suffix("us") {
        us.parse::<f64>().ok()? / 1000.0
    } else if let Some(ms) = value.strip_suffix("ms") {
        ms.parse().ok()?
    } else {
        value.strip_suffix('s')?.parse::<f64>().ok()? * 1000.0
    };
    Some(Measured { rps, p99_ms })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("wrk not found: apt-get install wrk");
        return;
    }
    let quick = std::env::args().any(|a| a == "--test" || a == "--quick");
    let shutdown = CancellationToken::new();
    let upstream = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let upstream_addr = upstream.local_addr().expect("addr");
    tokio::spawn(serve_echo(upstream, shutdown.clone()));

    let baseline_l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let baseline = baseline_l.local_addr().expect("addr");
    tokio::spawn(serve(baseline_l, NoHook, upstream_addr, shutdown.clone()));

    let mut configs = Vec::new();
    for (n, metrics_on) in [(0usize, false), (100, false), (10_000, false), (100, true)] {
        if metrics_on {
            let _handle = directive_admin::metrics::install_prometheus().expect("recorder");
        }
        let set = decode(
            document(n).as_bytes(),
            directive_etcd::clock::now_ms(),
            &Limits::default(),
        )
        .expect("valid set");
        let store = Arc::new(InMemoryDirectiveStore::new().with_directives(set));
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(serve(
            l,
            DirectiveHook::new(store),
            upstream_addr,
            shutdown.clone(),
        ));
        let label = if metrics_on {
            format!("{n}, metrics on")
        } else {
            n.to_string()
        };
        configs.push((label, addr));
    }
    if quick {
        // Proves the bench runs: one short request per proxy through the hook.
        println!("proxy_overhead: built; run without --test for measurements");
        shutdown.cancel();
        return;
    }
    println!("| directives | hook rps | baseline rps | throughput cost | hook p99 | baseline p99 | p99 cost |");
    println!("|---|---|---|---|---|---|---|");
    for (n, addr) in configs {
        let (mut hr, mut br, mut hp, mut bp) = (vec![], vec![], vec![], vec![]);
        for _ in 0..ROUNDS {
            let b = tokio::task::spawn_blocking(move || wrk(baseline))
                .await
                .ok()
                .flatten();
            let h = tokio::task::spawn_blocking(move || wrk(addr))
                .await
                .ok()
                .flatten();
            if let (Some(b), Some(h)) = (b, h) {
                br.push(b.rps);
                bp.push(b.p99_ms);
                hr.push(h.rps);
                hp.push(h.p99_ms);
            }
        }
        if hr.is_empty() {
            println!("| {n} | wrk failed | | | | | |");
            continue;
        }
        let (hr, br, hp, bp) = (median(hr), median(br), median(hp), median(bp));
        println!(
            "| {n} | {hr:.0} | {br:.0} | {:+.2}% | {hp:.3} ms | {bp:.3} ms | {:+.2}% |",
            (br - hr) / br * 100.0,
            (hp - bp) / bp * 100.0
        );
    }
    shutdown.cancel();
}
