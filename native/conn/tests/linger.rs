//! A server that answers before reading the request body (a refusal) must
//! still get its answer to a client that is busy sending that body.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use directive_conn::{builder, drive, tracked, ConnectionLimits, Registry};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_refusal_reaches_a_client_still_sending_its_body() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let cancel = CancellationToken::new();
    let limits = ConnectionLimits::default();
    let registry = Registry::new(limits.max_connections);
    let server_cancel = cancel.clone();
    tokio::spawn(async move {
        let builder = Arc::new(builder(&limits));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let admitted = registry.admit().expect("room");
            let builder = Arc::clone(&builder);
            let cancel = server_cancel.clone();
            tokio::spawn(async move {
                // Refuses every request without reading its body.
                let service = service_fn(|_req| async {
                    let mut response = http::Response::new(Full::new(Bytes::from_static(b"{}")));
                    *response.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
                    Ok::<_, Infallible>(response)
                });
                let activity = &admitted.activity;
                let service = tracked(service, Arc::clone(activity));
                drive(
                    &builder,
                    TokioIo::new(stream),
                    service,
                    activity,
                    &limits,
                    &cancel,
                )
                .await;
            });
        }
    });
    // Several rounds: without the lingering close, most end in a reset.
    let refused = tokio::task::spawn_blocking(move || {
        (0..5)
            .map(|_| {
                let mut stream = std::net::TcpStream::connect(addr).expect("connect");
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                let body = vec![b'x'; 3 * 1024 * 1024];
                let head = format!(
                    "PUT /x HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).expect("head");
                // A client like reqwest gives up at a failed write, before
                // reading the answer: the whole body must go through.
                let sent = stream.write_all(&body).is_ok();
                let mut response = Vec::new();
                let _ = stream.read_to_end(&mut response);
                sent && String::from_utf8_lossy(&response).starts_with("HTTP/1.1 413")
            })
            .filter(|refused| *refused)
            .count()
    })
    .await
    .expect("client");
    assert_eq!(refused, 5, "every client sent its body and read its 413");
    cancel.cancel();
}
