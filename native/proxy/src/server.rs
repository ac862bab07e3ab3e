//! A reverse proxy that applies the directive hook to every request.
//!
//! Per request: read the attributes, ask the hook (one snapshot load and one
//! evaluation), open a `tracing` span at the decided level, forward to the
//! upstream, and, when the options say so ([`DiagnosticsHeader`]; never by
//! default), report the decision in the `x-diagnostics` response header so
//! that users and tests can see what applied. Generic over [`Hook`], so
//! the no-directives baseline is the same code with the hook compiled out.

use std::net::SocketAddr;
use std::sync::Arc;

use directive_conn::{accept, builder, drive, tracked, Registry};
use http::header::HOST;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::attrs::{
    HeaderProblem, IdGenerator, RequestAttrs, RequestIdPolicy, CLIENT_REQUEST_ID_HEADER,
    REQUEST_ID_HEADER,
};
use super::hook::{diagnostics_span, header_value, Hook, HEADER};
use super::hop::strip_hop_by_hop;
use super::host::request_host;
use super::options::{DiagnosticsHeader, ProxyOptions};
use super::path::normalize;

type ProxyBody = BoxBody<Bytes, hyper::Error>;

struct Proxy<H> {
    hook: H,
    upstream: SocketAddr,
    client: Client<HttpConnector, Incoming>,
    request_ids: RequestIdPolicy,
    diagnostics_header: DiagnosticsHeader,
    ids: IdGenerator,
}

/// Serves the proxy on `listener`, forwarding to `upstream`, until
/// `shutdown`, with the default [`ProxyOptions`].
pub async fn serve<H: Hook>(
    listener: TcpListener,
    hook: H,
    upstream: SocketAddr,
    shutdown: CancellationToken,
) {
    serve_with(listener, hook, upstream, ProxyOptions::default(), shutdown).await;
}

/// [`serve`] with explicit options: connection limits (a cap where a
/// newcomer evicts the longest-idle connection, a request-head deadline from
/// accept, an idle timeout, HTTP/2 keep-alive) and the request-id policy.
pub async fn serve_with<H: Hook>(
    listener: TcpListener,
    hook: H,
    upstream: SocketAddr,
    options: ProxyOptions,
    shutdown: CancellationToken,
) {
    let limits = options.limits;
    let proxy = Arc::new(Proxy {
        hook,
        upstream,
        client: Client::builder(TokioExecutor::new()).build_http(),
        request_ids: options.request_ids,
        diagnostics_header: options.diagnostics_header,
        ids: IdGenerator::new(),
    });
    let registry = Registry::new(limits.max_connections);
    let builder = Arc::new(builder(&limits));
    loop {
        let Some(stream) = accept(&listener, &shutdown).await else {
            return;
        };
        let Some(admitted) = registry.admit() else {
            // Every connection is busy: refuse at once rather than queue.
            continue;
        };
        let proxy = Arc::clone(&proxy);
        let shutdown = shutdown.clone();
        let builder = Arc::clone(&builder);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let proxy = Arc::clone(&proxy);
                async move { Ok::<_, std::convert::Infallible>(proxy.handle(req).await) }
            });
            let activity = &admitted.activity;
            let service = tracked(service, Arc::clone(activity));
            let io = TokioIo::new(stream);
            drive(&builder, io, service, activity, &limits, &shutdown).await;
        });
    }
}

impl<H: Hook> Proxy<H> {
    async fn handle(&self, mut req: http::Request<Incoming>) -> http::Response<ProxyBody> {
        strip_hop_by_hop(req.headers_mut());
        let show_decision = self.diagnostics_header.wanted(req.headers());
        if let DiagnosticsHeader::OnRequest(name) = self.diagnostics_header {
            // The upstream never sees who asked to see the decision.
            req.headers_mut().remove(name);
        }
        let host = match request_host(&req) {
            Ok(host) => host,
            Err(e) => return error(StatusCode::BAD_REQUEST, e.message()),
        };
        // Classify and forward the same, normalised path.
        let Ok(path) = normalize(req.uri().path()) else {
            return error(StatusCode::BAD_REQUEST, "bad request target");
        };
        let attrs = match RequestAttrs::from_http(&req, self.request_ids, || self.ids.next()) {
            Ok(attrs) => attrs,
            Err(bad) => {
                let status = match bad.problem {
                    HeaderProblem::TooLong => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    _ => StatusCode::BAD_REQUEST,
                };
                return error(status, &bad.to_string());
            }
        };
        forwarded_identity(req.headers_mut(), host, &attrs);
        let decision = self.hook.decide(&attrs.as_request());
        let span = diagnostics_span(decision.as_ref(), &attrs);
        let started = std::time::Instant::now();
        let method = req.method().clone();
        let response = async {
            let uri = match req.uri().query() {
                Some(query) => format!("http://{}{}?{query}", self.upstream, path.encoded),
                None => format!("http://{}{}", self.upstream, path.encoded),
            };
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
            strip_hop_by_hop(headers);
            if let Ok(v) = HeaderValue::from_str(&attrs.request_id) {
                headers.insert(REQUEST_ID_HEADER, v);
            }
            if let (Some(d), true) = (&decision, show_decision) {
                headers.insert(HEADER, HeaderValue::from_static(header_value(d)));
            }
            response
        }
        .instrument(span)
        .await;
        // One line per request at debug: the endpoint class, never the
        // path or a header value (they may name tenants and documents).
        tracing::debug!(
            method = %method,
            endpoint = attrs.endpoint.as_str(),
            level = decision.map_or("none", |d| d.level.as_str()),
            status = response.status().as_u16(),
            duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "proxied"
        );
        response
    }
}

/// Sets the headers that say who and what the forwarded request is for: the
/// resolved `Host`, the request id the decision used, and the client's own
/// id beside it when the proxy chose another.
fn forwarded_identity(
    headers: &mut http::HeaderMap,
    host: Option<HeaderValue>,
    attrs: &RequestAttrs,
) {
    headers.remove(HOST);
    if let Some(host) = host {
        headers.insert(HOST, host);
    }
    let client_header = HeaderName::from_static(CLIENT_REQUEST_ID_HEADER);
    headers.remove(&client_header);
    if let Ok(v) = HeaderValue::from_str(&attrs.request_id) {
        headers.insert(REQUEST_ID_HEADER, v);
    }
    if let Some(v) = attrs
        .client_request_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        headers.insert(client_header, v);
    }
}

fn error(status: StatusCode, message: &str) -> http::Response<ProxyBody> {
    let body = Full::new(Bytes::from(
        serde_json::json!({ "error": message }).to_string(),
    ))
    .map_err(|never| match never {})
    .boxed();
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response
}
