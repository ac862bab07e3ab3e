//! The validation report: the one JSON shape every surface returns.
//!
//! `directivectl validate --json`, `POST /api/validate` and the WASM
//! `validate()` all serialize this type, so the same input and `now` give
//! byte-identical output everywhere. Key order is the field order below;
//! optional keys are omitted when absent.

use serde::Serialize;

use crate::{
    decode, DecodeError, DecodeErrors, DiagLevel, Directive, DirectiveSet, EndpointKind, Limits,
};

/// The outcome of validating one document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValidationReport {
    /// True when the document is accepted.
    pub ok: bool,
    /// Every error, in document order; empty when `ok`.
    pub errors: Vec<DecodeError>,
    /// The decoded directives, in document order; empty when not `ok`.
    pub directives: Vec<DirectiveReport>,
}

/// One accepted directive as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DirectiveReport {
    /// Its id.
    pub id: String,
    /// Its level.
    pub level: DiagLevel,
    /// Tenant target, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Index target, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// Principal target, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Endpoint target, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<EndpointKind>,
    /// Sample rate, per mille.
    pub sample_per_mille: u16,
    /// Ring-buffer capture flag.
    pub ring_buffer: bool,
    /// Traffic capture flag.
    pub capture: bool,
    /// Absolute expiry, unix milliseconds.
    pub expires_at_ms: u64,
}

impl From<&Directive> for DirectiveReport {
    fn from(d: &Directive) -> Self {
        DirectiveReport {
            id: d.id.clone(),
            level: d.level,
            tenant: d.target.tenant.clone(),
            index: d.target.index.clone(),
            principal: d.target.principal.clone(),
            endpoint: d.target.endpoint,
            sample_per_mille: d.sample_per_mille,
            ring_buffer: d.ring_buffer,
            capture: d.capture,
            expires_at_ms: d.expires_at_ms,
        }
    }
}

impl ValidationReport {
    /// The report for an accepted set.
    pub fn accepted(set: &DirectiveSet) -> Self {
        ValidationReport {
            ok: true,
            errors: Vec::new(),
            directives: set.directives().iter().map(DirectiveReport::from).collect(),
        }
    }

    /// The report for a rejected document.
    pub fn rejected(errors: &DecodeErrors) -> Self {
        ValidationReport {
            ok: false,
            errors: errors.errors.clone(),
            directives: Vec::new(),
        }
    }

    /// The report for a decode result.
    pub fn from_result(result: &Result<DirectiveSet, DecodeErrors>) -> Self {
        match result {
            Ok(set) => ValidationReport::accepted(set),
            Err(errors) => ValidationReport::rejected(errors),
        }
    }

    /// The canonical compact JSON text of the report.
    pub fn to_json(&self) -> String {
        // Strings, integers and bools only: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Decodes `input` at `now_ms` and reports on it: the shared entry point of
/// every surface.
pub fn validate(input: &[u8], now_ms: u64, limits: &Limits) -> ValidationReport {
    ValidationReport::from_result(&decode(input, now_ms, limits))
}
