//! The one write path: what a publish writes, checked as the fleet will
//! read it.
//!
//! Every writer (the etcd publisher, the in-memory backend of
//! `directivectl serve`, the admin UI showing what a publish will write)
//! goes through [`stamp`], so they cannot disagree: the document is decoded,
//! stamped with `published_at` = now (every instance then anchors TTLs to
//! the same instant, ADR 0001), re-encoded canonically, and the exact bytes
//! to be written are decoded once more under the same limits. The stamp adds
//! a few bytes, so a document at the size limit can pass the first decode
//! and fail the second: then nothing is written.
//!
//! A fleet that still runs upstream (osproxy) instances on the same key
//! publishes in [`WireFormat::Upstream`] instead (ADR 0015): the same
//! canonical document without `published_at`, which the upstream's decoder
//! refuses as an unknown field.

use serde::{Deserialize, Serialize};

use crate::{decode, DecodeErrors, DirectiveSet, Limits};

/// How a publish writes the document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireFormat {
    /// Stamped with `published_at`: every instance of this project anchors
    /// TTLs to the publish, so the fleet expires a directive at one instant
    /// (ADR 0001). Upstream instances refuse it (`unknown_field`) and keep
    /// their last good set.
    #[default]
    Stamped,
    /// Without `published_at`, for a fleet that still runs upstream
    /// instances on the key (ADR 0015): they accept it; every instance
    /// (theirs and ours) anchors TTLs when it first decodes the write, and
    /// one of ours that restarts re-anchors the directives still in force.
    Upstream,
}

impl WireFormat {
    /// The name used by flags, settings and JSON (`stamped`, `upstream`).
    pub fn as_str(self) -> &'static str {
        match self {
            WireFormat::Stamped => "stamped",
            WireFormat::Upstream => "upstream",
        }
    }
}

impl std::str::FromStr for WireFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stamped" => Ok(WireFormat::Stamped),
            "upstream" => Ok(WireFormat::Upstream),
            other => Err(format!(
                "unknown format `{other}`: expected `stamped` or `upstream`"
            )),
        }
    }
}

/// A document ready to write: the exact bytes, and the set every instance
/// will decode from them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamped {
    /// The canonical, stamped wire document (UTF-8 JSON).
    pub bytes: Vec<u8>,
    /// What those bytes decode to at `now_ms`.
    pub set: DirectiveSet,
}

/// Decodes `document`, stamps it with `published_at = now_ms` and returns the
/// bytes to write with the set they decode to; every error of either decode
/// otherwise (nothing must be written then).
pub fn stamp(document: &[u8], now_ms: u64, limits: &Limits) -> Result<Stamped, DecodeErrors> {
    stamp_as(document, now_ms, limits, WireFormat::Stamped)
}

/// As [`stamp`], writing `format`: [`WireFormat::Upstream`] leaves
/// `published_at` out (a stamp already in `document` included), so the
/// set decodes anchored at `now_ms`, unstamped, as every instance will
/// anchor it when it first decodes the write.
pub fn stamp_as(
    document: &[u8],
    now_ms: u64,
    limits: &Limits,
    format: WireFormat,
) -> Result<Stamped, DecodeErrors> {
    let set = decode(document, now_ms, limits)?;
    let fresh = DirectiveSet::new(set.directives().to_vec(), now_ms, true);
    let wire = match format {
        WireFormat::Stamped => fresh.to_wire_json(),
        WireFormat::Upstream => fresh.to_upstream_json(),
    };
    let set = decode(wire.as_bytes(), now_ms, limits)?;
    Ok(Stamped {
        bytes: wire.into_bytes(),
        set,
    })
}

#[cfg(test)]
mod tests {
    use super::{stamp, stamp_as, WireFormat};
    use crate::{ErrorCode, Limits};

    #[test]
    fn the_upstream_format_drops_the_stamp_and_anchors_at_now() {
        let doc = br#"{"published_at":5,"directives":[{"id":"a","level":"Shape","ttl_secs":60}]}"#;
        let out = stamp_as(doc, 1_000, &Limits::default(), WireFormat::Upstream).expect("valid");
        let text = String::from_utf8(out.bytes.clone()).expect("utf-8");
        assert_eq!(
            text,
            r#"{"directives":[{"id":"a","level":"Shape","ttl_secs":60}]}"#
        );
        assert!(!out.set.is_stamped());
        assert_eq!(out.set.directives()[0].expires_at_ms, 61_000);
    }

    #[test]
    fn format_names_round_trip() {
        for format in [WireFormat::Stamped, WireFormat::Upstream] {
            assert_eq!(format.as_str().parse::<WireFormat>(), Ok(format));
            assert_eq!(
                serde_json::to_string(&format).expect("serializes"),
                format!("\"{}\"", format.as_str())
            );
        }
        assert!("Upstream".parse::<WireFormat>().is_err());
    }

    #[test]
    fn stamps_with_now_and_round_trips() {
        let doc = br#"{"directives":[{"id":"a","level":"Shape","ttl_secs":60}]}"#;
        let out = stamp(doc, 1_000, &Limits::default()).expect("valid");
        let text = String::from_utf8(out.bytes.clone()).expect("utf-8");
        assert!(text.contains("\"published_at\":1000"), "{text}");
        assert!(out.set.is_stamped());
        assert_eq!(out.set.directives()[0].expires_at_ms, 61_000);
    }

    #[test]
    fn refuses_a_document_the_stamp_pushes_over_the_size_limit() {
        let doc = br#"{"directives":[{"id":"a","level":"Shape","ttl_secs":60}]}"#;
        let limits = Limits {
            max_bytes: doc.len(),
            ..Limits::default()
        };
        let err = stamp(doc, 1_700_000_000_000, &limits).expect_err("over the limit once stamped");
        assert_eq!(err.errors[0].code, ErrorCode::InputTooLarge);
    }
}
