//! The admin HTTP API and `directivectl demo`, as clients see them: a real
//! server on a loopback port, real etcd (the harness), reqwest and `etcdctl`
//! as clients, and hostile requests with the status codes they must get.
//! Logs of the whole test binary are captured and checked for the token and
//! directive values.

mod auth;
mod demo;
mod events;
mod hostile;
mod listen;
mod metrics;
mod routes;
mod ui;
mod validate;

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
            limits: directive_admin::ConnectionLimits::default(),
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

/// A GET with the path sent verbatim (clients normalize `..` away).
fn raw_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    raw_request(addr, path, "Host: x\r\n")
}

/// A raw `GET` with these header lines (each ending in CRLF); status and text.
fn raw_request(addr: std::net::SocketAddr, path: &str, headers: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n"
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
