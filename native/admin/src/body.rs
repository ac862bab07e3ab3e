//! Reading request bodies within bounds.
//!
//! Bodies are read by hand rather than with an extractor so that the order
//! of checks is ours (token, then content type, then size) and every refusal
//! is a JSON error: a body larger than the limit is cut off as soon as the
//! limit is passed (413, whether or not `Content-Length` said so up front),
//! and a body that trickles in too slowly is dropped (408).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::error::ApiError;

/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Refuses a body that is not declared as `application/json` (parameters
/// such as `charset=utf-8` allowed). JSON only, deliberately: a browser can
/// send `text/plain` cross-origin without a CORS preflight, JSON it cannot.
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// The whole body, at most `limit` bytes, within the body timeout.
pub(crate) async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge { max_bytes: limit });
    }
    let collect = Limited::new(body, limit).collect();
    match tokio::time::timeout(BODY_TIMEOUT, collect).await {
        Err(_) => Err(ApiError::BodyTimeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::TooLarge { max_bytes: limit })
        }
        Ok(Err(_)) => Err(ApiError::BadRequest("body_read_failed")),
    }
}
