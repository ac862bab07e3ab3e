//! Encoding a set back to the wire format.
//!
//! The output is the canonical document for the set: `published_at` is the
//! set's anchor and every directive keeps its `ttl_secs`, so decoding the
//! output at any `now` at or after the anchor reproduces the same set, with
//! the same expiries. Defaults (`sample_per_mille` 1000, flags `false`) are
//! left out and strings use JSON's shortest escapes, so the compact form is
//! never longer than the document it came from plus the `published_at`
//! stamp: a publisher's stamped write stays within the size limit the
//! original met (to within those few bytes, which it checks). Unlike the upstream's introspection (weakness 18), it
//! can be re-published as it is.

use serde::Serialize;

use super::DirectiveSet;
use crate::{DiagLevel, Directive, EndpointKind};

#[derive(Serialize)]
struct WireSet<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    published_at: Option<u64>,
    directives: Vec<WireDirective<'a>>,
}

#[derive(Serialize)]
pub(crate) struct WireDirective<'a> {
    id: &'a str,
    level: DiagLevel,
    ttl_secs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<EndpointKind>,
    #[serde(skip_serializing_if = "is_always")]
    sample_per_mille: u16,
    #[serde(skip_serializing_if = "is_false")]
    ring_buffer: bool,
    #[serde(skip_serializing_if = "is_false")]
    capture: bool,
}

fn is_always(per_mille: &u16) -> bool {
    *per_mille >= 1000
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

impl<'a> From<&'a Directive> for WireDirective<'a> {
    fn from(d: &'a Directive) -> Self {
        WireDirective {
            id: &d.id,
            level: d.level,
            ttl_secs: d.ttl_secs,
            tenant: d.target.tenant.as_deref(),
            index: d.target.index.as_deref(),
            principal: d.target.principal.as_deref(),
            endpoint: d.target.endpoint,
            sample_per_mille: d.sample_per_mille,
            ring_buffer: d.ring_buffer,
            capture: d.capture,
        }
    }
}

impl DirectiveSet {
    /// The canonical wire document for this set (compact JSON).
    pub fn to_wire_json(&self) -> String {
        // Serializing plain structs of strings and integers cannot fail.
        serde_json::to_string(&self.wire()).unwrap_or_default()
    }

    /// The canonical wire document, pretty-printed for people.
    pub fn to_wire_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.wire()).unwrap_or_default()
    }

    /// The canonical document without `published_at`, in the upstream's
    /// format (ADR 0015): its TTLs count from whenever a reader decodes it,
    /// so the expiries of this set are not carried.
    pub fn to_upstream_json(&self) -> String {
        let wire = WireSet {
            published_at: None,
            ..self.wire()
        };
        serde_json::to_string(&wire).unwrap_or_default()
    }

    fn wire(&self) -> WireSet<'_> {
        WireSet {
            published_at: Some(self.anchor_ms),
            directives: self.directives.iter().map(WireDirective::from).collect(),
        }
    }
}
