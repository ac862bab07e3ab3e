//! Connection- and header-level attacks on the reverse proxy, on loopback:
//! hop-by-hop headers in both directions, and idle sockets beyond the cap.
//! Every loop is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use directive_core::sampling;
use directive_etcd::InMemoryDirectiveStore;
use directive_proxy::{
    serve_with, ConnectionLimits, DiagnosticsHeader, DirectiveHook, ProxyOptions, RequestIdPolicy,
    HEADER,
};
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

/// Options that show the decision on every response (what these tests read).
fn shown() -> ProxyOptions {
    ProxyOptions {
        diagnostics_header: DiagnosticsHeader::Always,
        ..ProxyOptions::default()
    }
}

async fn proxy(
    upstream: SocketAddr,
    options: ProxyOptions,
    shutdown: CancellationToken,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("addr");
    // Every search on index `orders`; 1 per mille of principal `sampled`.
    let doc = br#"{"directives":[
        {"id":"orders","level":"ShapeRewriteDiff","ttl_secs":600,"index":"orders","endpoint":"Search"},
        {"id":"rare","level":"Shape","ttl_secs":600,"principal":"sampled","sample_per_mille":1}
    ]}"#;
    let now = directive_etcd::clock::now_ms();
    let set = directive_core::decode(doc, now, &directive_core::Limits::default()).expect("valid");
    let hook = DirectiveHook::new(InMemoryDirectiveStore::new().with_directives(set));
    tokio::spawn(serve_with(listener, hook, upstream, options, shutdown));
    addr
}

/// One raw HTTP/1.1 exchange, read until `complete` says the response so
/// far is whole, the peer closes, or 5 s pass; lowercased.
fn exchange_until(addr: SocketAddr, request: &str, complete: fn(&str) -> bool) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !complete(&String::from_utf8_lossy(&response)) {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&response).to_lowercase()
}

/// The response head, lowercased.
fn exchange(addr: SocketAddr, request: &str) -> String {
    exchange_until(addr, request, |r| r.contains("\r\n\r\n"))
}

/// The whole response (its body is a JSON object), lowercased.
fn exchange_full(addr: SocketAddr, request: &str) -> String {
    exchange_until(addr, request, |r| {
        r.split_once("\r\n\r\n")
            .is_some_and(|(_, body)| body.ends_with('}'))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_are_stripped_in_both_directions() {
    let shutdown = CancellationToken::new();
    let (upstream, heads) = recording_upstream(shutdown.clone()).await;
    let addr = proxy(upstream, shown(), shutdown.clone()).await;
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
    let options = ProxyOptions { limits, ..shown() };
    let addr = proxy(upstream, options, shutdown.clone()).await;
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
    let addr = proxy(upstream, shown(), shutdown.clone()).await;
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

/// The `x-diagnostics` value in a lowercased response head.
fn decision(response: &str) -> &str {
    let header = format!("{}: ", HEADER.to_lowercase());
    response
        .lines()
        .find_map(|l| l.strip_prefix(header.as_str()))
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_request_ids_do_not_steer_sampling_unless_trusted() {
    let shutdown = CancellationToken::new();
    let (upstream, heads) = recording_upstream(shutdown.clone()).await;
    let default = proxy(upstream, shown(), shutdown.clone()).await;
    let trusting = ProxyOptions {
        request_ids: RequestIdPolicy::TrustClient,
        ..shown()
    };
    let trusting = proxy(upstream, trusting, shutdown.clone()).await;
    // Twenty ids an attacker picked because each lands in the 1-per-mille
    // bucket (a bounded search: about 1,000 tries per id).
    let picked: Vec<String> = (0..100_000)
        .map(|i| format!("pick-{i}"))
        .filter(|id| sampling::bucket(id) < 1)
        .take(20)
        .collect();
    assert_eq!(picked.len(), 20);
    let traced = |addr: SocketAddr, ids: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            ids.iter()
                .map(|id| {
                    let request = format!(
                        "GET /logs/_search HTTP/1.1\r\nhost: proxy\r\nx-principal: sampled\r\n\
                         x-request-id: {id}\r\n\r\n"
                    );
                    let response = exchange(addr, &request);
                    assert!(response.starts_with("http/1.1 200"), "{response}");
                    (decision(&response).starts_with("shape;"), response)
                })
                .collect::<Vec<_>>()
        })
    };
    let by_default = traced(default, picked.clone()).await.expect("client");
    let hits = by_default.iter().filter(|(t, _)| *t).count();
    // Generated ids sample at 1 per mille: P(3 or more of 20) is about 1e-6.
    assert!(hits <= 2, "{hits} of 20 picked ids traced by default");
    for ((_, response), id) in by_default.iter().zip(&picked) {
        assert!(
            !response.contains(&format!("x-request-id: {id}")),
            "the client's id was reflected as the request id: {response}"
        );
    }
    {
        let heads = heads.lock().expect("lock");
        let last = heads.last().expect("forwarded");
        assert!(
            last.contains(&format!("x-client-request-id: {}", picked[19])),
            "the client's id travels upstream beside the generated one: {last}"
        );
        assert!(
            !last.contains(&format!("x-request-id: {}", picked[19])),
            "{last}"
        );
    }
    // Behind a trusted edge the same ids are all traced: the test can tell.
    let trusted = traced(trusting, picked).await.expect("client");
    assert_eq!(trusted.iter().filter(|(t, _)| *t).count(), 20);
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_and_attribute_headers_are_checked_before_forwarding() {
    let shutdown = CancellationToken::new();
    let (upstream, heads) = recording_upstream(shutdown.clone()).await;
    let addr = proxy(upstream, shown(), shutdown.clone()).await;
    let long = "t".repeat(257);
    let cases: [(String, &str, &str); 7] = [
        (
            "GET /orders/_search HTTP/1.1\r\n\r\n".into(),
            "400",
            "missing host header",
        ),
        (
            "GET /orders/_search HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n".into(),
            "400",
            "more than one host",
        ),
        (
            "GET /orders/_search HTTP/1.1\r\nhost: u@a\r\n\r\n".into(),
            "400",
            "invalid host",
        ),
        (
            format!("GET /orders/_search HTTP/1.1\r\nhost: a\r\nx-tenant: {long}\r\n\r\n"),
            "431",
            "x-tenant is longer than 256 bytes",
        ),
        (
            "GET /orders/_search HTTP/1.1\r\nhost: a\r\nx-tenant: a\r\nx-tenant: b\r\n\r\n".into(),
            "400",
            "x-tenant is sent more than once",
        ),
        ("GET /orders/_search HTTP/1.0\r\n\r\n".into(), "200", ""),
        (
            "GET http://target.example/orders/_search HTTP/1.1\r\nhost: other\r\n\r\n".into(),
            "200",
            "",
        ),
    ];
    for (request, status, error) in cases {
        let sent = request.clone();
        let response = tokio::task::spawn_blocking(move || exchange_full(addr, &sent))
            .await
            .expect("client");
        // (An HTTP/1.0 request is answered in HTTP/1.0.)
        assert_eq!(response.get(9..12), Some(status), "{request:?}: {response}");
        assert!(response.contains(error), "{request:?}: {response}");
    }
    let head = heads.lock().expect("lock").pop().expect("forwarded");
    assert!(
        head.contains("host: target.example"),
        "an absolute-form target's authority is the host forwarded: {head}"
    );
    assert_eq!(
        heads.lock().expect("lock").len(),
        1,
        "only valid requests were forwarded"
    );
    shutdown.cancel();
}

/// CPU time (user + system, in clock ticks) a process has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the command name (which may hold spaces) start at ")".
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .expect("stat format")
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the whole line.
    let field = |i: usize| fields[i - 3].parse::<u64>().expect("ticks");
    field(14) + field(15)
}

/// Set in the child process of `out_of_file_descriptors_backs_off_and_recovers`.
const EMFILE_CHILD: &str = "DIRECTIVE_PROXY_EMFILE_CHILD";

/// The test binary runs itself again as a child (so the test runner keeps
/// its own limit) under `ulimit -n 32`, where this test serves the proxy;
/// with its descriptors exhausted by held connections, accept fails with
/// EMFILE: the proxy must back off rather than spin, and serve again once
/// the connections go away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_backs_off_and_recovers() {
    if std::env::var_os(EMFILE_CHILD).is_some() {
        let shutdown = CancellationToken::new();
        let (upstream, _) = recording_upstream(shutdown.clone()).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        eprintln!("proxy on http://{}", listener.local_addr().expect("addr"));
        let hook = DirectiveHook::new(InMemoryDirectiveStore::new());
        // Serves until the parent kills this process.
        serve_with(listener, hook, upstream, ProxyOptions::default(), shutdown).await;
        return;
    }
    let test_binary = std::env::current_exe().expect("test binary path");
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg("ulimit -n 32 && exec \"$@\"")
        .arg("bash")
        .arg(&test_binary)
        .args([
            "--exact",
            "hostile::out_of_file_descriptors_backs_off_and_recovers",
            "--nocapture",
        ])
        .env(EMFILE_CHILD, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("proxy starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let addr: SocketAddr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the proxy announces its address");
        if let Some(addr) = line
            .strip_prefix("proxy on http://")
            .and_then(|a| a.trim().parse().ok())
        {
            break addr;
        }
    };
    let pid = child.id();
    let outcome = tokio::task::spawn_blocking(move || {
        let get = "GET /orders/_search HTTP/1.1\r\nhost: proxy\r\n\r\n";
        let first = exchange(addr, get);
        assert!(first.starts_with("http/1.1 200"), "{first}");
        // Far more connections than descriptors: accept starts failing.
        let held: Vec<TcpStream> = (0..64)
            .map(|_| TcpStream::connect(addr).expect("the kernel accepts into the backlog"))
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let before = cpu_ticks(pid);
        let window = Duration::from_secs(2);
        std::thread::sleep(window);
        let used = cpu_ticks(pid) - before;
        drop(held);
        // Recovery, bounded.
        let deadline = Instant::now() + Duration::from_secs(10);
        let recovered = loop {
            let mut stream = match TcpStream::connect(addr) {
                Ok(s) => s,
                Err(_) => continue,
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = stream.write_all(get.as_bytes());
            let mut buf = [0u8; 64];
            if matches!(stream.read(&mut buf), Ok(n) if buf[..n].starts_with(b"HTTP/1.1 200")) {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (used, recovered)
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let (used, recovered) = outcome.expect("client");
    // Clock ticks are 1/100 s: spinning on accept would use about 200.
    println!("proxy at EMFILE used {used} ticks of CPU in 2 s");
    assert!(
        used < 40,
        "the accept loop spins at EMFILE: {used} ticks in 2 s"
    );
    assert!(
        recovered,
        "the proxy did not serve again after the connections closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_is_disclosed_only_when_the_operator_says_so() {
    let shutdown = CancellationToken::new();
    let (upstream, _heads) = recording_upstream(shutdown.clone()).await;
    let search = "GET /orders/_search HTTP/1.1\r\nhost: proxy\r\n\r\n";
    // The default: nothing on the wire about what was decided.
    let default = proxy(upstream, ProxyOptions::default(), shutdown.clone()).await;
    let response = tokio::task::spawn_blocking(move || exchange(default, search))
        .await
        .expect("client");
    assert!(response.starts_with("http/1.1 200"), "{response}");
    assert!(!response.contains(&HEADER.to_lowercase()), "{response}");
    // On request: only for requests that carry the operator's header.
    let on_request = ProxyOptions {
        diagnostics_header: DiagnosticsHeader::OnRequest("x-show-diagnostics"),
        ..ProxyOptions::default()
    };
    let addr = proxy(upstream, on_request, shutdown.clone()).await;
    let asked = "GET /orders/_search HTTP/1.1\r\nhost: proxy\r\nx-show-diagnostics: 1\r\n\r\n";
    let (plain, shown) =
        tokio::task::spawn_blocking(move || (exchange(addr, search), exchange(addr, asked)))
            .await
            .expect("client");
    assert_eq!(decision(&plain), "", "{plain}");
    assert_eq!(
        decision(&shown),
        "shaperewritediff; ring=0; capture=0",
        "{shown}"
    );
    shutdown.cancel();
}
