//! The admin HTTP API and `directivectl demo`, as clients see them: a real
//! server on a loopback port, real etcd (the harness), reqwest and `etcdctl`
//! as clients, and hostile requests with the status codes they must get.
//! Logs of the whole test binary are captured and checked for the token and
//! directive values.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use directive_admin::{
    self, AdminApp, AdminConfig, AdminToken, Backend, ListenOptions, MemoryBackend, RunningServer,
    TlsFiles,
};
use directive_core::{decode, validate, Limits, ValidationReport};
use directive_etcd::{EtcdDirectiveStore, Publisher, StoreOptions};
use directive_tests::{EtcdCluster, TlsMaterial};
use reqwest::{header, Client, StatusCode};
use serde_json::{json, Value};

const TOKEN: &str = "test-admin-token-0123456789abcdef";
const BIN: &str = env!("CARGO_BIN_EXE_directivectl");
/// A directive value that must never reach a log line.
const SECRET_TENANT: &str = "tenant-secret-value-7f3a9c";

// ---------------------------------------------------------------- helpers

/// Everything logged by this test binary.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&buffer);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || LogWriter(Arc::clone(&writer)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
        buffer
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn config() -> AdminConfig {
    AdminConfig::new(AdminToken::new(TOKEN).expect("valid token"))
}

async fn serve(app: &AdminApp) -> (RunningServer, String) {
    let server = directive_admin::start(
        app,
        ListenOptions {
            addr: "127.0.0.1:0".parse().expect("addr"),
            tls: None,
            insecure_listen: false,
        },
    )
    .await
    .expect("server starts");
    let url = server.url();
    (server, url)
}

async fn memory_server() -> (AdminApp, RunningServer, String) {
    logs();
    let app = AdminApp::new(config());
    app.set_backend(Backend::Memory(MemoryBackend::default()));
    let (server, url) = serve(&app).await;
    (app, server, url)
}

async fn etcd_backend(cluster: &EtcdCluster, key: &str) -> Backend {
    let options = StoreOptions::new(cluster.endpoints()).with_key(key);
    Backend::Etcd {
        store: EtcdDirectiveStore::connect(options.clone())
            .await
            .expect("store connects"),
        publisher: Publisher::connect(options)
            .await
            .expect("publisher connects"),
    }
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

fn doc(id: &str, tenant: &str) -> String {
    json!({"directives": [{"id": id, "level": "ShapeTiming", "ttl_secs": 600, "tenant": tenant}]})
        .to_string()
}

async fn put(url: &str, body: &str, if_match: Option<&str>) -> (StatusCode, Value) {
    let mut request = client()
        .put(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_owned());
    if let Some(m) = if_match {
        request = request.header(header::IF_MATCH, m);
    }
    let response = request.send().await.expect("PUT answered");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get_json(url: &str, path: &str) -> (StatusCode, Value) {
    let response = client()
        .get(format!("{url}{path}"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("GET answered");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_json(url: &str, path: &str, body: &str) -> (StatusCode, Value) {
    let response = client()
        .post(format!("{url}{path}"))
        .header(header::AUTHORIZATION, bearer())
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("POST answered");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn now() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("ms fit u64")
}

/// `GET /api/directives`'s `document` is the canonical encoding of the
/// stored (published, stamped) value, and decodes to the applied directives.
fn assert_document_is_canonical(body: &Value, stored: &[u8]) {
    let document = body["document"].as_str().expect("document is text");
    let published = decode(stored, now(), &Limits::default()).expect("stored value decodes");
    assert!(published.is_stamped());
    assert_eq!(document, published.to_wire_json_pretty());
    let reloaded =
        decode(document.as_bytes(), now(), &Limits::default()).expect("document decodes");
    assert_eq!(reloaded.directives(), published.directives());
    assert_eq!(reloaded.anchor_ms(), published.anchor_ms());
    let report: Value =
        serde_json::from_str(&ValidationReport::accepted(&reloaded).to_json()).expect("report");
    assert_eq!(report["directives"], body["directives"]);
}

/// Polls `check` every 50 ms until it is true or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_and_status_code_against_real_etcd() {
    logs();
    let cluster = EtcdCluster::start(1).await.expect("etcd starts");
    let app = AdminApp::new(config());
    let (server, url) = serve(&app).await;
    let http = client();

    // Listening, not connected: alive, not ready, API 503.
    let health = http
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    let ready = http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        get_json(&url, "/api/directives").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );

    app.set_backend(etcd_backend(&cluster, "admin/routes").await);
    let ready = http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);

    // Absent key: revision 0, ETag "0".
    let response = http
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::ETAG], "\"0\"");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["ok"], true);
    assert_eq!(body["revision"], 0);
    assert_eq!(body["status"]["state"], "live");
    assert_eq!(body["document"], Value::Null);
    assert_eq!(body["stored_revision"], 0);
    assert_eq!(body["stored_differs"], false);

    // PUT: 428, 415, 400 (full report), 200, 409, 200 with a bare revision.
    let (status, body) = put(&url, &doc("a", "acme"), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::PRECONDITION_REQUIRED, Some("if_match_required"))
    );
    let wrong_type = http
        .put(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::IF_MATCH, "\"0\"")
        .body(doc("a", "acme"))
        .send()
        .await
        .expect("PUT");
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let invalid = r#"{"directives":[{"id":"a","level":"Loud","ttl_secs":60}]}"#;
    let (status, body) = put(&url, invalid, Some("\"0\"")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["ok"], false);
    assert!(body["errors"][0]["code"].is_string(), "{body}");
    let (status, body) = put(&url, &doc("a", "acme"), Some("\"0\"")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r1 = body["revision"].as_i64().expect("revision");
    let (status, body) = put(&url, &doc("b", "acme"), Some("\"0\"")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, json!({"error": "conflict", "current_revision": r1}));
    let (status, body) = put(&url, &doc("b", "acme"), Some(&r1.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r2 = body["revision"].as_i64().expect("revision");
    assert!(r2 > r1);
    let (status, _) = put(&url, &doc("c", "acme"), Some("W/\"1\"")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The store applies it; GET shows it with its ETag.
    assert!(
        eventually(Duration::from_secs(5), || async {
            get_json(&url, "/api/directives").await.1["revision"] == r2
        })
        .await,
        "the store applies the publish"
    );
    let (_, body) = get_json(&url, "/api/directives").await;
    assert_eq!(body["directives"][0]["id"], "b");
    assert_eq!(body["status"]["applied_revision"], r2);
    assert_eq!(body["stored_revision"], r2);
    assert_eq!(body["stored_differs"], false);
    // `document`: the canonical text of what was published (etcd's bytes).
    let (stored, at) =
        Publisher::connect(StoreOptions::new(cluster.endpoints()).with_key("admin/routes"))
            .await
            .expect("publisher connects")
            .current()
            .await
            .expect("read");
    assert_eq!(at, r2);
    let stored = stored.expect("the key holds a value");
    assert_document_is_canonical(&body, &stored);

    // One version: the raw stored text and its report; 404, 400, 401.
    let (status, version) = get_json(&url, &format!("/api/history/{r2}")).await;
    assert_eq!(status, StatusCode::OK, "{version}");
    assert_eq!(version["revision"], r2);
    assert_eq!(
        version["document"].as_str(),
        std::str::from_utf8(&stored).ok()
    );
    let set = decode(&stored, now(), &Limits::default()).expect("stored value decodes");
    assert_eq!(version["published_at"], set.anchor_ms());
    assert_eq!(version["report"]["ok"], true);
    assert_eq!(version["report"]["directives"][0]["id"], "b");
    for (path, expected) in [
        (format!("/api/history/{}", r2 + 100), StatusCode::NOT_FOUND),
        ("/api/history/abc".into(), StatusCode::BAD_REQUEST),
        ("/api/history/0".into(), StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(get_json(&url, &path).await.0, expected, "{path}");
    }
    let response = http
        .get(format!("{url}/api/history/{r2}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // 413 over the limit, whether declared or not.
    let oversize = format!(
        "{{\"directives\":[],\"pad\":\"{}\"}}",
        "x".repeat(Limits::default().max_bytes)
    );
    let (status, body) = put(&url, &oversize, Some(&r2.to_string())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let chunked = reqwest::Body::wrap_stream(futures_util_stream(oversize.clone()));
    let response = http
        .put(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::IF_MATCH, r2.to_string())
        .body(chunked)
        .send()
        .await
        .expect("chunked PUT");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // History, newest first.
    let (status, body) = get_json(&url, "/api/history?limit=5").await;
    assert_eq!(status, StatusCode::OK);
    let entries = body["entries"].as_array().expect("entries");
    assert_eq!(entries[0]["revision"], r2);
    assert_eq!(entries[1]["revision"], r1);
    assert_eq!(
        get_json(&url, "/api/history?limit=0").await.0,
        StatusCode::BAD_REQUEST
    );

    // Rollback: 409 on a stale expectation, 404 for no such version, 400, 200.
    let (status, body) = post_json(
        &url,
        "/api/rollback",
        &json!({"revision": r1, "expect_revision": r1}).to_string(),
    )
    .await;
    assert_eq!(
        (status, body["current_revision"].as_i64()),
        (StatusCode::CONFLICT, Some(r2))
    );
    let (status, _) = post_json(
        &url,
        "/api/rollback",
        &json!({"revision": r2 + 100}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post_json(&url, "/api/rollback", r#"{"rev":1}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = post_json(
        &url,
        "/api/rollback",
        &json!({"revision": r1, "expect_revision": r2}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["revision"].as_i64().expect("revision") > r2);

    // Validate, fleet (empty outside the demo), unknown route, wrong method.
    let (status, body) = post_json(&url, "/api/validate?now_ms=1000", &doc("v", "acme")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["directives"][0]["expires_at_ms"], 601_000);
    let (status, body) = get_json(&url, "/api/fleet").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"instances": []})));
    assert_eq!(get_json(&url, "/api/nope").await.0, StatusCode::NOT_FOUND);
    let delete = http
        .delete(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("DELETE");
    assert_eq!(delete.status(), StatusCode::METHOD_NOT_ALLOWED);

    // A malformed value written around the API: the store keeps the last
    // good set, `document` stays that set, and `stored_differs` says so.
    let (_, before) = get_json(&url, "/api/directives").await;
    let malformed = r#"{"directives":[{"id":"bad","level":"Loud","ttl_secs":1}]}"#;
    let put = cluster
        .client()
        .await
        .expect("etcd client")
        .put("admin/routes", malformed, None)
        .await
        .expect("raw put");
    let bad = put.header().expect("header").revision();
    assert!(
        eventually(Duration::from_secs(5), || async {
            get_json(&url, "/api/directives").await.1["status"]["last_rejection"]["revision"] == bad
        })
        .await,
        "the store refuses the malformed value"
    );
    let (_, body) = get_json(&url, "/api/directives").await;
    assert_eq!(body["stored_revision"], bad);
    assert_eq!(body["stored_differs"], true);
    assert_eq!(body["document"], before["document"]);
    assert_eq!(body["directives"][0]["id"], "a");
    let (status, version) = get_json(&url, &format!("/api/history/{bad}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["document"], malformed);
    assert_eq!(version["published_at"], Value::Null);
    assert_eq!(version["report"]["ok"], false);
    assert_eq!(version["report"]["errors"][0]["code"], "unknown_level");

    // A compacted version: 410.
    let latest = bad;
    cluster.compact(latest).await.expect("compaction");
    let (status, body) = get_json(&url, &format!("/api/history/{r1}")).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::GONE,
            json!({"error": "compacted", "revision": r1})
        )
    );

    server.shutdown().await;
    app.close();
    if let Some(backend) = app.backend() {
        backend.shutdown().await;
    }
}

/// A body stream of one chunk, so no Content-Length is sent.
fn futures_util_stream(
    text: String,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures_util::stream::iter(
        text.into_bytes()
            .chunks(64 * 1024)
            .map(|c| Ok(c.to_vec()))
            .collect::<Vec<_>>(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_and_history_versions_on_the_memory_backend() {
    let (app, server, url) = memory_server().await;
    let (_, body) = get_json(&url, "/api/directives").await;
    assert_eq!(
        (
            &body["document"],
            &body["stored_revision"],
            &body["stored_differs"]
        ),
        (&Value::Null, &json!(0), &json!(false))
    );
    // Keys: the report's, then revision and status, then the new ones.
    let text = client()
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("text");
    let at = |key: &str| text.find(&format!("\"{key}\":")).expect(key);
    let order = [
        "ok",
        "errors",
        "directives",
        "revision",
        "status",
        "document",
        "stored_revision",
        "stored_differs",
    ]
    .map(at);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    let two = json!({"directives": [
        {"id": "x", "level": "Shape", "ttl_secs": 30, "tenant": "acme"},
        {"id": "y", "level": "ShapeTiming", "ttl_secs": 604800, "index": "orders", "sample_per_mille": 5}
    ]});
    let (status, published) = put(&url, &two.to_string(), Some("\"0\"")).await;
    assert_eq!(status, StatusCode::OK);
    let r1 = published["revision"].as_i64().expect("revision");
    let (status, version) = get_json(&url, &format!("/api/history/{r1}")).await;
    assert_eq!(status, StatusCode::OK);
    let stored = version["document"].as_str().expect("document").to_owned();
    let (_, body) = get_json(&url, "/api/directives").await;
    assert_eq!(
        (&body["revision"], &body["stored_revision"]),
        (&json!(r1), &json!(r1))
    );
    assert_eq!(body["stored_differs"], false);
    assert_document_is_canonical(&body, stored.as_bytes());
    // The document republishes verbatim, with its original TTLs.
    let document = body["document"].as_str().expect("document").to_owned();
    let (status, published) = put(&url, &document, Some(&r1.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{published}");
    let r2 = published["revision"].as_i64().expect("revision");
    let (_, version) = get_json(&url, &format!("/api/history/{r2}")).await;
    let raw: Value =
        serde_json::from_str(version["document"].as_str().expect("document")).expect("JSON");
    assert_eq!(raw["directives"][1]["ttl_secs"], 604_800);
    let published_at = version["published_at"].as_u64().expect("stamped");
    assert_eq!(
        version["report"]["directives"][1]["expires_at_ms"],
        published_at + 604_800_000
    );
    // The raw text is in the body's byte order, and the report's keys too.
    let response = client()
        .get(format!("{url}/api/history/{r1}"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("GET");
    let text = response.text().await.expect("text");
    assert!(
        text.starts_with(&format!("{{\"revision\":{r1},\"published_at\":")),
        "{text}"
    );
    assert!(
        text.contains("\"report\":{\"ok\":true,\"errors\":[],\"directives\":["),
        "{text}"
    );
    assert_eq!(
        get_json(&url, &format!("/api/history/{}", r2 + 1)).await.0,
        StatusCode::NOT_FOUND
    );
    server.shutdown().await;
    app.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_missing_wrong_short_long_or_in_the_query_get_401() {
    let (app, server, url) = memory_server().await;
    let http = client();
    let long = format!("{TOKEN}x");
    let short = &TOKEN[..TOKEN.len() - 1];
    let wrong = TOKEN.replace('0', "1");
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, ""),
        ("wrong", Some(format!("Bearer {wrong}")), ""),
        ("shorter", Some(format!("Bearer {short}")), ""),
        ("longer", Some(format!("Bearer {long}")), ""),
        ("empty", Some("Bearer ".into()), ""),
        ("basic scheme", Some(format!("Basic {TOKEN}")), ""),
        ("query only", None, "?access_token=TOKEN"),
        ("query and header", Some(bearer()), "?access_token=TOKEN"),
        ("token param", Some(bearer()), "?token=TOKEN"),
    ];
    for path in [
        "/api/directives",
        "/api/history",
        "/api/history/1",
        "/api/fleet",
        "/api/events",
        "/api/nope",
    ] {
        for (name, auth, query) in &cases {
            let query = query.replace("TOKEN", TOKEN);
            let mut request = http.get(format!("{url}{path}{query}"));
            if let Some(auth) = auth {
                request = request.header(header::AUTHORIZATION, auth);
            }
            let response = request.send().await.expect("answered");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path} {name}");
            assert_eq!(
                response.headers()[header::WWW_AUTHENTICATE],
                "Bearer realm=\"directivectl\""
            );
            let body: Value = response.json().await.expect("json");
            assert_eq!(body, json!({"error": "unauthorized"}), "{path} {name}");
        }
    }
    // Writes are refused before their body matters.
    for (method, path) in [
        ("PUT", "/api/directives"),
        ("POST", "/api/validate"),
        ("POST", "/api/rollback"),
    ] {
        let response = http
            .request(method.parse().expect("method"), format!("{url}{path}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::IF_MATCH, "\"0\"")
            .body(doc("a", "acme"))
            .send()
            .await
            .expect("answered");
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
    // Two Authorization headers are ambiguous: refused.
    let response = http
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Probes need no token.
    for probe in ["/healthz", "/readyz"] {
        let response = http
            .get(format!("{url}{probe}"))
            .send()
            .await
            .expect("probe");
        assert_eq!(response.status(), StatusCode::OK, "{probe}");
    }
    // The right token works.
    assert_eq!(get_json(&url, "/api/directives").await.0, StatusCode::OK);
    server.shutdown().await;
    app.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_delivers_an_etcdctl_put_within_one_second() {
    logs();
    let cluster = EtcdCluster::start(1).await.expect("etcd starts");
    let key = "admin/sse";
    let app = AdminApp::new(config());
    app.set_backend(etcd_backend(&cluster, key).await);
    let (server, url) = serve(&app).await;
    let mut response = client()
        .get(format!("{url}/api/events"))
        .header(header::AUTHORIZATION, bearer())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("SSE");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .starts_with("text/event-stream"));
    let mut events = SseReader::default();
    let first = events.next(&mut response).await;
    assert_eq!(first["event"], "state", "{first}");

    let value = doc("from-etcdctl", "acme");
    let started = Instant::now();
    let output = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", cluster.endpoints().join(",")))
        .args(["put", key, &value])
        .output()
        .expect("etcdctl runs (Debian package etcd-client)");
    assert!(output.status.success(), "etcdctl put: {output:?}");
    let applied = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            let event = events.next(&mut response).await;
            if event["event"] == "applied" {
                return event;
            }
        }
    })
    .await
    .expect("an applied event within 1 s of etcdctl put");
    assert_eq!(applied["ids"], json!(["from-etcdctl"]));
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(response);
    server.shutdown().await;
    app.close();
}

/// Splits an SSE body into JSON `data:` payloads.
#[derive(Default)]
struct SseReader {
    buffer: String,
}

impl SseReader {
    async fn next(&mut self, response: &mut reqwest::Response) -> Value {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return serde_json::from_str(&data.join("\n")).expect("data is JSON");
            }
            let chunk = response
                .chunk()
                .await
                .expect("stream")
                .expect("stream open");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_is_byte_identical_to_the_library_over_the_corpus() {
    let (app, server, url) = memory_server().await;
    let http = client();
    let corpus = directive_vectors::load().expect("corpus");
    let mut compared = 0;
    for case in &corpus.cases {
        let directive_vectors::CaseKind::Decode { now_ms, limits, .. } = &case.kind else {
            continue;
        };
        if limits.is_some() {
            continue;
        }
        let input = case.input_bytes().expect("decode case has input");
        let response = http
            .post(format!("{url}/api/validate?now_ms={now_ms}"))
            .header(header::AUTHORIZATION, bearer())
            .header(header::CONTENT_TYPE, "application/json")
            .body(input.clone())
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), StatusCode::OK, "{}", case.name);
        let text = response.text().await.expect("text");
        let native = validate(&input, *now_ms, &Limits::default()).to_json();
        assert_eq!(text, native, "case {}", case.name);
        compared += 1;
    }
    assert!(compared > 100, "only {compared} cases compared");
    // Between the limit and twice it, the report says input_too_large, as the CLI does.
    let big = vec![b' '; Limits::default().max_bytes + 1];
    let (status, body) = post_json(
        &url,
        "/api/validate",
        std::str::from_utf8(&big).expect("ascii"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["errors"][0]["code"], "input_too_large");
    let (status, _) = post_json(&url, "/api/validate?now_ms=soon", "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.shutdown().await;
    app.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_ui_is_served_without_a_ui_directory() {
    logs();
    let app = AdminApp::new(config());
    let (server, url) = serve(&app).await;
    let http = client();
    let index = http.get(format!("{url}/")).send().await.expect("index");
    assert_eq!(index.status(), StatusCode::OK);
    assert!(index
        .text()
        .await
        .expect("text")
        .contains("<title>directive-plane admin</title>"));
    let script = http
        .get(format!("{url}/app.js"))
        .send()
        .await
        .expect("app.js");
    assert_eq!(script.status(), StatusCode::OK);
    let kind = script.headers()[header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(kind.contains("javascript"), "content-type {kind}");
    // The UI's own tests and docs are not part of what is served.
    for left_out in ["/e2e/admin.e2e.mjs", "/README.md", "/../Cargo.toml"] {
        let (status, _) = raw_get(server.local_addr(), left_out);
        assert!(
            status == 404 || status == 400,
            "{left_out}: status {status}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_is_served_and_path_tricks_stay_inside_its_directory() {
    logs();
    let root = tempfile::tempdir().expect("tempdir");
    let ui = root.path().join("ui");
    std::fs::create_dir(&ui).expect("ui dir");
    std::fs::write(ui.join("index.html"), "<h1>admin ui</h1>").expect("index");
    std::fs::write(root.path().join("secret.txt"), "outside").expect("secret");
    let mut config = config();
    config.ui_dir = Some(ui);
    let app = AdminApp::new(config);
    let (server, url) = serve(&app).await;
    let http = client();
    let index = http.get(format!("{url}/")).send().await.expect("index");
    assert_eq!(index.status(), StatusCode::OK);
    assert!(index.text().await.expect("text").contains("admin ui"));
    let addr = server.local_addr();
    for trick in [
        "/..%2f..%2fetc/passwd",
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..\\secret.txt",
        "//etc/passwd",
    ] {
        let (status, body) = raw_get(addr, trick);
        assert!(status == 404 || status == 400, "{trick}: status {status}");
        assert!(
            !body.contains("outside") && !body.contains("root:"),
            "{trick}"
        );
    }
    server.shutdown().await;
    app.close();

    // A UI directory without a built UI: a page saying so.
    let mut config = AdminConfig::new(AdminToken::new(TOKEN).expect("token"));
    config.ui_dir = Some(root.path().join("empty"));
    let app = AdminApp::new(config);
    let (server, url) = serve(&app).await;
    let page = http.get(format!("{url}/")).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("text").contains("not built"));
    let (status, _) = raw_get(server.local_addr(), "/..%2f..%2fetc/passwd");
    assert_eq!(status, 404);
    server.shutdown().await;
    app.close();
}

/// A GET with the path sent verbatim (clients normalize `..` away).
fn raw_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_connections_are_all_served() {
    let (app, server, url) = memory_server().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let url = url.clone();
        tasks.spawn(async move {
            // A fresh client per task: one connection each.
            let http = Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client");
            let path = if i % 2 == 0 {
                "/api/directives"
            } else {
                "/healthz"
            };
            http.get(format!("{url}{path}"))
                .header(header::AUTHORIZATION, bearer())
                .send()
                .await
                .map(|r| r.status())
        });
    }
    let mut ok = 0;
    while let Some(result) = tasks.join_next().await {
        let status = result.expect("task").expect("request served");
        assert_eq!(status, StatusCode::OK);
        ok += 1;
    }
    assert_eq!(ok, 200);
    server.shutdown().await;
    app.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_the_token_or_a_directive_value() {
    let (app, server, url) = memory_server().await;
    let http = client();
    let (status, _) = put(&url, &doc("secret-doc", SECRET_TENANT), Some("\"0\"")).await;
    assert_eq!(status, StatusCode::OK);
    let invalid = json!({"directives": [{"id": "x", "level": "Nope", "ttl_secs": 1, "tenant": SECRET_TENANT}]});
    let (status, _) = put(&url, &invalid.to_string(), Some("1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post_json(&url, "/api/validate", &invalid.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get_json(&url, "/api/directives").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["directives"][0]["tenant"], SECRET_TENANT);
    for attempt in [
        format!("{url}/api/directives?access_token={TOKEN}"),
        format!("{url}/{TOKEN}"),
        format!("{url}/api/{SECRET_TENANT}"),
    ] {
        let _ = http.get(attempt).send().await.expect("answered");
    }
    let _ = http
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}-wrong"))
        .send()
        .await;
    server.shutdown().await;
    app.close();
    let text = String::from_utf8(logs().lock().expect("logs").clone()).expect("UTF-8 logs");
    assert!(text.contains("admin request"), "requests are logged at all");
    assert!(!text.contains(TOKEN), "a log line holds the token");
    assert!(
        !text.contains(SECRET_TENANT),
        "a log line holds a directive value"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_serves_https_and_cleartext_is_loopback_only() {
    logs();
    let material = TlsMaterial::generate().expect("certificates");
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = material.write_to(dir.path()).expect("written");
    let public: std::net::SocketAddr = "0.0.0.0:0".parse().expect("addr");
    let refused = directive_admin::check_policy(&ListenOptions {
        addr: public,
        tls: None,
        insecure_listen: false,
    });
    assert!(matches!(
        refused,
        Err(directive_admin::ListenError::Insecure(_))
    ));
    assert!(directive_admin::check_policy(&ListenOptions {
        addr: public,
        tls: None,
        insecure_listen: true,
    })
    .is_ok());

    let app = AdminApp::new(config());
    app.set_backend(Backend::Memory(MemoryBackend::default()));
    let server = directive_admin::start(
        &app,
        ListenOptions {
            addr: "127.0.0.1:0".parse().expect("addr"),
            tls: Some(TlsFiles {
                cert: paths.server_cert.clone(),
                key: paths.server_key.clone(),
            }),
            insecure_listen: false,
        },
    )
    .await
    .expect("TLS server starts");
    assert!(server.url().starts_with("https://"));
    let ca = reqwest::Certificate::from_pem(material.ca_cert_pem.as_bytes()).expect("CA");
    let https = Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let url = format!("https://localhost:{}", server.local_addr().port());
    let response = https
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("HTTPS answered");
    assert_eq!(response.status(), StatusCode::OK);
    // Cleartext to the TLS port gets no HTTP answer.
    let plain = client()
        .get(format!(
            "http://127.0.0.1:{}/healthz",
            server.local_addr().port()
        ))
        .send()
        .await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status() != StatusCode::OK));
    server.shutdown().await;
    app.close();
}

#[test]
fn serve_refuses_public_cleartext_and_missing_tokens_with_exit_2() {
    let token_file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(token_file.path(), format!("{TOKEN}\n")).expect("token written");
    let out = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--token-file"])
        .arg(token_file.path())
        .env_remove("DIRECTIVE_ETCD_ENDPOINTS")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without TLS"));
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DIRECTIVE_ADMIN_TOKEN")
        .env_remove("DIRECTIVE_ETCD_ENDPOINTS")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no admin token"));
    // A token given as a flag value does not exist as an option.
    let out = Command::new(BIN)
        .args(["serve", "--token", TOKEN])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_converges_through_the_api_and_leaves_nothing_running() {
    logs();
    let mut child = Command::new(BIN)
        .args(["demo", "--instances", "3"])
        .env_remove("DIRECTIVE_ETCD_ENDPOINTS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo starts");
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut url, mut token, mut etcd_url) = (None, None, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while url.is_none() || token.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("demo printed no url/token; stderr so far: {seen:?}"));
        let trimmed = line.trim();
        if let Some(u) = trimmed.strip_prefix("url:") {
            url = Some(u.trim().trim_end_matches('/').to_owned());
        } else if let Some(t) = trimmed.strip_prefix("token:") {
            token = Some(t.trim().to_owned());
        } else if let Some(rest) = trimmed.strip_prefix("directivectl demo: private etcd at ") {
            etcd_url = rest.split_whitespace().next().map(str::to_owned);
        }
        seen.push(line);
    }
    let (url, token) = (url.expect("url"), token.expect("token"));
    let etcd_port: u16 = etcd_url
        .expect("etcd url printed")
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("etcd port");
    assert!(!token.is_empty() && token != TOKEN);

    let http = client();
    let auth = format!("Bearer {token}");
    assert!(
        eventually(Duration::from_secs(20), || async {
            http.get(format!("{url}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
        })
        .await,
        "demo becomes ready"
    );
    let current = http
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, &auth)
        .send()
        .await
        .expect("GET");
    let etag = current.headers()[header::ETAG]
        .to_str()
        .expect("etag")
        .to_owned();
    let published: Value = http
        .put(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, &auth)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::IF_MATCH, etag)
        .body(doc("demo-test", "acme"))
        .send()
        .await
        .expect("PUT")
        .json()
        .await
        .expect("json");
    let revision = published["revision"].as_i64().expect("new revision");
    let fleet_url = format!("{url}/api/fleet");
    let converged = eventually(Duration::from_secs(15), || async {
        let Ok(response) = http
            .get(&fleet_url)
            .header(header::AUTHORIZATION, &auth)
            .send()
            .await
        else {
            return false;
        };
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let instances = body["instances"].as_array().cloned().unwrap_or_default();
        instances.len() == 3
            && instances.iter().all(|i| {
                i["applied_revision"] == revision
                    && i["state"] == "live"
                    && i["last_change_latency_ms"].is_u64()
            })
    })
    .await;
    assert!(converged, "every instance reaches revision {revision}");

    // Every instance is a real proxy: its x-diagnostics header shows the publish.
    let fleet: Value = http
        .get(&fleet_url)
        .header(header::AUTHORIZATION, &auth)
        .send()
        .await
        .expect("fleet")
        .json()
        .await
        .expect("fleet json");
    let ports: Vec<u64> = fleet["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| {
            i["port"]
                .as_u64()
                .expect("each instance serves a proxy port")
        })
        .collect();
    assert_eq!(ports.len(), 3);
    for port in ports {
        let response = http
            .get(format!("http://127.0.0.1:{port}/orders/_search"))
            .header("x-tenant", "acme")
            .header("x-request-id", "r-1")
            .send()
            .await
            .expect("proxy answers");
        assert_eq!(response.status(), 200);
        let diag = response.headers()["x-diagnostics"]
            .to_str()
            .expect("ASCII")
            .to_owned();
        assert!(
            !diag.starts_with("Off"),
            "instance on port {port} applies the publish: {diag}"
        );
        let other = http
            .get(format!("http://127.0.0.1:{port}/orders/_search"))
            .header("x-tenant", "globex")
            .send()
            .await
            .expect("proxy answers");
        assert_eq!(other.headers()["x-diagnostics"], "Off; ring=0; capture=0");
    }

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("demo did not exit on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    assert!(
        TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], etcd_port)),
            Duration::from_millis(500)
        )
        .is_err(),
        "the demo's etcd still accepts connections after the demo exited"
    );
}
