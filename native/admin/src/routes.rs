//! The router: which path goes where, and the layers around it.
//!
//! Outermost first: request logging (method, route template, status and
//! time only, so neither a query string nor a path typed by a client ever
//! reaches a log), security headers, optional CORS for one configured
//! origin, then the routes. `/healthz` and `/readyz` need no token (probes
//! carry none); everything under `/api` does, checked before any body is
//! read; the UI is public static content.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::Router;
use tower_http::cors::CorsLayer;

use super::auth::require_role;
use super::handlers;
use super::sse;
use super::state::AppState;
use super::ui::ui_router;

/// `/metrics` alone, without the token, for a listener of its own.
pub(crate) fn metrics_router(state: Arc<AppState>, allowed: Option<Vec<String>>) -> Router {
    let app = Router::new()
        .route("/metrics", get(handlers::metrics_text))
        .with_state(state);
    guarded(app, allowed)
}

/// The whole app.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route(
            "/api/directives",
            get(handlers::get_directives).put(handlers::put_directives),
        )
        .route("/api/validate", post(handlers::validate_document))
        .route("/api/history", get(handlers::history))
        .route("/api/history/{revision}", get(handlers::history_version))
        .route("/api/rollback", post(handlers::rollback))
        .route("/api/events", get(sse::events))
        .route("/api/fleet", get(handlers::fleet))
        .route("/api", any(handlers::api_not_found))
        .route("/api/{*rest}", any(handlers::api_not_found));
    let api = if state.config.metrics_behind_token {
        api.route("/metrics", get(handlers::metrics_text))
    } else {
        api
    };
    let api = api.route_layer(middleware::from_fn_with_state(
        Arc::new(state.config.principals.clone()),
        require_role,
    ));
    let mut app = Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .merge(api)
        .merge(ui_router(state.config.ui_dir.as_deref()))
        .with_state(Arc::clone(&state));
    if let Some(origin) = &state.config.cors_origin {
        match HeaderValue::from_str(origin) {
            Ok(origin) => app = app.layer(cors(origin)),
            Err(_) => tracing::warn!("ignoring an invalid CORS origin"),
        }
    }
    guarded(app, state.config.allowed_hosts.clone())
}

/// The layers every listener gets: the `Host` allow-list (DNS rebinding)
/// and the request log with its hardening headers.
fn guarded(app: Router, allowed: Option<Vec<String>>) -> Router {
    let allowed = allowed.map(Arc::new);
    app.layer(middleware::from_fn(move |request: Request, next: Next| {
        let allowed = allowed.clone();
        async move {
            match &allowed {
                Some(names) if !host_allowed(&request, names) => misdirected(),
                _ => next.run(request).await,
            }
        }
    }))
    .layer(middleware::from_fn(log_and_harden))
}

/// The loopback names a server bound to loopback answers to by default.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// True for the health routes, and when the request's host (HTTP/2
/// `:authority`, else `Host`, port removed) is one of `names`.
fn host_allowed(request: &Request, names: &[String]) -> bool {
    let path = request.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return true;
    }
    let authority = request.uri().authority().map(|a| a.as_str()).or_else(|| {
        request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
    });
    let Some(authority) = authority else {
        return false;
    };
    let host = match authority.strip_prefix('[') {
        // `[::1]:8080`
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    names.iter().any(|n| n.eq_ignore_ascii_case(host))
}

fn misdirected() -> Response {
    let mut response = super::error::json_body(serde_json::json!({"error": "host_not_allowed"}));
    *response.status_mut() = axum::http::StatusCode::MISDIRECTED_REQUEST;
    response
}

/// CORS for exactly one origin, with the headers the API uses.
fn cors(origin: HeaderValue) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::PUT, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            HeaderName::from_static("x-change-message"),
            HeaderName::from_static("x-change-source"),
        ])
        .expose_headers([header::ETAG])
}

/// Logs one line per request (no query, no raw path, no headers) and adds
/// `X-Content-Type-Options: nosniff` everywhere and `Cache-Control:
/// no-store` on API answers (they may carry the directive set).
async fn log_and_harden(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = route_label(request.uri().path());
    let is_api = request.uri().path().starts_with("/api");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The UI is same-origin ES modules and the WASM validator: no inline
    // script or style, never framed, no referrer leaves the page.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if is_api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    tracing::info!(
        %method,
        route,
        status = response.status().as_u16(),
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "admin request"
    );
    response
}

/// The routes logged by name; anything else is logged as a class, so a
/// path typed by a client (which could hold anything) never reaches a log.
/// Same-origin scripts (`'wasm-unsafe-eval'` only lets the page compile its
/// own WASM validator), styles, images and requests; no plugins, no base
/// rewriting, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const KNOWN_ROUTES: [&str; 9] = [
    "/healthz",
    "/readyz",
    "/api/directives",
    "/api/validate",
    "/api/history",
    "/api/rollback",
    "/api/events",
    "/api/fleet",
    "/metrics",
];

fn route_label(path: &str) -> &'static str {
    match KNOWN_ROUTES.iter().find(|r| **r == path) {
        Some(route) => route,
        None if path.starts_with("/api/history/") => "/api/history/{revision}",
        None if path.starts_with("/api") => "/api/(unknown)",
        None => "(static)",
    }
}
