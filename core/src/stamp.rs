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

use crate::{decode, DecodeErrors, DirectiveSet, Limits};

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
    let set = decode(document, now_ms, limits)?;
    let wire = DirectiveSet::new(set.directives().to_vec(), now_ms, true).to_wire_json();
    let set = decode(wire.as_bytes(), now_ms, limits)?;
    Ok(Stamped {
        bytes: wire.into_bytes(),
        set,
    })
}

#[cfg(test)]
mod tests {
    use super::stamp;
    use crate::{ErrorCode, Limits};

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
