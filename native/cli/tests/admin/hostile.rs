//! Connection-level attacks on the admin server: idle sockets beyond the
//! cap, silent TLS handshakes, an HTTP/2 preface and nothing else, idle
//! keep-alive connections, and event streams over their own cap. Loopback
//! only; every loop is bounded.

use super::*;

use std::net::SocketAddr;

use directive_admin::ConnectionLimits;

/// Small limits so the attacks stay small: 16 connections, 1 s for a
/// request head, 2 s idle.
fn small() -> ConnectionLimits {
    ConnectionLimits {
        max_connections: 16,
        head_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        ..ConnectionLimits::default()
    }
}

async fn serve_with(
    app: &AdminApp,
    limits: ConnectionLimits,
    tls: Option<TlsFiles>,
) -> RunningServer {
    directive_admin::start(
        app,
        ListenOptions {
            addr: "127.0.0.1:0".parse().expect("addr"),
            tls,
            insecure_listen: false,
            limits,
        },
    )
    .await
    .expect("server starts")
}

fn memory_app(config: AdminConfig) -> AdminApp {
    logs();
    let app = AdminApp::new(config);
    app.set_backend(Backend::Memory(MemoryBackend::default()));
    app
}

/// `n` connections that send `greeting` (possibly nothing) and then wait.
fn idle_sockets(addr: SocketAddr, n: usize, greeting: &[u8]) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(greeting).expect("greeting");
            s
        })
        .collect()
}

/// How long until the server closes `stream` (reads EOF or a reset), up to `bound`.
fn closed_within(mut stream: TcpStream, bound: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_read_timeout(Some(bound)).expect("read timeout");
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None
            }
            Err(_) => return Some(started.elapsed()),
        }
    }
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twice_the_cap_in_idle_sockets_never_locks_out_healthz_or_the_api() {
    let app = memory_app(config());
    let server = serve_with(&app, small(), None).await;
    let addr = server.local_addr();
    let url = server.url();
    // 2x the cap: silent sockets, HTTP/2 prefaces, and half request heads.
    let mut held = idle_sockets(addr, 12, b"");
    held.extend(idle_sockets(addr, 10, H2_PREFACE));
    held.extend(idle_sockets(
        addr,
        10,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
    ));
    let http = Client::builder()
        .timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let started = Instant::now();
    let health = http
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("healthz answers");
    let healthz_after = started.elapsed();
    assert_eq!(health.status(), StatusCode::OK);
    let api = http
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("the API answers");
    assert_eq!(api.status(), StatusCode::OK);
    println!(
        "healthz with {} idle sockets open (cap 16): {healthz_after:?}",
        held.len()
    );
    assert!(healthz_after < Duration::from_secs(1), "{healthz_after:?}");
    drop(held);
    server.shutdown().await;
    app.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_half_sent_connections_are_closed_at_the_head_deadline() {
    let app = memory_app(config());
    let server = serve_with(&app, small(), None).await;
    let addr = server.local_addr();
    for greeting in [
        &b""[..],
        H2_PREFACE,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
    ] {
        let socket = idle_sockets(addr, 1, greeting).remove(0);
        let closed =
            tokio::task::spawn_blocking(move || closed_within(socket, Duration::from_secs(4)))
                .await
                .expect("reader");
        let closed = closed.unwrap_or_else(|| panic!("{greeting:?}: still open after 4 s"));
        assert!(
            closed < Duration::from_millis(2_500),
            "{greeting:?}: closed after {closed:?}"
        );
    }
    server.shutdown().await;
    app.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = memory_app(config());
    let server = serve_with(&app, small(), None).await;
    let mut socket = TcpStream::connect(server.local_addr()).expect("connect");
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    socket
        .set_read_timeout(Some(Duration::from_secs(4)))
        .expect("read timeout");
    let mut first = [0u8; 12];
    socket.read_exact(&mut first).expect("a response");
    assert_eq!(&first, b"HTTP/1.1 200");
    let closed = tokio::task::spawn_blocking(move || closed_within(socket, Duration::from_secs(5)))
        .await
        .expect("reader")
        .expect("closed within 5 s");
    assert!(
        closed < Duration::from_millis(3_500),
        "closed after {closed:?}"
    );
    server.shutdown().await;
    app.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tls_handshakes_are_shed_and_https_still_answers() {
    let material = TlsMaterial::generate().expect("certificates");
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = material.write_to(dir.path()).expect("written");
    let app = memory_app(config());
    let tls = TlsFiles {
        cert: paths.server_cert.clone(),
        key: paths.server_key.clone(),
    };
    let server = serve_with(&app, small(), Some(tls)).await;
    let addr = server.local_addr();
    // A TLS ClientHello is never sent: 2x the cap of silent sockets.
    let held = idle_sockets(addr, 32, b"");
    let ca = reqwest::Certificate::from_pem(material.ca_cert_pem.as_bytes()).expect("CA");
    let https = Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let url = format!("https://localhost:{}", addr.port());
    let health = https
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), StatusCode::OK);
    // And a silent handshake is closed by the head deadline.
    let socket = idle_sockets(addr, 1, b"").remove(0);
    let closed = tokio::task::spawn_blocking(move || closed_within(socket, Duration::from_secs(4)))
        .await
        .expect("reader")
        .expect("closed within 4 s");
    assert!(
        closed < Duration::from_millis(2_500),
        "closed after {closed:?}"
    );
    drop(held);
    server.shutdown().await;
    app.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_have_a_cap_of_their_own() {
    let mut config = config();
    config.max_event_streams = 2;
    let app = memory_app(config);
    let server = serve_with(&app, ConnectionLimits::default(), None).await;
    let url = server.url();
    let http = client();
    let open = |http: Client, url: String| async move {
        http.get(format!("{url}/api/events"))
            .header(header::AUTHORIZATION, bearer())
            .send()
            .await
            .expect("events answer")
    };
    let first = open(http.clone(), url.clone()).await;
    let second = open(http.clone(), url.clone()).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    let third = open(http.clone(), url.clone()).await;
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = third.json().await.expect("json");
    assert_eq!(body["error"], "too_many_event_streams");
    // A closed stream frees its slot.
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        let response = open(http.clone(), url.clone()).await;
        if response.status() == StatusCode::OK {
            reopened = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        reopened.is_some(),
        "the slot of a closed stream was not freed"
    );
    drop((second, reopened));
    server.shutdown().await;
    app.close();
}

/// One raw request with a chosen `Host`; the status code.
fn status_for_host(addr: SocketAddr, path: &str, host: &str) -> u16 {
    let headers = format!("Host: {host}\r\nAuthorization: {}\r\n", bearer());
    raw_request(addr, path, &headers).0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_hosts_are_refused_against_dns_rebinding() {
    let mut config = config();
    config.allowed_hosts = Some(
        directive_admin::LOOPBACK_HOSTS
            .iter()
            .map(|h| (*h).to_owned())
            .collect(),
    );
    let app = memory_app(config);
    let server = serve_with(&app, ConnectionLimits::default(), None).await;
    let addr = server.local_addr();
    let port = addr.port();
    let cases = [
        ("/api/directives", format!("127.0.0.1:{port}"), 200),
        ("/api/directives", format!("localhost:{port}"), 200),
        ("/api/directives", format!("[::1]:{port}"), 200),
        ("/api/directives", format!("evil.example:{port}"), 421),
        ("/api/directives", "evil.example".to_owned(), 421),
        ("/", format!("rebound.attacker.test:{port}"), 421),
        ("/healthz", "evil.example".to_owned(), 200),
    ];
    for (path, host, want) in cases {
        let got = tokio::task::spawn_blocking({
            let host = host.clone();
            move || status_for_host(addr, path, &host)
        })
        .await
        .expect("client");
        assert_eq!(got, want, "{path} with Host: {host}");
    }
    server.shutdown().await;
    app.close();
}
