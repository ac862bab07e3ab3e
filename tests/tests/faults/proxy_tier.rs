//! The store through a real `etcd grpc-proxy` (issue 17): the tier large
//! fleets put between their instances and etcd. etcd 3.4's proxy does not
//! answer a watch's progress requests, so a silent watch is checked with a
//! keys-only read instead (ADR 0016): a quiet period longer than the
//! progress interval and both deadlines costs no reconnect, and the reads
//! are seen arriving at etcd. Then every fault the tier adds: publish and
//! delete through it, the proxy down while the key is written, deleted and
//! compacted, the proxy restarted, etcd restarted behind it, the proxy
//! frozen (a silent partition, caught by the transport's keep-alive), and
//! instance reports written through it.

use super::*;
use directive_tests::GrpcProxy;

/// etcd's count of Range requests handled, from its own `/metrics`.
async fn ranges_handled(client_url: &str) -> anyhow::Result<f64> {
    directive_tests::metric_sum(client_url, |l| {
        l.starts_with("grpc_server_handled_total{")
            && l.contains("grpc_method=\"Range\"")
            && l.contains("grpc_code=\"OK\"")
    })
    .await
}

/// Sends a signal to a process (`STOP` freezes it: its sockets stay open
/// and silent; `CONT` thaws it).
fn signal(pid: u32, sig: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()?;
    ensure!(status.success(), "kill -{sig} {pid}: {status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_keeps_its_guarantees_through_an_etcd_grpc_proxy() -> anyhow::Result<()> {
    bounded(async {
        let mut cluster = EtcdCluster::start(1).await?;
        let etcd_url = cluster.member_endpoint(0);
        let mut proxy = GrpcProxy::start(&cluster.endpoints()).await?;
        let mut client = cluster.client().await?;
        let r1 = put(&mut client, doc(&["a"], 600)).await?;

        // Deadlines of 2 s: a read through the proxy on a loaded machine
        // must not look like a stall.
        let options = opts([proxy.endpoint()])
            .with_progress(Duration::from_secs(2), Duration::from_secs(2))
            .with_instance("through-proxy", [])
            .with_report_timing(Duration::from_millis(50), Duration::from_secs(2));
        let config = *options.reducer_config();
        let store = EtcdDirectiveStore::connect(options).await?;
        ensure!(store.load().revision == r1);

        // Quiet for longer than a progress interval and both deadlines,
        // twice over: the proxy leaves the progress requests unanswered,
        // the reads beside the watch vouch for it, nothing reconnects.
        let quiet = 2 * (config.progress_interval_ms + 2 * config.progress_deadline_ms) + 500;
        let ranges_before = ranges_handled(&etcd_url).await?;
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(quiet) {
            ensure!(
                store.status().state == State::Live,
                "went {:?} while quiet: {:?}",
                store.status().state,
                store.status().last_error
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let status = store.status();
        ensure!(
            status.reconnects == 0,
            "{} reconnect(s) while quiet through the proxy: {:?}",
            status.reconnects,
            status.last_error
        );
        let probes = ranges_handled(&etcd_url).await? - ranges_before;
        ensure!(
            probes >= 2.0,
            "the silences were not checked with reads ({probes})"
        );

        // Publish and delete through the proxy.
        let r2 = put(&mut client, doc(&["a", "b"], 600)).await?;
        eventually("the put arrives through the proxy", CONVERGE, || {
            store.load().revision == r2 && ids_of(&store) == ["a", "b"]
        })
        .await?;
        let deleted = client.delete(KEY, None).await?;
        let r3 = deleted.header().context("header")?.revision();
        eventually("the delete arrives through the proxy", CONVERGE, || {
            store.load().revision == r3 && store.load().set.is_empty()
        })
        .await?;

        // Instance reports go through the proxy too (lease and puts).
        let publisher = Publisher::connect(opts(cluster.endpoints())).await?;
        let mut reported = false;
        let deadline = Instant::now() + CONVERGE;
        while !reported && Instant::now() < deadline {
            let fleet = publisher.fleet().await?;
            reported = fleet.rollout(r3).applied == 1;
            if !reported {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        ensure!(
            reported,
            "the instance's report did not say it applied r{r3}"
        );

        // The proxy down while the key is written, deleted, written again
        // and compacted: resumed after a re-read, nothing skipped back.
        proxy.stop();
        eventually("stale without the proxy", CONVERGE, || {
            matches!(store.status().state, State::Stale { .. })
        })
        .await?;
        put(&mut client, doc(&["c"], 600)).await?;
        client.delete(KEY, None).await?;
        let r4 = put(&mut client, doc(&["d"], 600)).await?;
        client.put("other/key", "x", None).await?;
        cluster.compact(r4 + 1).await?;
        proxy.restart().await?;
        eventually("converged after the proxy's restart", CONVERGE, || {
            store.status().state == State::Live && ids_of(&store) == ["d"]
        })
        .await?;
        ensure!(store.load().revision >= r4);

        // etcd restarted behind the proxy.
        cluster.stop_member(0)?;
        cluster.restart_member(0).await?;
        let mut client = cluster.client().await?;
        let r5 = put(&mut client, doc(&["e"], 600)).await?;
        eventually("converged after etcd's restart", CONVERGE, || {
            store.status().state == State::Live && store.load().revision == r5
        })
        .await?;

        // The proxy frozen: its connections stay open and silent. The
        // keep-alive (1 s + 1 s here) catches it well inside the stall
        // deadlines; thawed, the store converges.
        let pid = proxy.pid().context("the proxy runs")?;
        signal(pid, "STOP")?;
        let frozen = Instant::now();
        let caught = eventually("a frozen proxy is noticed", CONVERGE, || {
            matches!(store.status().state, State::Stale { .. })
        })
        .await;
        signal(pid, "CONT")?;
        caught?;
        let bound = Duration::from_millis(config.recovery_bound_ms());
        ensure!(
            frozen.elapsed() < bound,
            "a frozen proxy took {:?} to notice",
            frozen.elapsed()
        );
        let r6 = put(&mut client, doc(&["f"], 600)).await?;
        eventually("converged after the thaw", CONVERGE, || {
            store.status().state == State::Live && store.load().revision == r6
        })
        .await?;
        store.shutdown().await;
        Ok(())
    })
    .await
}
