//! # directive-wasm
//!
//! `directive-core` for browsers and Node, through wasm-bindgen (issue 5,
//! ADR 0005).
//!
//! An operator typing a directive set must see exactly the verdict the fleet
//! will reach. So this crate adds no logic of its own: every function is a
//! thin adapter from JavaScript values to the same `directive-core` calls the
//! CLI and the HTTP API make, and every report is produced by the same
//! serializer (`ValidationReport::to_json`). The JSON *text* is the contract;
//! [`validate_json`] returns it untouched, and [`validate`] merely hands that
//! text to the engine's `JSON.parse`, so the object a page sees cannot drift
//! from the bytes that are proven identical to native (`wasm/parity`).
//!
//! What lives here, and why:
//! - argument checking that JavaScript makes necessary (`nowMs` is a float,
//!   input may be a string or bytes, a request is an untyped object): see
//!   [`args`];
//! - the clock: `nowMs` defaults to `Date.now()`, because the core reads no
//!   clock;
//! - the JSON Schema of the wire format, built from the core's constants
//!   ([`schema`]);
//! - the TypeScript types of every input and output (`src/types.d.ts`,
//!   emitted into the generated `.d.ts`).
//!
//! The Rust-level functions in [`entry`] are the same code paths without
//! JavaScript values; the parity tests use them for what the JS API does not
//! expose (custom limits, a decode time distinct from the request time).

#![forbid(unsafe_code)]

pub mod args;
pub mod entry;
pub mod schema;

use directive_core::Limits;
use js_sys::{Error, Reflect, JSON};
use wasm_bindgen::prelude::*;

pub use directive_core::VERSION;

/// The TypeScript declarations of every value crossing the boundary; the
/// functions below refer to them by name through `unchecked_*_type`.
#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = include_str!("types.d.ts");

/// The declarations as text, so that a test can check them against the
/// core's enumerations.
pub const TYPESCRIPT_TYPES: &str = include_str!("types.d.ts");

/// Validates a directive-set document at `nowMs` (default `Date.now()`) and
/// returns the validation report as an object (`JSON.parse` of
/// [`validate_json`]).
///
/// `expires_at_ms` values above 2^53 lose precision as JS numbers; use
/// `validateJson` when exact integers matter.
#[wasm_bindgen(js_name = validate, unchecked_return_type = "ValidationReport")]
pub fn validate(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] input: JsValue,
    #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
) -> Result<JsValue, JsValue> {
    parse(&validate_json(input, now_ms)?)
}

/// Validates a directive-set document at `nowMs` (default `Date.now()`) and
/// returns the validation report as JSON text, byte for byte what
/// `directivectl validate --json` prints for the same input and time.
///
/// `input` is a string (validated as its UTF-8 encoding) or the raw bytes
/// (`Uint8Array`), which is how a non-UTF-8 document reaches the decoder.
#[wasm_bindgen(js_name = validateJson)]
pub fn validate_json(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] input: JsValue,
    #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
) -> Result<String, JsValue> {
    let bytes = args::input_bytes(&input)?;
    let now = args::now_ms(now_ms)?;
    Ok(entry::validate_report(&bytes, now, &Limits::DEFAULT))
}

/// Decodes the set at `nowMs` (default `Date.now()`) and answers "what
/// applies to this request at `nowMs`?": the decision and the ids of the
/// directives that produced it.
///
/// Throws an `InvalidDirectiveSetError` (with the validation report as its
/// `report` property) when the set does not decode, and a `TypeError` when
/// the request is malformed.
#[wasm_bindgen(js_name = evaluate, unchecked_return_type = "Explanation")]
pub fn evaluate(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] input: JsValue,
    #[wasm_bindgen(unchecked_param_type = "EvaluationRequest")] request: JsValue,
    #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
) -> Result<JsValue, JsValue> {
    parse(&evaluate_json(input, request, now_ms)?)
}

/// [`evaluate`], returning the explanation as JSON text
/// (`{"level","ring_buffer","capture","matched"}`, as `directivectl eval --json`).
#[wasm_bindgen(js_name = evaluateJson)]
pub fn evaluate_json(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] input: JsValue,
    #[wasm_bindgen(unchecked_param_type = "EvaluationRequest")] request: JsValue,
    #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
) -> Result<String, JsValue> {
    let bytes = args::input_bytes(&input)?;
    let request = args::request(&request)?;
    let now = args::now_ms(now_ms)?;
    entry::explain(&bytes, &request.as_request(), now, now).map_err(invalid_set)
}

/// Decodes the set at `nowMs` (default `Date.now()`) and returns its
/// canonical wire document, pretty-printed: `published_at` set to the anchor
/// of every TTL, defaults filled in, ready to publish as it is.
///
/// Throws an `InvalidDirectiveSetError` when the set does not decode.
#[wasm_bindgen(js_name = canonicalize)]
pub fn canonicalize(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] input: JsValue,
    #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
) -> Result<String, JsValue> {
    let bytes = args::input_bytes(&input)?;
    let now = args::now_ms(now_ms)?;
    entry::canonical(&bytes, now).map_err(invalid_set)
}

/// The exact text a publish at `nowMs` (default `Date.now()`) writes to
/// etcd: the document decoded, stamped with `published_at = nowMs`,
/// re-encoded canonically and checked once more as every instance will
/// decode it (the same function the publisher and `directivectl serve` use).
///
/// Throws an `InvalidDirectiveSetError` when the document, or its stamped
/// form, does not decode.
#[wasm_bindgen(js_name = stamp)]
pub fn stamp(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] input: JsValue,
    #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
) -> Result<String, JsValue> {
    let bytes = args::input_bytes(&input)?;
    let now = args::now_ms(now_ms)?;
    entry::stamped(&bytes, now).map_err(invalid_set)
}

/// What publishing `after` would change from `before` (the stored
/// document; `null` when the key is absent), per directive id: the same
/// diff as `directivectl diff`. A `before` that does not decode (a value
/// the fleet refuses) counts as the empty set.
///
/// Throws an `InvalidDirectiveSetError` when `after` does not decode.
#[wasm_bindgen(js_name = diff, unchecked_return_type = "SetDiff")]
pub fn diff(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | null")] before: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] after: JsValue,
    #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
) -> Result<JsValue, JsValue> {
    let before = if before.is_null() || before.is_undefined() {
        None
    } else {
        Some(args::input_bytes(&before)?)
    };
    let after = args::input_bytes(&after)?;
    let now = args::now_ms(now_ms)?;
    parse(&entry::diff(before.as_deref(), &after, now).map_err(invalid_set)?)
}

/// A JSON Schema (draft 2020-12) of the wire format, for editors and forms.
/// It is built from the core's limits and enumerations; the decoder stays
/// the authority (see [`schema`] for what a schema cannot say).
#[wasm_bindgen(js_name = schema, unchecked_return_type = "JsonSchema")]
pub fn schema() -> Result<JsValue, JsValue> {
    parse(&schema::schema_json())
}

/// The limits every decoder of the fleet enforces (the defaults).
#[wasm_bindgen(js_name = limits, unchecked_return_type = "Limits")]
pub fn limits() -> Result<JsValue, JsValue> {
    parse(&entry::limits_json())
}

/// The version of `directive-core` compiled into this module.
#[wasm_bindgen(js_name = version)]
pub fn version() -> String {
    VERSION.to_owned()
}

/// `JSON.parse` in the JS engine: the object is exactly the text.
fn parse(json: &str) -> Result<JsValue, JsValue> {
    JSON::parse(json)
}

/// The error thrown for a set that does not decode: an `Error` named
/// `InvalidDirectiveSetError` carrying the report, so a caller can show the
/// same errors `validate` would.
fn invalid_set(report_json: String) -> JsValue {
    let report = JSON::parse(&report_json).ok();
    let errors = report
        .as_ref()
        .and_then(|r| Reflect::get(r, &JsValue::from_str("errors")).ok())
        .map(|e| js_sys::Array::from(&e).length())
        .unwrap_or(0);
    let error = Error::new(&format!(
        "the directive set is invalid ({errors} error{}; see .report)",
        if errors == 1 { "" } else { "s" }
    ));
    error.set_name("InvalidDirectiveSetError");
    if let Some(report) = report {
        // Defining a property on a fresh Error object cannot fail.
        let _ = Reflect::set(&error, &JsValue::from_str("report"), &report);
    }
    error.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use directive_core::{DiagLevel, EndpointKind, ErrorCode};

    #[test]
    fn the_typescript_types_name_every_code_level_and_endpoint() {
        let quoted = |s: &str| format!("\"{s}\"");
        for code in ErrorCode::ALL {
            assert!(TYPESCRIPT_TYPES.contains(&quoted(code.as_str())), "{code}");
        }
        for level in DiagLevel::ALL {
            assert!(
                TYPESCRIPT_TYPES.contains(&quoted(level.as_str())),
                "{level}"
            );
        }
        for endpoint in EndpointKind::ALL {
            assert!(
                TYPESCRIPT_TYPES.contains(&quoted(endpoint.as_str())),
                "{endpoint}"
            );
        }
        let union = TYPESCRIPT_TYPES
            .split("export type ErrorCode =")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_default();
        assert_eq!(union.matches('"').count(), 2 * ErrorCode::ALL.len());
    }

    #[test]
    fn times_from_javascript_must_be_exact() {
        assert_eq!(args::checked_ms(0.0), Some(0));
        assert_eq!(
            args::checked_ms(1_800_000_000_000.0),
            Some(1_800_000_000_000)
        );
        assert_eq!(
            args::checked_ms(args::MAX_SAFE_INTEGER),
            Some(9_007_199_254_740_991)
        );
        for bad in [
            -1.0,
            0.5,
            f64::NAN,
            f64::INFINITY,
            args::MAX_SAFE_INTEGER + 1.0,
        ] {
            assert_eq!(args::checked_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn requests_are_strict() {
        let ok = args::RequestInput::from_json(
            r#"{"tenant":null,"index":"i","principal":"p","endpoint":"Search","request_id":"r"}"#,
        );
        assert!(ok.is_ok_and(|r| r.as_request().tenant.is_none()));
        for bad in [
            r#"{"index":"i","principal":"p","endpoint":"Search","requestId":"r"}"#,
            r#"{"index":"i","principal":"p","endpoint":"search","request_id":"r"}"#,
            r#"{"principal":"p","endpoint":"Search","request_id":"r"}"#,
        ] {
            assert!(args::RequestInput::from_json(bad).is_err(), "{bad}");
        }
    }
}
