//! Every error the admin API answers with, and its status code.
//!
//! One enum, so that each status code has exactly one body shape
//! (`{"error":"<code>", ...}`) and no handler can leak an internal message
//! by accident: etcd's error text is the only free text, and it names
//! endpoints and causes, never directive values or credentials.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use directive_core::ValidationReport;
use serde_json::json;

/// A refused or failed admin request.
#[derive(Debug)]
pub enum ApiError {
    /// 401: missing, wrong or misplaced bearer token.
    Unauthorized,
    /// 403: the caller's role may not do this.
    Forbidden {
        /// The role the request needs.
        required: super::roles::Role,
    },
    /// 503: the store has not read the key yet.
    NotReady,
    /// 503: every event stream slot is taken.
    TooManyEventStreams,
    /// 400: a malformed request (header, query or JSON body), with a code.
    BadRequest(&'static str),
    /// 400: the document does not validate; the full report.
    Invalid(ValidationReport),
    /// 409: the key is not at the expected revision.
    Conflict {
        /// The key's current mod revision, 0 when absent.
        current_revision: i64,
    },
    /// 404: no version of the key at that revision.
    NotFound {
        /// The revision asked for.
        revision: i64,
    },
    /// 410: the revision was compacted away.
    Compacted {
        /// The revision asked for.
        revision: i64,
    },
    /// 413: the body exceeds the limit.
    TooLarge {
        /// The limit, bytes.
        max_bytes: usize,
    },
    /// 408: the body did not arrive in time.
    BodyTimeout,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 428: `PUT` without `If-Match`.
    PreconditionRequired,
    /// 502: etcd failed the request.
    Etcd(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Unauthorized => {
                let mut response = (
                    StatusCode::UNAUTHORIZED,
                    json_body(json!({"error": "unauthorized"})),
                )
                    .into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"directivectl\""),
                );
                return response;
            }
            ApiError::Forbidden { required } => (
                StatusCode::FORBIDDEN,
                json!({"error": "forbidden", "required_role": required.as_str()}),
            ),
            ApiError::NotReady => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "not_ready"}),
            ),
            ApiError::TooManyEventStreams => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "too_many_event_streams"}),
            ),
            ApiError::BadRequest(code) => (StatusCode::BAD_REQUEST, json!({"error": code})),
            ApiError::Invalid(report) => {
                return (StatusCode::BAD_REQUEST, json_body_text(report.to_json())).into_response()
            }
            ApiError::Conflict { current_revision } => (
                StatusCode::CONFLICT,
                json!({"error": "conflict", "current_revision": current_revision}),
            ),
            ApiError::NotFound { revision } => (
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "revision": revision}),
            ),
            ApiError::Compacted { revision } => (
                StatusCode::GONE,
                json!({"error": "compacted", "revision": revision}),
            ),
            ApiError::TooLarge { max_bytes } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "payload_too_large", "max_bytes": max_bytes}),
            ),
            ApiError::BodyTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                json!({"error": "body_timeout"}),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({"error": "unsupported_media_type", "expected": "application/json"}),
            ),
            ApiError::PreconditionRequired => (
                StatusCode::PRECONDITION_REQUIRED,
                json!({"error": "if_match_required"}),
            ),
            ApiError::Etcd(detail) => (
                StatusCode::BAD_GATEWAY,
                json!({"error": "etcd", "detail": detail}),
            ),
        };
        (status, json_body(body)).into_response()
    }
}

impl From<directive_etcd::PublishError> for ApiError {
    fn from(e: directive_etcd::PublishError) -> Self {
        use directive_etcd::PublishError as P;
        match e {
            P::Invalid(errors) => ApiError::Invalid(ValidationReport::rejected(&errors)),
            P::Conflict { current_revision } => ApiError::Conflict { current_revision },
            P::NotFound { revision } => ApiError::NotFound { revision },
            P::Compacted { revision } => ApiError::Compacted { revision },
            P::Etcd(detail) => ApiError::Etcd(detail),
            P::Attribution(_) => ApiError::BadRequest("bad_message"),
            P::Unchanged { .. } => ApiError::BadRequest("unchanged_upstream_document"),
            P::WrongFormat(_) => ApiError::BadRequest("wrong_format"),
        }
    }
}

/// A serializable value (a `json!` value or a response struct) as a
/// response body with the JSON content type.
pub(crate) fn json_body(body: impl serde::Serialize) -> Response {
    // Strings, integers, bools and enums only: serialization cannot fail.
    json_body_text(serde_json::to_string(&body).unwrap_or_default())
}

/// Pre-serialized JSON text as a response body with the JSON content type.
pub(crate) fn json_body_text(text: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}
