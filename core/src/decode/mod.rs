//! The fail-closed decoder: bytes in, a directive set or every error out.
//!
//! Order of work, cheapest rejection first: the size limit (before reading a
//! byte), UTF-8, a byte order mark, then one streaming serde_json pass that
//! checks every field as it goes by ([`walk`]). Only a rejected document pays
//! for positions: [`locate`] re-reads it to put a line and column on each
//! error. Any error rejects the whole set; there is no partial result.
//!
//! Time enters only as the `now_ms` parameter: the set's anchor is
//! `min(published_at, now_ms)` when the document is stamped, else `now_ms`,
//! and every directive expires at `anchor + ttl_secs`. See
//! `docs/adr/0001-expiry-anchoring.md`.

mod fields;
mod locate;
mod position;
mod scalar;
mod walk;

use serde::de::DeserializeSeed;

use crate::{DecodeError, DecodeErrors, DirectiveSet, ErrorCode, Limits};
use position::LineIndex;
use walk::{Document, Walk};

/// Decodes and validates a directive-set document.
///
/// `now_ms` (unix milliseconds) anchors the TTLs of a document without
/// `published_at`, and caps a stamped document's anchor so a future-dated
/// stamp never extends a directive.
pub fn decode(input: &[u8], now_ms: u64, limits: &Limits) -> Result<DirectiveSet, DecodeErrors> {
    if input.len() > limits.max_bytes {
        return Err(single(ErrorCode::InputTooLarge, limits, None));
    }
    let text = match std::str::from_utf8(input) {
        Ok(text) => text,
        Err(e) => {
            let valid = &input[..e.valid_up_to()];
            // The prefix is valid UTF-8 by definition; an empty fallback keeps this total.
            let prefix = std::str::from_utf8(valid).unwrap_or_default();
            let at = LineIndex::new(prefix).position(prefix.len());
            return Err(single(ErrorCode::InvalidUtf8, limits, Some(at)));
        }
    };
    if text.starts_with('\u{feff}') {
        return Err(single(ErrorCode::ByteOrderMark, limits, Some((1, 1))));
    }

    let mut walk = Walk::new(limits);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Document(&mut walk)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Err(e) = parsed {
        let at = LineIndex::new(text).serde_position(e.line(), e.column());
        return Err(DecodeErrors {
            errors: vec![DecodeError {
                code: ErrorCode::InvalidJson,
                path: String::new(),
                message: syntax_message(&e),
                line: Some(at.0),
                column: Some(at.1),
            }],
        });
    }

    if walk.errors.is_empty() && !walk.truncated {
        let anchor = walk.published_at.map_or(now_ms, |p| p.min(now_ms));
        return Ok(DirectiveSet::new(
            walk.directives,
            anchor,
            walk.published_at.is_some(),
        ));
    }
    Err(positioned(text, walk, limits))
}

/// Turns the walk's pending errors into positioned errors.
fn positioned(text: &str, walk: Walk<'_, '_>, limits: &Limits) -> DecodeErrors {
    let sites: Vec<_> = walk.errors.iter().map(|p| &p.site).collect();
    let offsets = locate::locate(text, &sites);
    let lines = LineIndex::new(text);
    let mut errors: Vec<DecodeError> = walk
        .errors
        .iter()
        .zip(offsets)
        .map(|(p, offset)| {
            let at = offset.map(|o| lines.position(o));
            DecodeError {
                code: p.code,
                message: p.code.message(p.field, limits),
                path: p.path.clone(),
                line: at.map(|a| a.0),
                column: at.map(|a| a.1),
            }
        })
        .collect();
    if walk.truncated {
        errors.push(DecodeError {
            code: ErrorCode::TooManyErrors,
            path: String::new(),
            message: ErrorCode::TooManyErrors.message("", limits),
            line: None,
            column: None,
        });
    }
    DecodeErrors { errors }
}

fn single(code: ErrorCode, limits: &Limits, at: Option<(u32, u32)>) -> DecodeErrors {
    DecodeErrors {
        errors: vec![DecodeError {
            code,
            path: String::new(),
            message: code.message("", limits),
            line: at.map(|a| a.0),
            column: at.map(|a| a.1),
        }],
    }
}

/// serde_json's description of a syntax error without its position suffix.
/// Syntax messages name the expected token, never input content.
fn syntax_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let what = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(w, _)| w);
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("not valid JSON: {what}")
        }
        _ => "not valid JSON".into(),
    }
}
