//! A trivial upstream: answers every request with its method and path.
//!
//! Stands in for the search cluster behind the proxy in the demo, the tests
//! and the benchmark, so that what is measured is the proxy, not a backend.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves the echo upstream on `listener` until `shutdown` is cancelled.
pub async fn serve_echo(listener: TcpListener, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                let body = serde_json::json!({
                    "method": req.method().as_str(),
                    "path": req.uri().path(),
                })
                .to_string();
                Ok::<_, Infallible>(
                    http::Response::builder()
                        .header(http::header::CONTENT_TYPE, "application/json")
                        .body(Full::new(Bytes::from(body)))
                        .unwrap_or_default(),
                )
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                () = shutdown.cancelled() => {}
                _ = conn => {}
            }
        });
    }
}
