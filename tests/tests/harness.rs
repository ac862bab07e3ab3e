//! Self-tests for the real-etcd harness and the fault proxy.
//!
//! These run against Debian's real `etcd`; every test is bounded by a timeout
//! so a hang fails instead of blocking CI.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context as _};
use directive_tests::etcd_client::{Client, ConnectOptions, GetOptions, WatchOptions};
use directive_tests::{EtcdCluster, EtcdOptions, FaultProxy, ProxyMode, TlsMaterial};

/// Upper bound for any single test.
const TEST_BOUND: Duration = Duration::from_secs(45);

async fn bounded<T>(fut: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::time::timeout(TEST_BOUND, fut)
        .await
        .map_err(|_| anyhow!("test exceeded {TEST_BOUND:?}"))?
}

/// Retries `op` every 100 ms until it succeeds or `within` passes.
async fn retry<T, F, Fut>(what: &str, within: Duration, mut op: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!("{what}: still failing after {within:?}")))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn get_value(client: &mut Client, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let resp = client.get(key, None).await?;
    Ok(resp.kvs().first().map(|kv| kv.value().to_vec()))
}

fn process_gone(pid: u32) -> bool {
    // A reaped process has no /proc entry; a zombie still has one.
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn single_member_round_trips_and_cleans_up() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let endpoints = cluster.endpoints();
        ensure!(endpoints.len() == 1, "endpoints: {endpoints:?}");
        ensure!(
            endpoints[0].starts_with("http://127.0.0.1:"),
            "endpoint: {}",
            endpoints[0]
        );
        ensure!(endpoints[0] == cluster.member_endpoint(0));

        let mut client = cluster.client().await?;
        client.put("/directive/k", "v1", None).await?;
        ensure!(get_value(&mut client, "/directive/k").await? == Some(b"v1".to_vec()));

        let pid = cluster.member(0).pid().context("member 0 has no pid")?;
        let log = cluster.member(0).log_path().to_path_buf();
        ensure!(log.is_file(), "etcd log {} missing", log.display());
        let dir = cluster.dir().to_path_buf();
        drop(client);
        drop(cluster);
        ensure!(process_gone(pid), "etcd pid {pid} still present after drop");
        ensure!(!dir.exists(), "temp dir {} not removed", dir.display());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn three_members_survive_member_loss_and_restart_catches_up() -> anyhow::Result<()> {
    bounded(async {
        let mut cluster = EtcdCluster::start(3).await?;
        ensure!(cluster.endpoints().len() == 3);
        let mut all = cluster.client().await?;
        all.put("/directive/before", "1", None).await?;

        // Kill the leader: the worst case for the survivors.
        let victim = cluster.leader().await?;
        let pid = cluster.member(victim).pid().context("leader has no pid")?;
        cluster.stop_member(victim)?;
        ensure!(process_gone(pid), "killed member still present");
        let remaining = cluster.running_endpoints();
        ensure!(remaining.len() == 2, "running: {remaining:?}");
        ensure!(!remaining.contains(&cluster.member_endpoint(victim)));
        let new_leader = cluster.leader().await?;
        ensure!(new_leader != victim, "stopped member still leader");

        // Writes go on through the two survivors. A proposal that was in
        // flight to the dead leader hangs until the request timeout, so each
        // attempt gets a short bound and is retried.
        let survivors = cluster.client_for(&remaining).await?;
        for i in 0..10 {
            retry(
                "put while the old leader is down",
                Duration::from_secs(10),
                || {
                    let mut c = survivors.clone();
                    async move {
                        let put = c.put(format!("/directive/during/{i}"), i.to_string(), None);
                        tokio::time::timeout(Duration::from_secs(1), put)
                            .await
                            .map_err(|_| anyhow!("put timed out"))??;
                        Ok(())
                    }
                },
            )
            .await?;
        }

        cluster.restart_member(victim).await?;
        ensure!(cluster.member(victim).pid().is_some_and(|p| p != pid));
        ensure!(cluster.running_endpoints().len() == 3);
        // A serializable read answers from the restarted member's own store,
        // so it shows what that member has caught up on.
        let mut m0 = cluster
            .client_for(&[cluster.member_endpoint(victim)])
            .await?;
        let resp = m0
            .get(
                "/directive/during/",
                Some(GetOptions::new().with_prefix().with_serializable()),
            )
            .await?;
        ensure!(
            resp.kvs().len() == 10,
            "restarted member sees {} of 10 keys",
            resp.kvs().len()
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn compaction_is_reported_to_a_watch_from_an_old_revision() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let mut client = cluster.client().await?;
        let mut revs = Vec::new();
        for v in ["a", "b", "c"] {
            let resp = client.put("/directive/compacted", v, None).await?;
            revs.push(resp.header().context("put without header")?.revision());
        }
        let (first, last) = (revs[0], revs[2]);
        cluster.compact(last).await?;

        let mut stream = client
            .watch(
                "/directive/compacted",
                Some(WatchOptions::new().with_start_revision(first)),
            )
            .await?;
        let compact_revision = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match stream.message().await? {
                    Some(resp) if resp.compact_revision() != 0 => {
                        ensure!(resp.canceled(), "compacted watch not canceled");
                        return Ok(resp.compact_revision());
                    }
                    Some(resp) if resp.canceled() => {
                        bail!(
                            "watch canceled without compact_revision: {}",
                            resp.cancel_reason()
                        )
                    }
                    Some(_) => continue,
                    None => bail!("watch stream ended without a compaction report"),
                }
            }
        })
        .await
        .map_err(|_| anyhow!("no compaction report within 5 s"))??;
        ensure!(
            compact_revision == last,
            "compact_revision {compact_revision}, want {last}"
        );
        Ok(())
    })
    .await
}

/// Options for a client that must notice a silent connection quickly.
fn impatient() -> ConnectOptions {
    ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(1))
        .with_timeout(Duration::from_secs(1))
}

#[tokio::test]
async fn fault_proxy_passes_blackholes_and_passes_again() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        cluster
            .client()
            .await?
            .put("/directive/p", "through-proxy", None)
            .await?;
        let proxy = FaultProxy::for_endpoint(&cluster.member_endpoint(0)).await?;
        ensure!(proxy.endpoint() == format!("http://{}", proxy.addr()));
        ensure!(proxy.mode() == ProxyMode::Pass);

        let mut client = Client::connect([proxy.endpoint()], Some(impatient())).await?;
        ensure!(get_value(&mut client, "/directive/p").await? == Some(b"through-proxy".to_vec()));
        let accepted = proxy.connections_accepted();
        ensure!(accepted >= 1, "proxy accepted no connection");

        proxy.blackhole();
        let started = Instant::now();
        let outcome =
            tokio::time::timeout(Duration::from_secs(2), client.get("/directive/p", None)).await;
        ensure!(
            !matches!(outcome, Ok(Ok(_))),
            "get succeeded through a blackholed proxy"
        );
        ensure!(started.elapsed() < Duration::from_secs(3));
        // Held, not closed: the connection is still counted as open.
        ensure!(
            proxy.active_connections() >= 1,
            "blackhole closed the connection"
        );

        proxy.pass();
        let mut fresh = Client::connect([proxy.endpoint()], Some(impatient())).await?;
        ensure!(get_value(&mut fresh, "/directive/p").await? == Some(b"through-proxy".to_vec()));
        ensure!(
            proxy.connections_accepted() > accepted,
            "the new client did not open a new connection"
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn fault_proxy_cut_drops_connections() -> anyhow::Result<()> {
    bounded(async {
        let cluster = EtcdCluster::start(1).await?;
        let proxy = FaultProxy::for_endpoint(&cluster.member_endpoint(0)).await?;
        let mut client = Client::connect([proxy.endpoint()], Some(impatient())).await?;
        let mut watch = client.watch("/directive/w", None).await?;
        let created = tokio::time::timeout(Duration::from_secs(5), watch.message())
            .await
            .map_err(|_| anyhow!("no watch created response"))??
            .context("watch ended early")?;
        ensure!(created.created());
        ensure!(proxy.active_connections() >= 1);
        let accepted = proxy.connections_accepted();

        proxy.cut();
        let after_cut = tokio::time::timeout(Duration::from_secs(5), watch.message())
            .await
            .map_err(|_| anyhow!("watch did not notice the cut within 5 s"))?;
        ensure!(
            !matches!(after_cut, Ok(Some(_))),
            "watch still delivered a message after cut: {after_cut:?}"
        );

        // The client reconnects through the proxy (still in pass mode).
        retry("get after cut", Duration::from_secs(5), || {
            let mut c = client.clone();
            async move {
                c.put("/directive/w", "x", None)
                    .await
                    .map_err(anyhow::Error::from)
            }
        })
        .await?;
        ensure!(
            proxy.connections_accepted() > accepted,
            "no reconnection through the proxy"
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn tls_and_auth_accept_right_password_and_reject_wrong_one() -> anyhow::Result<()> {
    bounded(async {
        let tls = TlsMaterial::generate()?;
        let options = EtcdOptions {
            tls: Some(tls.clone()),
            auth: Some(("directive".to_owned(), "s3cret".to_owned())),
            ..EtcdOptions::default()
        };
        let cluster = EtcdCluster::start_with(1, options).await?;
        let endpoint = cluster.member_endpoint(0);
        ensure!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
        let paths = cluster.tls_paths().context("no TLS paths")?;
        for p in [&paths.ca_cert, &paths.client_cert, &paths.client_key] {
            ensure!(p.is_file(), "{} missing", p.display());
        }

        // Right password, CA and client certificate.
        let mut good = Client::connect(
            [endpoint.as_str()],
            Some(
                impatient()
                    .with_tls(tls.client_tls_options())
                    .with_user("directive", "s3cret"),
            ),
        )
        .await?;
        good.put("/directive/secure", "ok", None).await?;
        ensure!(get_value(&mut good, "/directive/secure").await? == Some(b"ok".to_vec()));
        // The harness's own client is authenticated too.
        let mut harness = cluster.client().await?;
        ensure!(get_value(&mut harness, "/directive/secure").await? == Some(b"ok".to_vec()));

        // Wrong password: authentication fails at connect.
        let wrong = Client::connect(
            [endpoint.as_str()],
            Some(
                impatient()
                    .with_tls(tls.client_tls_options())
                    .with_user("directive", "wrong"),
            ),
        )
        .await;
        let err = match wrong {
            Ok(_) => bail!("wrong password was accepted"),
            Err(e) => e.to_string(),
        };
        ensure!(
            err.contains("authentication failed"),
            "unexpected error for wrong password: {err}"
        );

        // No credentials: the client certificate alone grants nothing.
        let mut anonymous = Client::connect(
            [endpoint.as_str()],
            Some(impatient().with_tls(tls.client_tls_options())),
        )
        .await?;
        let anon = anonymous.get("/directive/secure", None).await;
        match anon {
            Ok(_) => bail!("unauthenticated read succeeded"),
            Err(e) => ensure!(
                e.to_string().contains("permission denied"),
                "unexpected error for unauthenticated read: {e}"
            ),
        }

        // No client certificate: the TLS handshake is rejected.
        let no_cert = Client::connect(
            [endpoint.as_str()],
            Some(
                impatient()
                    .with_tls(tls.ca_only_tls_options())
                    .with_user("directive", "s3cret"),
            ),
        )
        .await;
        ensure!(no_cert.is_err(), "client without certificate was accepted");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn failed_start_reports_the_etcd_log_tail() -> anyhow::Result<()> {
    bounded(async {
        // etcd refuses an election timeout below 5x the heartbeat and exits.
        let options = EtcdOptions {
            heartbeat_interval_ms: 500,
            election_timeout_ms: 100,
            ..EtcdOptions::default()
        };
        let started = Instant::now();
        let err = match EtcdCluster::start_with(1, options).await {
            Ok(_) => bail!("etcd started with an invalid election timeout"),
            Err(e) => format!("{e:#}"),
        };
        ensure!(err.contains("exited before it served"), "{err}");
        ensure!(err.contains("election-timeout"), "log tail missing: {err}");
        ensure!(started.elapsed() < Duration::from_secs(10));
        Ok(())
    })
    .await
}
