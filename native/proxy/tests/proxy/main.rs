//! The example reverse proxy with the directive hook, against a real etcd:
//! what a user sees in the `x-diagnostics` header as directives are
//! published, expire, are rejected and are deleted; and (`hostile`) the
//! connection- and header-level attacks it must survive.

mod hostile;
mod layer;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use directive_core::sampling;
use directive_etcd::{EtcdDirectiveStore, Publisher, StoreOptions};
use directive_proxy::{
    echo::serve_echo, serve_with, DiagnosticsHeader, DirectiveHook, ProxyOptions, RequestIdPolicy,
    HEADER,
};
use directive_tests::EtcdCluster;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const KEY: &str = "proxy-test/directives";

struct Fixture {
    _etcd: EtcdCluster,
    etcd_client: directive_tests::etcd_client::Client,
    publisher: Publisher,
    store: EtcdDirectiveStore,
    proxy: SocketAddr,
    http: Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    shutdown: CancellationToken,
}

async fn fixture(initial: &str) -> Fixture {
    let etcd = EtcdCluster::start(1).await.expect("etcd starts");
    let options = StoreOptions::new(etcd.endpoints()).with_key(KEY);
    let publisher = Publisher::connect(options.clone())
        .await
        .expect("publisher connects");
    publisher
        .publish(initial.as_bytes(), Some(0))
        .await
        .expect("initial publish");
    let store = EtcdDirectiveStore::connect(options)
        .await
        .expect("store connects");
    let shutdown = CancellationToken::new();
    let upstream = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let upstream_addr = upstream.local_addr().expect("upstream addr");
    tokio::spawn(serve_echo(upstream, shutdown.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let proxy = listener.local_addr().expect("proxy addr");
    // These tests pick request ids to check sampling, as a trusted edge would.
    let options = ProxyOptions {
        request_ids: RequestIdPolicy::TrustClient,
        diagnostics_header: DiagnosticsHeader::Always,
        ..ProxyOptions::default()
    };
    tokio::spawn(serve_with(
        listener,
        DirectiveHook::new(store.clone()),
        upstream_addr,
        options,
        shutdown.clone(),
    ));
    Fixture {
        etcd_client: etcd.client().await.expect("etcd client"),
        _etcd: etcd,
        publisher,
        store,
        proxy,
        http: Client::builder(TokioExecutor::new()).build_http(),
        shutdown,
    }
}

impl Fixture {
    /// The `x-diagnostics` header for a request.
    async fn diag(&self, path: &str, tenant: Option<&str>, principal: &str, rid: &str) -> String {
        let mut req = http::Request::get(format!("http://{}{path}", self.proxy))
            .header("x-principal", principal)
            .header("x-request-id", rid);
        if let Some(t) = tenant {
            req = req.header("x-tenant", t);
        }
        let res = self
            .http
            .request(req.body(Empty::new()).expect("request builds"))
            .await
            .expect("proxy answers");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-request-id"], rid);
        let header = res.headers()[HEADER]
            .to_str()
            .expect("ASCII header")
            .to_owned();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        assert!(
            body.starts_with(b"{\"method\":\"GET\""),
            "the echo upstream answered"
        );
        header
    }

    /// Polls until the header for a request equals `want` (bounded).
    async fn until(&self, path: &str, tenant: Option<&str>, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.diag(path, tenant, "alice", "fixed").await;
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "header stayed {got:?}, wanted {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

const OFF: &str = "Off; ring=0; capture=0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_applies_directives_as_published() {
    let set = r#"{"directives":[
        {"id":"acme","level":"ShapeTiming","ttl_secs":600,"tenant":"acme","capture":true},
        {"id":"orders-search","level":"ShapeRewriteDiff","ttl_secs":600,"index":"orders","endpoint":"Search","ring_buffer":true},
        {"id":"half","level":"Shape","ttl_secs":600,"principal":"sampled","sample_per_mille":500}
    ]}"#;
    let f = fixture(set).await;

    // Matching and non-matching tenants, indexes and endpoints.
    assert_eq!(
        f.diag("/logs/_search", Some("acme"), "alice", "r1").await,
        "ShapeTiming; ring=0; capture=1"
    );
    assert_eq!(
        f.diag("/logs/_search", Some("globex"), "alice", "r1").await,
        OFF
    );
    assert_eq!(
        f.diag("/logs/_search", None, "alice", "r1").await,
        OFF,
        "an unresolved tenant never matches"
    );
    assert_eq!(
        f.diag("/orders/_search", None, "alice", "r1").await,
        "ShapeRewriteDiff; ring=1; capture=0"
    );
    assert_eq!(
        f.diag("/orders/_count", None, "alice", "r1").await,
        OFF,
        "endpoint must match too"
    );
    assert_eq!(
        f.diag("/Orders/_search", None, "alice", "r1").await,
        OFF,
        "index is case-sensitive"
    );
    assert_eq!(
        f.diag("/orders/_search", Some("acme"), "alice", "r1").await,
        "ShapeRewriteDiff; ring=1; capture=1",
        "levels take the max, flags the union"
    );

    // Sampling at 500 per mille splits request ids exactly as the FNV rule says.
    let mut sampled = 0;
    for i in 0..200 {
        let rid = format!("req-{i}");
        let want_in = sampling::bucket(&rid) < 500;
        let got = f.diag("/logs/_search", None, "sampled", &rid).await;
        assert_eq!(
            got == "Shape; ring=0; capture=0",
            want_in,
            "request id {rid}"
        );
        sampled += usize::from(want_in);
    }
    assert!(
        (60..140).contains(&sampled),
        "about half sampled, got {sampled}"
    );

    // A malformed publish (straight to etcd, bypassing the publisher) changes nothing.
    let mut etcd = f.etcd_client.clone();
    etcd.put(
        KEY,
        r#"{"directives":[{"id":"x","level":"Shape","ttl_secs":60,"tenant":null}]}"#,
        None,
    )
    .await
    .expect("raw put");
    let deadline = Instant::now() + Duration::from_secs(10);
    while f.store.status().last_rejection.is_none() {
        assert!(
            Instant::now() < deadline,
            "the store never saw the malformed value"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        f.diag("/logs/_search", Some("acme"), "alice", "r1").await,
        "ShapeTiming; ring=0; capture=1"
    );
    assert_eq!(
        f.diag("/logs/_search", Some("globex"), "alice", "r1").await,
        OFF,
        "null never widens"
    );

    // A delete turns everything off.
    etcd.delete(KEY, None).await.expect("delete");
    f.until("/orders/_search", Some("acme"), OFF).await;
    f.shutdown.cancel();
    f.store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_turns_a_directive_off_without_a_publish() {
    let f =
        fixture(r#"{"directives":[{"id":"brief","level":"Shape","ttl_secs":1,"tenant":"acme"}]}"#)
            .await;
    let first = f.diag("/logs/_search", Some("acme"), "alice", "r").await;
    assert_eq!(first, "Shape; ring=0; capture=0");
    let revision = f.store.status().applied_revision;
    f.until("/logs/_search", Some("acme"), OFF).await;
    assert_eq!(
        f.store.status().applied_revision,
        revision,
        "no publish happened"
    );
    // A new publish turns it back on within milliseconds.
    let started = Instant::now();
    f.publisher
        .publish(br#"{"directives":[{"id":"again","level":"ShapeTiming","ttl_secs":60,"tenant":"acme"}]}"#, None)
        .await
        .expect("publish");
    f.until(
        "/logs/_search",
        Some("acme"),
        "ShapeTiming; ring=0; capture=0",
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    f.shutdown.cancel();
    f.store.shutdown().await;
}
