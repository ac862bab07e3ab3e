//! Fault-matrix rows that `store.rs` does not already prove (issue 7;
//! `docs/fault-matrix.md` maps every row to its test).
//!
//! Each test injects one fault against a real etcd (the harness in
//! `tests/src/`) and checks the claim the matrix makes for it: the fleet keeps
//! its last good set, never applies an invalid one, and converges once the
//! fault is gone. Every test is bounded; waits poll with deadlines.

use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context as _};
use directive_admin::{self as admin, AdminApp, AdminConfig, AdminToken, Backend, ListenOptions};
use directive_core::State;
use directive_etcd::{
    DirectiveStore, EtcdDirectiveStore, Publisher, StoreError, StoreEvent, StoreOptions,
};
use directive_tests::etcd_client::{Client, ConnectOptions};
use directive_tests::{EtcdCluster, EtcdOptions, FaultProxy};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

mod common;
#[path = "faults/proxy_tier.rs"]
mod proxy_tier;

use common::*;

fn ids_of(store: &EtcdDirectiveStore) -> Vec<String> {
    ids(&store.load())
}

/// Every state the store reported on its event channel so far.
fn drain_states(events: &mut tokio::sync::broadcast::Receiver<StoreEvent>) -> Vec<&'static str> {
    let mut states = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let StoreEvent::Status { state, .. } = ev {
            states.push(state);
        }
    }
    states
}

#[tokio::test]
async fn whole_cluster_down_at_startup_fails_fast_then_connects() -> anyhow::Result<()> {
    bounded(async {
        let mut cluster = EtcdCluster::start(1).await?;
        let mut client = cluster.client().await?;
        let r = put(&mut client, doc(&["boot"], 600)).await?;
        drop(client);
        cluster.stop_member(0)?;

        // Connect to a cluster that is entirely down: an error with a cause,
        // within the connect timeout (3 s), for the store and the publisher.
        let started = Instant::now();
        let err = EtcdDirectiveStore::connect(opts(cluster.endpoints()))
            .await
            .err()
            .context("connect to a dead cluster must fail")?;
        ensure!(
            matches!(err, StoreError::Connect { .. } | StoreError::Timeout { .. }),
            "error: {err}"
        );
        ensure!(started.elapsed() < Duration::from_secs(5), "not fast");
        let started = Instant::now();
        ensure!(Publisher::connect(opts(cluster.endpoints())).await.is_err());
        ensure!(
            started.elapsed() < Duration::from_secs(5),
            "publisher not fast"
        );

        // The cluster comes back: a new connect reads the published set.
        cluster.restart_member(0).await?;
        let deadline = Instant::now() + CONVERGE;
        let store = loop {
            match EtcdDirectiveStore::connect(opts(cluster.endpoints())).await {
                Ok(s) => break s,
                Err(e) if Instant::now() >= deadline => return Err(e.into()),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        ensure!(store.load().revision == r && ids_of(&store) == ["boot"]);
        ensure!(store.status().state == State::Live);
        store.shutdown().await;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn whole_cluster_down_while_running_keeps_last_good() -> anyhow::Result<()> {
    bounded(async {
        let mut cluster = EtcdCluster::start(1).await?;
        let mut client = cluster.client().await?;
        let r1 = put(&mut client, doc(&["kept"], 600)).await?;
        let store = EtcdDirectiveStore::connect(opts(cluster.endpoints())).await?;
        let mut events = store.events();
        ensure!(store.load().revision == r1);

        cluster.stop_member(0)?;
        eventually("stale while the cluster is down", CONVERGE, || {
            matches!(store.status().state, State::Stale { .. })
        })
        .await?;
        // The whole outage: the last good set stays loadable and unchanged.
        ensure!(store.load().revision == r1 && ids_of(&store) == ["kept"]);
        ensure!(store.is_running(), "the task keeps retrying");

        cluster.restart_member(0).await?;
        let mut client = cluster.client().await?;
        let r2 = put(&mut client, doc(&["after"], 600)).await?;
        eventually("converged after the cluster returned", CONVERGE, || {
            store.load().revision == r2 && store.status().state == State::Live
        })
        .await?;
        ensure!(ids_of(&store) == ["after"]);
        let states = drain_states(&mut events);
        ensure!(states.contains(&"stale"), "states: {states:?}");
        store.shutdown().await;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn refused_connections_never_grow_the_backoff_so_a_long_outage_recovers_in_one_step(
) -> anyhow::Result<()> {
    bounded(async {
        let mut cluster = EtcdCluster::start(1).await?;
        let mut client = cluster.client().await?;
        put(&mut client, doc(&["kept"], 600)).await?;
        // No fast-retry window: any failure that is not a refused
        // connection would grow the delay at once (200, 400, ... 5,000 ms).
        let options = opts(cluster.endpoints()).with_backoff(directive_core::Backoff {
            initial_ms: 200,
            max_ms: 5_000,
            full_jitter: true,
        });
        let config = directive_core::ReducerConfig {
            fast_retry_ms: 0,
            ..*options.reducer_config()
        };
        let store = EtcdDirectiveStore::connect(options.with_reducer_config(config)).await?;

        cluster.stop_member(0)?;
        eventually("stale while etcd is down", CONVERGE, || {
            matches!(store.status().state, State::Stale { .. })
        })
        .await?;
        let before = store.status().reconnects;
        // The outage is the condition under test: 6 s of refused connects.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let attempts = store.status().reconnects - before;
        ensure!(
            attempts >= 15,
            "only {attempts} attempts in 6 s: refused connects grew the backoff ({:?})",
            store.status().last_error
        );
        cluster.restart_member(0).await?;
        let mut client = cluster.client().await?;
        let r2 = put(&mut client, doc(&["after"], 600)).await?;
        let written = Instant::now();
        eventually("converged after the outage", CONVERGE, || {
            store.load().revision == r2 && store.status().state == State::Live
        })
        .await?;
        // One first-step delay (at most 200 ms) plus the reconnect itself,
        // with room for a loaded machine; a grown delay would be 5 s.
        ensure!(
            written.elapsed() < Duration::from_millis(3_000),
            "recovered {:?} after the write",
            written.elapsed()
        );
        store.shutdown().await;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_store_started_while_nothing_listens_keeps_retrying_at_the_first_step(
) -> anyhow::Result<()> {
    bounded(async {
        // Nothing listens on this port: every attempt is refused while the
        // client is being built (the path `start` takes).
        let port = directive_tests::free_port()?;
        let options =
            opts([format!("http://127.0.0.1:{port}")]).with_backoff(directive_core::Backoff {
                initial_ms: 200,
                max_ms: 5_000,
                full_jitter: true,
            });
        let config = directive_core::ReducerConfig {
            fast_retry_ms: 0,
            ..*options.reducer_config()
        };
        let store = EtcdDirectiveStore::start(options.with_reducer_config(config))?;
        // The condition under test: 4 s of refused connects.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let attempts = store.status().reconnects;
        ensure!(
            attempts >= 10,
            "only {attempts} attempts in 4 s: refused connects grew the backoff ({:?})",
            store.status().last_error
        );
        store.shutdown().await;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn slow_etcd_stays_live_and_too_slow_goes_stale_then_converges() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let proxy = FaultProxy::for_endpoint(&cluster.member_endpoint(0)).await?;
        let mut client = cluster.client().await?;
        put(&mut client, doc(&["s0"], 600)).await?;
        let store = EtcdDirectiveStore::connect(opts([proxy.endpoint()])).await?;
        let mut events = store.events();

        // Slow but within the deadlines (150 ms per chunk each way, 1 s
        // keep-alive and progress deadlines): updates arrive, no false stale.
        proxy.delay(Duration::from_millis(150));
        for i in 1..=3 {
            let r = put(&mut client, doc(&[&format!("s{i}")], 600)).await?;
            eventually("update through a slow link", CONVERGE, || {
                store.load().revision == r
            })
            .await?;
        }
        // Long enough for several progress and keep-alive rounds.
        let quiet_until = Instant::now() + Duration::from_secs(3);
        eventually(
            "quiet period on the slow link",
            Duration::from_secs(5),
            || Instant::now() >= quiet_until,
        )
        .await?;
        let states = drain_states(&mut events);
        ensure!(
            !states.contains(&"stale"),
            "slow link went stale: {states:?}"
        );
        ensure!(store.status().state == State::Live);

        // Slower than every deadline: detected as a stall, last good kept.
        proxy.delay(Duration::from_secs(6));
        eventually(
            "stale on a link slower than the deadlines",
            CONVERGE,
            || matches!(store.status().state, State::Stale { .. }),
        )
        .await?;
        let during = put(&mut client, doc(&["during"], 600)).await?;
        ensure!(ids_of(&store) == ["s3"], "last good kept while stale");
        proxy.pass();
        eventually(
            "converged once the link is fast again",
            Duration::from_secs(30),
            || store.load().revision == during && store.status().state == State::Live,
        )
        .await?;
        store.shutdown().await;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn auth_token_invalidated_is_refreshed() -> anyhow::Result<()> {
    bounded(async {
        let (user, password) = ("fleet", "fleet-password");
        let cluster = EtcdCluster::start_with(
            1,
            EtcdOptions {
                auth: Some((user.to_owned(), password.to_owned())),
                ..EtcdOptions::default()
            },
        )
        .await?;
        let proxy = FaultProxy::for_endpoint(&cluster.member_endpoint(0)).await?;
        let mut client = cluster.client().await?;
        put(&mut client, doc(&["t0"], 600)).await?;
        let store_opts = opts([proxy.endpoint()]).with_auth(user, password);
        let store = EtcdDirectiveStore::connect(store_opts).await?;
        let publisher =
            Publisher::connect(opts(cluster.endpoints()).with_auth(user, password)).await?;
        ensure!(ids_of(&store) == ["t0"]);

        // Invalidate every issued token: etcd's simple tokens are dropped
        // when auth is disabled, so re-enabling leaves old tokens expired.
        let mut root = Client::connect(
            cluster.endpoints(),
            Some(ConnectOptions::new().with_user("root", password)),
        )
        .await?;
        root.auth_disable().await?;
        // Auth is off now: a plain client turns it back on.
        let mut plain = Client::connect(cluster.endpoints(), None).await?;
        plain.auth_enable().await?;
        // The fault is real: a client holding an old token (no refresh) is refused.
        let stale = client.get(KEY, None).await;
        ensure!(
            stale
                .as_ref()
                .err()
                .is_some_and(|e| e.to_string().contains("invalid auth token")),
            "old token still accepted: {stale:?}"
        );
        // Force the store onto new requests (re-read and re-watch).
        proxy.cut();
        let published = publisher
            .publish(doc(&["t1"], 600).as_bytes(), None)
            .await?;
        eventually("store converges with a refreshed token", CONVERGE, || {
            store.load().revision == published.revision && store.status().state == State::Live
        })
        .await?;
        ensure!(ids_of(&store) == ["t1"]);
        store.shutdown().await;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn oversized_value_is_rejected_and_last_good_kept() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let mut client = cluster.client().await?;
        let good = put(&mut client, doc(&["good"], 600)).await?;
        let store = EtcdDirectiveStore::connect(opts(cluster.endpoints())).await?;
        let max = directive_core::Limits::default().max_bytes;

        // Exactly at the limit (a valid document padded with whitespace): accepted.
        let mut at_limit = doc(&["edge"], 600);
        at_limit.push_str(&" ".repeat(max - at_limit.len()));
        let r_edge = put(&mut client, at_limit).await?;
        eventually("document of exactly max_bytes applied", CONVERGE, || {
            store.load().revision == r_edge
        })
        .await?;

        // One byte over (etcd itself accepts up to 1.5 MiB): rejected whole.
        let mut over = doc(&["over"], 600);
        over.push_str(&" ".repeat(max + 1 - over.len()));
        let r_over = put(&mut client, over).await?;
        eventually("oversized value rejected", CONVERGE, || {
            store
                .status()
                .last_rejection
                .is_some_and(|r| r.revision == r_over)
        })
        .await?;
        let rejection = store.status().last_rejection.context("rejection")?;
        ensure!(
            rejection.errors.len() == 1 && rejection.errors[0].code.as_str() == "input_too_large",
            "errors: {:?}",
            rejection.errors
        );
        ensure!(store.load().revision == r_edge && ids_of(&store) == ["edge"]);
        ensure!(store.status().state == State::Live);
        ensure!(good < r_edge);
        store.shutdown().await;
        Ok(())
    })
    .await
}

/// Sends a raw HTTP/1.1 request and returns the status code and body.
async fn http(addr: std::net::SocketAddr, request: &str) -> anyhow::Result<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(request.as_bytes()).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("status line")?;
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    Ok((status, body))
}

fn put_request(token: &str, if_match: i64, body: &str) -> String {
    format!(
        "PUT /api/directives HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nIf-Match: \"{if_match}\"\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn admin_server_restarted_mid_publish_never_half_writes() -> anyhow::Result<()> {
    bounded(async {
        let token = "fault-matrix-admin-token-0123456789";
        let cluster = EtcdCluster::start(1).await?;
        let mut client = cluster.client().await?;
        let r0 = put(&mut client, doc(&["before"], 600)).await?;
        let options = StoreOptions::new(cluster.endpoints()).with_key(KEY);
        let app = AdminApp::new(AdminConfig::new(
            AdminToken::new(token).map_err(|e| anyhow!("token: {e}"))?,
        ));
        app.set_backend(Backend::Etcd {
            store: EtcdDirectiveStore::connect(options.clone()).await?,
            publisher: Publisher::connect(options).await?,
        });
        let listen = || ListenOptions {
            addr: ([127, 0, 0, 1], 0).into(),
            tls: None,
            insecure_listen: false,
            limits: directive_admin::ConnectionLimits::default(),
        };
        let server = admin::start(&app, listen()).await?;

        // A publish whose body is half sent when the server goes away.
        let body = doc(&["after"], 600);
        let request = put_request(token, r0, &body);
        let half = request.len() - body.len() / 2;
        let mut conn = tokio::net::TcpStream::connect(server.local_addr()).await?;
        conn.write_all(&request.as_bytes()[..half]).await?;
        server.shutdown().await;
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut rest)).await;
        ensure!(read.is_ok(), "connection not closed by the shutdown");
        ensure!(
            !String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 200"),
            "a half-sent publish was accepted"
        );
        let (_, current) = Publisher::connect(opts(cluster.endpoints()))
            .await?
            .current()
            .await?;
        ensure!(current == r0, "nothing written by the interrupted publish");

        // Restarted: the client retries with the same If-Match and wins ...
        let server = admin::start(&app, listen()).await?;
        let (status, reply) = http(server.local_addr(), &request).await?;
        ensure!(status == 200, "retry: {status} {reply}");
        let written: serde_json::Value = serde_json::from_str(&reply)?;
        let r1 = written["revision"].as_i64().context("revision")?;
        ensure!(r1 > r0);
        // ... and a duplicate retry (its first answer lost) is a conflict,
        // never a blind second write.
        let (status, reply) = http(server.local_addr(), &request).await?;
        ensure!(status == 409, "duplicate retry: {status} {reply}");
        let conflict: serde_json::Value = serde_json::from_str(&reply)?;
        ensure!(conflict["current_revision"].as_i64() == Some(r1));
        server.shutdown().await;
        app.close();
        Ok(())
    })
    .await
}
