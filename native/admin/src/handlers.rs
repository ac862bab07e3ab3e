//! The `/api` handlers and the probes.
//!
//! Each handler is a short sequence of checks in a fixed order (readiness,
//! headers, content type, body, then the backend) so the status code for a
//! given request never depends on timing. Tracing fields are revisions,
//! counts and codes only: never the token, never a directive value.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use directive_core::attribution::{Attribution, Operation, Source};
use directive_core::{decode, stamp_as, validate, ValidationReport};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::backend::DataSource;
use super::body::{read_limited, require_json};
use super::error::{json_body, json_body_text, ApiError};
use super::fleet::fleet_json;
use super::metrics;
use super::roles::Caller;
use super::state::AppState;
use directive_etcd::clock::now_ms;

/// Default and largest `limit` of `GET /api/history`.
const HISTORY_DEFAULT: usize = 20;
const HISTORY_MAX: usize = 1000;

type Shared = State<Arc<AppState>>;

/// `GET /healthz`: the process is up.
pub(crate) async fn healthz() -> Response {
    json_body(json!({"status": "ok"}))
}

/// `GET /readyz[?strict]` (ADR 0012): 200 once the store has read the key
/// and while it serves a set; the body says `live`, or `stale` since when
/// (serving the last good set, degraded: etcd is unreachable). 503 before
/// the first read, and with `?strict` whenever the store is not live. A
/// stale admin server still answers reads and the UI, and a stale proxy
/// still applies its last good set: taking them out of rotation during an
/// etcd outage would turn a control-plane outage into a data-plane one,
/// so only a caller that asks (`?strict`) gets 503 for staleness.
pub(crate) async fn readyz(State(state): Shared, RawQuery(query): RawQuery) -> Response {
    // `?strict`, `?strict=1` or `?strict=true`; `?strict=0`/`false` is not.
    let strict = query.as_deref().is_some_and(|q| {
        q.split('&')
            .any(|p| matches!(p, "strict" | "strict=" | "strict=1" | "strict=true"))
    });
    let Ok(backend) = state.ready_backend() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            json_body(json!({"status": "not_ready", "state": "initializing"})),
        )
            .into_response();
    };
    let status = backend.status();
    let (code, body) = match status.state {
        directive_core::State::Stale { since_ms } => (
            if strict {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            },
            json!({
                "status": if strict { "not_ready" } else { "degraded" },
                "state": "stale",
                "stale_since_ms": since_ms,
                "revision": status.applied_revision,
            }),
        ),
        _ => (
            StatusCode::OK,
            json!({
                "status": "ready",
                "state": status.state.name(),
                "revision": status.applied_revision,
            }),
        ),
    };
    (code, json_body(body)).into_response()
}

/// `GET /metrics`: every metric of this process in the Prometheus text
/// format; 404 when the server was started without an exporter.
pub(crate) async fn metrics_text(State(state): Shared) -> Response {
    match &state.config.metrics {
        Some(handle) => {
            handle.run_upkeep();
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                )],
                handle.render(),
            )
                .into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            json_body(json!({"error": "no_metrics_exporter"})),
        )
            .into_response(),
    }
}

/// `GET /api/directives`: the applied set as a validation report, plus the
/// key's revision (what `If-Match` takes; 0 when the key is absent), the
/// store's status, the applied set as a document, the key's revision in the
/// store and whether the value there is not the applied one; `ETag:
/// "<revision>"`.
///
/// `document` is the canonical text of the applied set
/// ([`directive_core::DirectiveSet::to_wire_json_pretty`]: `published_at` =
/// its anchor, the original `ttl_secs`), not the stored bytes: it is what
/// this instance applies even when the stored value is malformed and the
/// store kept the last good set (the raw bytes would then be the refused
/// value), and it is re-publishable verbatim (the raw bytes are in
/// `GET /api/history/{revision}`). It is `null` when no value is applied
/// (the key is absent, or nothing valid was found). `stored_differs` is
/// true when the key's current value (`stored_revision`, 0 = absent) is not
/// the one applied: refused, or not applied yet. `source` says which key of
/// which etcd (or the in-memory key) this is, so an operator knows what
/// they are editing.
pub(crate) async fn get_directives(State(state): Shared) -> Result<Response, ApiError> {
    let backend = state.ready_backend()?;
    let snapshot = backend.snapshot();
    let status = backend.status();
    // One read of the key serves both revisions.
    let stored_revision = backend.stored_revision().await?;
    let revision = backend.key_revision(&snapshot, stored_revision);
    // The snapshot knows whether it stands for a value of the key.
    let from_value = snapshot.has_value();
    let stored_differs = if from_value {
        stored_revision != snapshot.revision
    } else {
        stored_revision != 0
    };
    let body = AppliedSet {
        report: ValidationReport::accepted(&snapshot.set),
        revision,
        status,
        document: from_value.then(|| snapshot.set.to_wire_json_pretty()),
        stored_revision,
        stored_differs,
        source: backend.source(),
    };
    Ok(with_etag(json_body(body), revision))
}

/// The body of `GET /api/directives`: the shared report's keys first.
#[derive(Serialize)]
struct AppliedSet {
    #[serde(flatten)]
    report: ValidationReport,
    revision: i64,
    status: directive_core::Status,
    document: Option<String>,
    stored_revision: i64,
    stored_differs: bool,
    source: DataSource,
}

/// The body of `GET /api/history/{revision}`.
#[derive(Serialize)]
struct StoredVersion {
    revision: i64,
    published_at: Option<u64>,
    document: String,
    report: ValidationReport,
}

/// `PUT /api/directives`: validated, stamped compare-and-swap publish.
pub(crate) async fn put_directives(
    state: Shared,
    caller: Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let result = publish(state, caller, headers, body).await;
    metrics::write("publish", &result);
    result
}

/// Who writes, why and from where: the authenticated caller, the message
/// of `X-Change-Message` (percent-encoded UTF-8) or `message`, and `ui`
/// when `X-Change-Source: ui` says the admin UI sent it (else `api`).
fn attribution(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    op: Operation,
    message: Option<String>,
    restored_revision: Option<i64>,
) -> Result<Attribution, ApiError> {
    let header_message = match headers.get("x-change-message") {
        None => None,
        Some(value) => {
            let text = value
                .to_str()
                .map_err(|_| ApiError::BadRequest("bad_message"))?;
            let decoded = percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map_err(|_| ApiError::BadRequest("bad_message"))?;
            Some(decoded.into_owned())
        }
    };
    let source = match headers.get("x-change-source").map(HeaderValue::as_bytes) {
        Some(b"ui") => Source::Ui,
        _ => Source::Api,
    };
    let record = Attribution {
        author: caller.name.clone(),
        source,
        op,
        message: message.or(header_message).filter(|m| !m.is_empty()),
        restored_revision,
        at_ms: now_ms(),
    };
    record
        .check()
        .map_err(|_| ApiError::BadRequest("bad_message"))?;
    if state.config.require_message && record.message.is_none() {
        return Err(ApiError::BadRequest("message_required"));
    }
    Ok(record)
}

async fn publish(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let backend = state.ready_backend()?;
    let expected = if_match(&headers)?;
    require_json(&headers)?;
    let limits = state.config.limits;
    let document = read_limited(&headers, body, limits.max_bytes).await?;
    // One decode (plus the check of the stamped bytes): the write path.
    let stamped = match stamp_as(&document, now_ms(), &limits, backend.format()) {
        Ok(stamped) => stamped,
        Err(errors) => {
            tracing::info!(
                errors = errors.errors.len(),
                "publish refused: invalid document"
            );
            return Err(ApiError::Invalid(ValidationReport::rejected(&errors)));
        }
    };
    let by = attribution(&state, &caller, &headers, Operation::Publish, None, None)?;
    let published = backend
        .publish_stamped(&stamped, Some(expected), Some(&by))
        .await?;
    tracing::info!(
        expected,
        revision = published.revision,
        directives = stamped.set.len(),
        "published through the admin API"
    );
    Ok(with_etag(
        json_body(json!({"revision": published.revision})),
        published.revision,
    ))
}

/// `POST /api/validate[?now_ms=N]`: the report, byte-identical to
/// `directivectl validate --json`. Bodies up to twice the decoder's limit
/// are read so an oversized document gets its `input_too_large` report
/// like on the command line; beyond that, 413.
pub(crate) async fn validate_document(
    State(state): Shared,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let now = match query_param(query.as_deref(), "now_ms") {
        None => now_ms(),
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| ApiError::BadRequest("bad_now_ms"))?,
    };
    require_json(&headers)?;
    let limits = state.config.limits;
    let limit = limits.max_bytes.saturating_mul(2);
    let document = read_limited(&headers, body, limit).await?;
    let report = validate(&document, now, &limits);
    tracing::debug!(ok = report.ok, errors = report.errors.len(), "validated");
    metrics::validation(report.ok);
    Ok(json_body_text(report.to_json()))
}

/// `GET /api/history[?limit=N]`: `{"entries":[{revision,published_at,directives}]}`, newest first.
pub(crate) async fn history(
    State(state): Shared,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let backend = state.ready_backend()?;
    let limit = match query_param(query.as_deref(), "limit") {
        None => HISTORY_DEFAULT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=HISTORY_MAX).contains(&n) => n,
            _ => return Err(ApiError::BadRequest("bad_limit")),
        },
    };
    let entries = backend.history(limit).await?;
    Ok(json_body(json!({ "entries": entries })))
}

/// `GET /api/history/{revision}`: the version written at that revision,
/// `{"revision","published_at","document","report"}`: the stored text as
/// etcd holds it (what a rollback re-publishes) and its validation report
/// now (what a rollback would get). 404 when no such version, 410 when
/// compacted.
pub(crate) async fn history_version(
    State(state): Shared,
    Path(revision): Path<String>,
) -> Result<Response, ApiError> {
    let backend = state.ready_backend()?;
    let revision = match revision.parse::<i64>() {
        Ok(r) if r > 0 && revision.bytes().all(|b| b.is_ascii_digit()) => r,
        _ => return Err(ApiError::BadRequest("bad_revision")),
    };
    let value = backend.version(revision).await?;
    let decoded = decode(&value, now_ms(), &state.config.limits);
    let body = StoredVersion {
        revision,
        published_at: match &decoded {
            Ok(set) if set.is_stamped() => Some(set.anchor_ms()),
            _ => None,
        },
        document: String::from_utf8_lossy(&value).into_owned(),
        report: ValidationReport::from_result(&decoded),
    };
    Ok(json_body(body))
}

/// The body of `POST /api/rollback`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    revision: i64,
    #[serde(default)]
    expect_revision: Option<i64>,
    /// Why (recorded with the change).
    #[serde(default)]
    message: Option<String>,
}

/// `POST /api/rollback` with `{"revision":R,"expect_revision":R2?}`.
pub(crate) async fn rollback(
    state: Shared,
    caller: Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let result = roll_back(state, caller, headers, body).await;
    metrics::write("rollback", &result);
    result
}

async fn roll_back(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let backend = state.ready_backend()?;
    require_json(&headers)?;
    let bytes = read_limited(&headers, body, 4096).await?;
    let request: RollbackRequest =
        serde_json::from_slice(&bytes).map_err(|_| ApiError::BadRequest("bad_json"))?;
    if request.revision <= 0 {
        return Err(ApiError::BadRequest("bad_revision"));
    }
    let published = backend
        .rollback(
            request.revision,
            request.expect_revision,
            Some(&attribution(
                &state,
                &caller,
                &headers,
                Operation::Rollback,
                request.message,
                Some(request.revision),
            )?),
        )
        .await?;
    tracing::info!(
        from = request.revision,
        revision = published.revision,
        "rolled back through the admin API"
    );
    Ok(with_etag(
        json_body(json!({"revision": published.revision})),
        published.revision,
    ))
}

/// `GET /api/fleet`: the instances reporting on the key and the rollout of
/// its latest write (no instances under an in-memory backend).
pub(crate) async fn fleet(State(state): Shared) -> Response {
    json_body(fleet_json(&state.fleet.now()))
}

/// Any other `/api/...` path (after the token check).
pub(crate) async fn api_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        json_body(json!({"error": "no_such_route"})),
    )
        .into_response()
}

/// The expected revision from `If-Match`: `"12"` or `12`; `"0"` means the
/// key must be absent. Missing: 428. Weak tags, lists and `*`: 400.
fn if_match(headers: &HeaderMap) -> Result<i64, ApiError> {
    let mut values = headers.get_all(header::IF_MATCH).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(header::IF_MATCH) {
            ApiError::BadRequest("bad_if_match")
        } else {
            ApiError::PreconditionRequired
        });
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("bad_if_match"))?
        .trim();
    let bare = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    match bare.parse::<i64>() {
        Ok(r) if r >= 0 && bare.bytes().all(|b| b.is_ascii_digit()) => Ok(r),
        _ => Err(ApiError::BadRequest("bad_if_match")),
    }
}

/// The first value of a query parameter (no percent-decoding needed for the
/// integers this API takes).
fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

fn with_etag(mut response: Response, revision: i64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&format!("\"{revision}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_MATCH,
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(if_match(&with("\"12\"")).ok(), Some(12));
        assert_eq!(if_match(&with("12")).ok(), Some(12));
        assert_eq!(if_match(&with("\"0\"")).ok(), Some(0));
        for bad in [
            "W/\"12\"",
            "*",
            "\"-1\"",
            "\"+1\"",
            "\"1\", \"2\"",
            "abc",
            "\"\"",
        ] {
            assert!(
                matches!(if_match(&with(bad)), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            if_match(&HeaderMap::new()),
            Err(ApiError::PreconditionRequired)
        ));
    }
}
