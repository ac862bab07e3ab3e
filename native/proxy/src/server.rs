//! A reverse proxy that applies the directive hook to every request.
//!
//! Per request: read the attributes, ask the hook (one snapshot load and one
//! evaluation), open a `tracing` span at the decided level, forward to the
//! upstream, and report the decision in the `x-diagnostics` response header
//! so that users and tests can see what applied. Generic over [`Hook`], so
//! the no-directives baseline is the same code with the hook compiled out.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use directive_core::{Decision, DiagLevel};
use http::{HeaderValue, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::attrs::{RequestAttrs, REQUEST_ID_HEADER};
use super::hook::{header_value, Hook, HEADER};

type ProxyBody = BoxBody<Bytes, hyper::Error>;

struct Proxy<H> {
    hook: H,
    upstream: SocketAddr,
    client: Client<HttpConnector, Incoming>,
    prefix: String,
    counter: AtomicU64,
}

/// Serves the proxy on `listener`, forwarding to `upstream`, until `shutdown`.
pub async fn serve<H: Hook>(
    listener: TcpListener,
    hook: H,
    upstream: SocketAddr,
    shutdown: CancellationToken,
) {
    let proxy = Arc::new(Proxy {
        hook,
        upstream,
        client: Client::builder(TokioExecutor::new()).build_http(),
        prefix: format!(
            "{:08x}",
            directive_etcd::clock::now_ms() as u32 ^ std::process::id()
        ),
        counter: AtomicU64::new(0),
    });
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        let proxy = Arc::clone(&proxy);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let proxy = Arc::clone(&proxy);
                async move { Ok::<_, std::convert::Infallible>(proxy.handle(req).await) }
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

impl<H: Hook> Proxy<H> {
    fn next_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.prefix)
    }

    async fn handle(&self, mut req: http::Request<Incoming>) -> http::Response<ProxyBody> {
        let attrs = RequestAttrs::from_http(&req, || self.next_id());
        let decision = self.hook.decide(&attrs.as_request());
        let span = diagnostics_span(decision.as_ref(), &attrs);
        async {
            let uri = format!(
                "http://{}{}",
                self.upstream,
                req.uri().path_and_query().map_or("/", |p| p.as_str())
            );
            match uri.parse() {
                Ok(uri) => *req.uri_mut() = uri,
                Err(_) => return error(StatusCode::BAD_REQUEST, "bad request target"),
            }
            let mut response = match self.client.request(req).await {
                Ok(r) => r.map(|b| b.boxed()),
                Err(e) => {
                    tracing::warn!(error = %e, "upstream request failed");
                    return error(StatusCode::BAD_GATEWAY, "upstream unavailable");
                }
            };
            let headers = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&attrs.request_id) {
                headers.insert(REQUEST_ID_HEADER, v);
            }
            if let Some(d) = &decision {
                headers.insert(HEADER, HeaderValue::from_static(header_value(d)));
            }
            response
        }
        .instrument(span)
        .await
    }
}

/// A span at the decided level: more detail, more verbose. `Off` (or no
/// hook) gets a disabled span, which costs nothing.
fn diagnostics_span(decision: Option<&Decision>, attrs: &RequestAttrs) -> tracing::Span {
    let endpoint = attrs.endpoint.as_str();
    let id = attrs.request_id.as_str();
    match decision.map(|d| d.level) {
        Some(DiagLevel::Shape) => {
            tracing::info_span!("diagnostics", level = "Shape", endpoint, request_id = id)
        }
        Some(DiagLevel::ShapeTiming) => {
            tracing::debug_span!(
                "diagnostics",
                level = "ShapeTiming",
                endpoint,
                request_id = id
            )
        }
        Some(DiagLevel::ShapeRewriteDiff) => {
            tracing::trace_span!(
                "diagnostics",
                level = "ShapeRewriteDiff",
                endpoint,
                request_id = id
            )
        }
        _ => tracing::Span::none(),
    }
}

fn error(status: StatusCode, message: &'static str) -> http::Response<ProxyBody> {
    let body = Full::new(Bytes::from(
        serde_json::json!({ "error": message }).to_string(),
    ))
    .map_err(|never| match never {})
    .boxed();
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response
}
