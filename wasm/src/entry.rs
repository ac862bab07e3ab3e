//! The bindings' code paths as plain Rust functions, without JavaScript
//! values.
//!
//! Every exported function of the crate is a checked conversion of its
//! arguments followed by one call here, so these are what the WASM build
//! actually computes. They are public for the parity tests, which also need
//! what the JavaScript API deliberately does not offer: custom limits (the
//! fleet only ever uses the defaults, so a page must not validate with
//! others) and a decode time distinct from the request time.

use directive_core::{decode, validate, Limits, Request, ValidationReport};

/// The validation report JSON text for `input` decoded at `now_ms`.
pub fn validate_report(input: &[u8], now_ms: u64, limits: &Limits) -> String {
    validate(input, now_ms, limits).to_json()
}

/// [`validate_report`] with a partial override of the default limits given
/// as a JSON object (`{"max_directives": 3}`), as the corpus states them.
pub fn validate_report_with(
    input: &[u8],
    now_ms: u64,
    limits_override: Option<&str>,
) -> Result<String, String> {
    let limits = match limits_override {
        None => Limits::DEFAULT,
        // `Limits` deserializes with defaults for absent fields.
        Some(json) => serde_json::from_str(json).map_err(|e| format!("bad limits: {e}"))?,
    };
    Ok(validate_report(input, now_ms, &limits))
}

/// The explanation JSON text for `request` against `input` decoded at
/// `decoded_at_ms`, at `now_ms`; the validation report JSON text when the
/// set does not decode.
pub fn explain(
    input: &[u8],
    request: &Request<'_>,
    decoded_at_ms: u64,
    now_ms: u64,
) -> Result<String, String> {
    let set = decode(input, decoded_at_ms, &Limits::DEFAULT)
        .map_err(|e| ValidationReport::rejected(&e).to_json())?;
    // An explanation holds strings, bools and an enum: it always serializes.
    Ok(serde_json::to_string(&set.explain(request, now_ms)).unwrap_or_default())
}

/// The canonical pretty wire document of `input` decoded at `now_ms`; the
/// validation report JSON text when it does not decode.
pub fn canonical(input: &[u8], now_ms: u64) -> Result<String, String> {
    decode(input, now_ms, &Limits::DEFAULT)
        .map(|set| set.to_wire_json_pretty())
        .map_err(|e| ValidationReport::rejected(&e).to_json())
}

/// The exact text a publish at `now_ms` writes (the core's one write path),
/// or the rejection report as JSON text.
pub fn stamped(input: &[u8], now_ms: u64) -> Result<String, String> {
    directive_core::stamp(input, now_ms, &Limits::DEFAULT)
        .map(|s| String::from_utf8_lossy(&s.bytes).into_owned())
        .map_err(|e| ValidationReport::rejected(&e).to_json())
}

/// What `after` changes from `before` (both decoded at `now_ms`), as the
/// JSON of `directive_core::diff::SetDiff`; `before` absent, or not
/// decoding (a stored value the fleet refuses), counts as the empty set.
/// The rejection report of `after` as JSON text when it does not decode.
pub fn diff(before: Option<&[u8]>, after: &[u8], now_ms: u64) -> Result<String, String> {
    let after = decode(after, now_ms, &Limits::DEFAULT)
        .map_err(|e| ValidationReport::rejected(&e).to_json())?;
    let before = before
        .and_then(|b| decode(b, now_ms, &Limits::DEFAULT).ok())
        .unwrap_or_else(directive_core::DirectiveSet::empty);
    Ok(directive_core::diff::diff(&before, &after).to_json())
}

/// The default limits as JSON text.
pub fn limits_json() -> String {
    // Integers only: serialization cannot fail.
    serde_json::to_string(&Limits::DEFAULT).unwrap_or_default()
}
