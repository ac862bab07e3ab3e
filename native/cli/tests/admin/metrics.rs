//! `/metrics` (Prometheus text) and `/readyz` against real etcd: parsed
//! with a real Prometheus text parser, values checked to move as they must
//! through publishes, a malformed value, auth failures, a blackhole and
//! its heal.

use std::sync::OnceLock;

use directive_admin::metrics::PrometheusHandle;
use directive_tests::FaultProxy;
use prometheus_parse::{Scrape, Value as Metric};

use super::*;

/// The process-wide recorder (one per test binary; every test here shares
/// it, so assertions compare before and after, or select by `key`).
fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| directive_admin::metrics::install_prometheus().expect("recorder installs"))
        .clone()
}

async fn scrape(url: &str) -> Scrape {
    let response = client()
        .get(format!("{url}/metrics"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.expect("text");
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parses");
    lint(&text);
    scrape
}

/// The naming rules `promtool check metrics` enforces for what we export:
/// counters end in `_total`, every series has HELP and TYPE, base units.
fn lint(text: &str) {
    let mut types = std::collections::HashMap::new();
    let mut helped = std::collections::HashSet::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["#", "TYPE", name, kind] => {
                types.insert((*name).to_owned(), (*kind).to_owned());
            }
            ["#", "HELP", name, ..] => {
                helped.insert((*name).to_owned());
            }
            _ => {}
        }
    }
    for (name, kind) in &types {
        if !name.starts_with("directive_") {
            continue;
        }
        assert!(helped.contains(name), "{name} has no HELP");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{name}: snake_case"
        );
        match kind.as_str() {
            "counter" => assert!(
                name.ends_with("_total"),
                "counter {name} must end in _total"
            ),
            "histogram" => assert!(name.ends_with("_seconds"), "histogram {name} in seconds"),
            "gauge" => assert!(
                !name.ends_with("_total"),
                "gauge {name} must not end in _total"
            ),
            other => panic!("{name}: unexpected type {other}"),
        }
        assert!(
            !name.contains("milliseconds") && !name.ends_with("_ms"),
            "{name}: base units"
        );
    }
}

/// The value of `name` whose labels include all of `labels` (0 if absent).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => *v,
            Metric::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            Metric::Summary(_) => 0.0,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_publishes_rejections_auth_and_a_blackhole() {
    let handle = recorder();
    let cluster = EtcdCluster::start(1).await.expect("etcd starts");
    let key = "admin/metrics";
    let proxy = FaultProxy::for_endpoint(&cluster.endpoints()[0])
        .await
        .expect("fault proxy");
    // The server's store reads through the fault proxy; its publisher goes
    // straight to etcd.
    let store_options = StoreOptions::new(vec![proxy.endpoint()])
        .with_key(key)
        .with_connect_timeout(Duration::from_secs(5));
    let backend = Backend::Etcd {
        store: EtcdDirectiveStore::connect(store_options)
            .await
            .expect("store connects"),
        publisher: Publisher::connect(StoreOptions::new(cluster.endpoints()).with_key(key))
            .await
            .expect("publisher connects"),
    };
    let mut config = config();
    config.metrics = Some(handle);
    let app = AdminApp::new(config);
    app.set_backend(backend);
    let (server, url) = serve(&app).await;
    let k = [("key", key)];

    let before = scrape(&url).await;
    assert_eq!(
        value(
            &before,
            "directive_store_state",
            &[("key", key), ("state", "live")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &before,
            "directive_store_state",
            &[("key", key), ("state", "stale")]
        ),
        0.0
    );
    let publishes = value(
        &before,
        "directive_admin_writes_total",
        &[("op", "publish"), ("result", "ok")],
    );
    let conflicts = value(
        &before,
        "directive_admin_writes_total",
        &[("op", "publish"), ("result", "conflict")],
    );

    // Two publishes: the applied revision follows, two stamped applies
    // through the watch, one decode each.
    let (status, body) = put(&url, &doc("m1", "acme"), Some("0")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r1 = body["revision"].as_i64().expect("revision");
    let (status, body) = put(&url, &doc("m2", "acme"), Some(&r1.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r2 = body["revision"].as_i64().expect("revision");
    let (status, _) = put(&url, &doc("m3", "acme"), Some(&r1.to_string())).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let applied = eventually(Duration::from_secs(10), || async {
        value(&scrape(&url).await, "directive_store_applied_revision", &k) == r2 as f64
    })
    .await;
    assert!(applied, "applied revision reaches {r2}");
    let now = scrape(&url).await;
    assert_eq!(
        value(&now, "directive_store_propagation_seconds", &k),
        2.0,
        "one observation per stamped apply"
    );
    assert!(value(&now, "directive_store_decode_seconds", &k) >= 2.0);
    assert_eq!(value(&now, "directive_store_directives", &k), 1.0);
    assert!(value(&now, "directive_store_snapshot_bytes", &k) > 20.0);
    assert_eq!(
        value(
            &now,
            "directive_admin_writes_total",
            &[("op", "publish"), ("result", "ok")]
        ) - publishes,
        2.0
    );
    assert_eq!(
        value(
            &now,
            "directive_admin_writes_total",
            &[("op", "publish"), ("result", "conflict")]
        ) - conflicts,
        1.0
    );

    // A malformed value written around the publisher: refused, by code.
    let mut etcd = cluster.client().await.expect("client");
    etcd.put(
        key,
        r#"{"directives":[{"id":"x","level":"Loud","ttl_secs":5}]}"#,
        None,
    )
    .await
    .expect("put");
    let rejected = eventually(Duration::from_secs(10), || async {
        value(
            &scrape(&url).await,
            "directive_store_rejections_total",
            &[("key", key), ("code", "unknown_level")],
        ) == 1.0
    })
    .await;
    assert!(rejected, "a rejection counted under its code");

    // Auth failures by reason, never the token.
    let missing = value(
        &now,
        "directive_admin_auth_failures_total",
        &[("reason", "missing")],
    );
    let wrong = value(
        &now,
        "directive_admin_auth_failures_total",
        &[("reason", "wrong_token")],
    );
    let status = client()
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("GET")
        .status();
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "/metrics is behind the token"
    );
    let status = client()
        .get(format!("{url}/api/fleet"))
        .header(header::AUTHORIZATION, "Bearer not-the-token-at-all")
        .send()
        .await
        .expect("GET")
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let after = scrape(&url).await;
    assert_eq!(
        value(
            &after,
            "directive_admin_auth_failures_total",
            &[("reason", "missing")]
        ) - missing,
        1.0
    );
    assert_eq!(
        value(
            &after,
            "directive_admin_auth_failures_total",
            &[("reason", "wrong_token")]
        ) - wrong,
        1.0
    );
    let text = client()
        .get(format!("{url}/metrics"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("text");
    assert!(
        !text.contains(TOKEN) && !text.contains("acme"),
        "no token, no directive value"
    );

    // Blackhole: stale (and /readyz says so, 503 only when strict); heal:
    // live again, the loss counted as a reconnect and a watch restart.
    let reconnects = value(&after, "directive_store_reconnects_total", &k);
    let restarts = value(&after, "directive_store_watch_restarts_total", &k);
    proxy.blackhole();
    let stale = eventually(Duration::from_secs(30), || async {
        value(
            &scrape(&url).await,
            "directive_store_state",
            &[("key", key), ("state", "stale")],
        ) == 1.0
    })
    .await;
    assert!(stale, "state gauge turns stale");
    let (status, body) = get_json(&url, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["state"].as_str()),
        (Some("degraded"), Some("stale"))
    );
    assert!(body["stale_since_ms"].is_u64(), "{body}");
    assert_eq!(
        get_json(&url, "/readyz?strict").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(get_json(&url, "/readyz?strict=0").await.0, StatusCode::OK);
    assert_eq!(
        body.get("last_error"),
        None,
        "no etcd error text without a token"
    );
    proxy.pass();
    let live = eventually(Duration::from_secs(30), || async {
        let s = scrape(&url).await;
        value(
            &s,
            "directive_store_state",
            &[("key", key), ("state", "live")],
        ) == 1.0
            && value(
                &s,
                "directive_store_state",
                &[("key", key), ("state", "stale")],
            ) == 0.0
    })
    .await;
    assert!(live, "live again after the heal");
    assert_eq!(get_json(&url, "/readyz?strict").await.0, StatusCode::OK);
    let healed = scrape(&url).await;
    assert!(value(&healed, "directive_store_reconnects_total", &k) > reconnects);
    assert!(value(&healed, "directive_store_watch_restarts_total", &k) > restarts);

    server.shutdown().await;
    app.close();
    if let Some(backend) = app.backend() {
        backend.shutdown().await;
    }
}
