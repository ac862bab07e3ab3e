//! Connection- and header-level attacks on the reverse proxy, on loopback:
//! hop-by-hop headers in both directions, and idle sockets beyond the cap.
//! Every loop is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use directive_etcd::InMemoryDirectiveStore;
use directive_proxy::{serve_with_limits, ConnectionLimits, DirectiveHook, HEADER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// An upstream that records each request head it receives and answers with
/// hop-by-hop headers of its own.
async fn recording_upstream(shutdown: CancellationToken) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&heads);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = tokio::select! {
                () = shutdown.cancelled() => return,
                a = listener.accept() => match a { Ok(a) => a, Err(_) => return },
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                seen.lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&head).to_lowercase());
                let body = b"{}";
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: x-up-secret\r\nx-up-secret: 1\r\nkeep-alive: timeout=5\r\n\
                     proxy-authenticate: Basic\r\nx-up-visible: 1\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.write_all(body).await;
            });
        }
    });
    (addr, heads)
}

async fn proxy(
    upstream: SocketAddr,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("addr");
    // One directive: every search on index `orders`.
    let doc = br#"{"directives":[{"id":"orders","level":"ShapeRewriteDiff","ttl_secs":600,"index":"orders","endpoint":"Search"}]}"#;
    let now = directive_etcd::clock::now_ms();
    let set = directive_core::decode(doc, now, &directive_core::Limits::default()).expect("valid");
    let hook = DirectiveHook::new(InMemoryDirectiveStore::new().with_directives(set));
    tokio::spawn(serve_with_limits(
        listener, hook, upstream, limits, shutdown,
    ));
    addr
}

/// One raw HTTP/1.1 exchange; the response head, lowercased.
fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&response).to_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_are_stripped_in_both_directions() {
    let shutdown = CancellationToken::new();
    let (upstream, heads) = recording_upstream(shutdown.clone()).await;
    let addr = proxy(upstream, ConnectionLimits::default(), shutdown.clone()).await;
    let request = "GET /orders/_search HTTP/1.1\r\nhost: proxy\r\nx-tenant: acme\r\n\
                   connection: keep-alive, x-client-secret, upgrade\r\nx-client-secret: 1\r\n\
                   keep-alive: timeout=5\r\nupgrade: h2c\r\nte: trailers\r\n\
                   proxy-authorization: Basic cHJveHk6cGFzcw==\r\nproxy-connection: keep-alive\r\n\r\n";
    let response = tokio::task::spawn_blocking(move || exchange(addr, request))
        .await
        .expect("client");
    assert!(response.starts_with("http/1.1 200"), "{response}");
    let head = heads
        .lock()
        .expect("lock")
        .first()
        .cloned()
        .expect("the upstream got the request");
    for hop in [
        "x-client-secret",
        "keep-alive:",
        "upgrade:",
        "te:",
        "proxy-authorization",
        "proxy-connection",
    ] {
        assert!(!head.contains(hop), "{hop} reached the upstream:\n{head}");
    }
    assert!(head.contains("x-tenant: acme"), "{head}");
    for hop in ["x-up-secret", "keep-alive:", "proxy-authenticate"] {
        assert!(
            !response.contains(hop),
            "{hop} reached the client:\n{response}"
        );
    }
    assert!(response.contains("x-up-visible: 1"), "{response}");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twice_the_cap_in_idle_sockets_never_locks_out_requests() {
    let shutdown = CancellationToken::new();
    let (upstream, _) = recording_upstream(shutdown.clone()).await;
    let limits = ConnectionLimits {
        max_connections: 16,
        head_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        ..ConnectionLimits::default()
    };
    let addr = proxy(upstream, limits, shutdown.clone()).await;
    let held: Vec<TcpStream> = (0..32)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let started = Instant::now();
    let response = tokio::task::spawn_blocking(move || {
        exchange(addr, "GET /orders/_search HTTP/1.1\r\nhost: proxy\r\n\r\n")
    })
    .await
    .expect("client");
    let elapsed = started.elapsed();
    assert!(response.starts_with("http/1.1 200"), "{response}");
    println!(
        "proxy answered with {} idle sockets open (cap 16) in {elapsed:?}",
        held.len()
    );
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    // The idle sockets themselves are closed at the head deadline.
    let mut first = held.into_iter().next().expect("a socket");
    first
        .set_read_timeout(Some(Duration::from_secs(4)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    let closed = match first.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    assert!(closed, "an idle socket is still open");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_and_dotted_paths_are_classified_as_they_are_forwarded() {
    let shutdown = CancellationToken::new();
    let (upstream, heads) = recording_upstream(shutdown.clone()).await;
    let addr = proxy(upstream, ConnectionLimits::default(), shutdown.clone()).await;
    let header = HEADER.to_lowercase();
    for path in [
        "/orders/_search",
        "/%6frders/_search",
        "/x/../orders/_search",
        "//orders/./_search",
    ] {
        let request = format!("GET {path}?q=1 HTTP/1.1\r\nhost: proxy\r\n\r\n");
        let response = tokio::task::spawn_blocking(move || exchange(addr, &request))
            .await
            .expect("client");
        assert!(response.starts_with("http/1.1 200"), "{path}: {response}");
        assert!(
            response.contains(&format!("{header}: shaperewritediff")),
            "{path}: the orders directive did not apply:\n{response}"
        );
        let head = heads.lock().expect("lock").pop().expect("forwarded");
        assert!(
            head.starts_with("get /orders/_search?q=1 "),
            "{path} forwarded as {head}"
        );
    }
    for path in ["/a%2Fb/_search", "/../orders/_search", "/%FF/_search"] {
        let request = format!("GET {path} HTTP/1.1\r\nhost: proxy\r\n\r\n");
        let response = tokio::task::spawn_blocking(move || exchange(addr, &request))
            .await
            .expect("client");
        assert!(response.starts_with("http/1.1 400"), "{path}: {response}");
    }
    shutdown.cancel();
}
