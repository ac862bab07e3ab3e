//! Turning JavaScript arguments into what the core takes.
//!
//! JavaScript has no `u64`, no byte strings and no typed objects, so each
//! conversion is checked here and fails with a `TypeError` or `RangeError`
//! that names the argument, instead of silently truncating a time or
//! treating a typo'd request field as absent.

use directive_core::{EndpointKind, Request};
use js_sys::{RangeError, TypeError, Uint8Array, JSON};
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The document bytes: a string's UTF-8 encoding, or a `Uint8Array`'s bytes.
pub fn input_bytes(input: &JsValue) -> Result<Vec<u8>, JsValue> {
    if let Some(text) = input.as_string() {
        return Ok(text.into_bytes());
    }
    match input.dyn_ref::<Uint8Array>() {
        Some(bytes) => Ok(bytes.to_vec()),
        None => Err(TypeError::new("the document must be a string or a Uint8Array").into()),
    }
}

/// `nowMs` as unix milliseconds: `Date.now()` when absent, otherwise a
/// non-negative integer no larger than `Number.MAX_SAFE_INTEGER`.
pub fn now_ms(now_ms: Option<f64>) -> Result<u64, JsValue> {
    match now_ms {
        None => Ok(clock_ms(js_sys::Date::now())),
        Some(ms) => checked_ms(ms).ok_or_else(|| {
            RangeError::new(
                "nowMs must be a non-negative integer number of milliseconds \
                 no larger than Number.MAX_SAFE_INTEGER",
            )
            .into()
        }),
    }
}

/// A time in milliseconds given by a caller, when it is one exactly.
pub fn checked_ms(ms: f64) -> Option<u64> {
    let exact = ms.is_finite() && ms >= 0.0 && ms.fract() == 0.0 && ms <= MAX_SAFE_INTEGER;
    // In range and integral: the cast is exact.
    exact.then_some(ms as u64)
}

/// `Date.now()` as `u64`; a clock before 1970 reads as 0.
fn clock_ms(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        // Saturating float-to-int cast; the fraction (none in practice) is dropped.
        ms as u64
    } else {
        0
    }
}

/// A request as JavaScript passes it (`EvaluationRequest` in the types):
/// the corpus and CLI vocabulary, snake_case, unknown keys rejected.
#[derive(Clone, Debug)]
pub struct RequestInput {
    /// The resolved tenant; absent or `null` when unresolved.
    pub tenant: Option<String>,
    /// The index the request targets.
    pub index: String,
    /// The authenticated principal.
    pub principal: String,
    /// The endpoint kind.
    pub endpoint: EndpointKind,
    /// The request id (drives sampling).
    pub request_id: String,
}

/// The request as it is written, before the endpoint name is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    #[serde(default)]
    tenant: Option<String>,
    index: String,
    principal: String,
    endpoint: String,
    request_id: String,
}

impl RequestInput {
    /// The parsed request from its JSON text.
    pub fn from_json(json: &str) -> Result<RequestInput, String> {
        // serde's messages name the field and the expected type.
        let raw: RawRequest =
            serde_json::from_str(json).map_err(|e| format!("invalid request: {e}"))?;
        let endpoint = EndpointKind::from_name(&raw.endpoint).ok_or_else(|| {
            "invalid request: endpoint must be one of the EndpointKind names".to_owned()
        })?;
        Ok(RequestInput {
            tenant: raw.tenant,
            index: raw.index,
            principal: raw.principal,
            endpoint,
            request_id: raw.request_id,
        })
    }

    /// The core's borrowed view of this request.
    pub fn as_request(&self) -> Request<'_> {
        Request {
            tenant: self.tenant.as_deref(),
            index: &self.index,
            principal: &self.principal,
            endpoint: self.endpoint,
            request_id: &self.request_id,
        }
    }
}

/// The request object, checked: a `TypeError` names what is wrong.
pub fn request(value: &JsValue) -> Result<RequestInput, JsValue> {
    if !value.is_object() {
        return Err(TypeError::new("the request must be an object").into());
    }
    let json = JSON::stringify(value)?
        .as_string()
        .ok_or_else(|| JsValue::from(TypeError::new("the request must be a plain object")))?;
    RequestInput::from_json(&json).map_err(|e| TypeError::new(&e).into())
}
