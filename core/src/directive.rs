//! One decoded, validated directive.
//!
//! Expiry is absolute (unix milliseconds) and derived once, when the set is
//! decoded, from the set's anchor and the directive's `ttl_secs`; both are
//! kept so the set can be encoded back to the exact wire document that
//! reproduces it.

use crate::{DiagLevel, EndpointKind, Request};

/// What a directive applies to. Every unset field is a wildcard.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Target {
    /// Exact tenant; never matches a request whose tenant is unresolved.
    pub tenant: Option<String>,
    /// Exact, case-sensitive logical index.
    pub index: Option<String>,
    /// Exact principal.
    pub principal: Option<String>,
    /// Endpoint class.
    pub endpoint: Option<EndpointKind>,
}

impl Target {
    /// True when every set field equals the request's attribute.
    #[inline]
    pub fn matches(&self, request: &Request<'_>) -> bool {
        let tenant_ok = match (&self.tenant, request.tenant) {
            (None, _) => true,
            (Some(want), Some(have)) => want == have,
            (Some(_), None) => false,
        };
        tenant_ok
            && self.index.as_deref().is_none_or(|i| i == request.index)
            && self
                .principal
                .as_deref()
                .is_none_or(|p| p == request.principal)
            && self.endpoint.is_none_or(|e| e == request.endpoint)
    }
}

/// A time-boxed diagnostics switch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Directive {
    /// Management and correlation id, unique within its set.
    pub id: String,
    /// The level it grants.
    pub level: DiagLevel,
    /// Who it applies to.
    pub target: Target,
    /// Share of matching requests it applies to, 0..=1000 (1000 = all).
    pub sample_per_mille: u16,
    /// Single-instance break-glass capture into the local ring buffer.
    pub ring_buffer: bool,
    /// Fleet traffic capture (tee the exchange to a capture sink).
    pub capture: bool,
    /// Lifetime from the set's anchor, in seconds (kept for re-encoding).
    pub ttl_secs: u64,
    /// Absolute expiry, unix milliseconds; applies while `now < expires_at_ms`.
    pub expires_at_ms: u64,
}

impl Directive {
    /// True when the directive applies to `request` at `now_ms`: unexpired,
    /// target matches, and the request id is in the sample.
    pub fn applies(&self, request: &Request<'_>, now_ms: u64) -> bool {
        now_ms < self.expires_at_ms
            && self.target.matches(request)
            && crate::sampling::in_sample(self.sample_per_mille, request.request_id)
    }
}
