//! The request path as it is classified *and* forwarded: percent-decoded
//! and with `.`/`..` resolved, so `/%6frders/_search` or
//! `/x/../orders/_search` cannot dodge a directive on index `orders` while
//! the upstream serves `orders` anyway. A path that cannot be normalised
//! without guessing is refused.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// Why a path was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// A segment encodes `/` or `\` (`%2F`, `%5C`), or holds a `\`: the
    /// segmentation the upstream sees could differ from ours.
    EncodedSeparator,
    /// A segment is not UTF-8 once decoded.
    NotUtf8,
    /// `..` climbs above the root.
    AboveRoot,
}

/// Characters re-encoded in a forwarded path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// A normalised path: the decoded form (what is classified) and the
/// encoded form (what is forwarded); both start with `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalPath {
    /// Decoded, for classification.
    pub decoded: String,
    /// Re-encoded, for the upstream request.
    pub encoded: String,
}

/// Normalises a raw request path.
pub fn normalize(raw: &str) -> Result<NormalPath, PathError> {
    let mut segments: Vec<String> = Vec::new();
    for part in raw.split('/') {
        let lower = part.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") || part.contains('\\') {
            return Err(PathError::EncodedSeparator);
        }
        let decoded = percent_decode_str(part)
            .decode_utf8()
            .map_err(|_| PathError::NotUtf8)?;
        match decoded.as_ref() {
            "" | "." => {}
            ".." => {
                segments.pop().ok_or(PathError::AboveRoot)?;
            }
            segment => segments.push(segment.to_owned()),
        }
    }
    let trailing = raw.ends_with('/') && !segments.is_empty();
    let mut decoded = String::from("/");
    let mut encoded = String::from("/");
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            decoded.push('/');
            encoded.push('/');
        }
        decoded.push_str(segment);
        encoded.extend(utf8_percent_encode(segment, SEGMENT));
    }
    if trailing {
        decoded.push('/');
        encoded.push('/');
    }
    Ok(NormalPath { decoded, encoded })
}

#[cfg(test)]
mod tests {
    use super::{normalize, PathError};

    #[test]
    fn decodes_and_resolves_dot_segments() {
        for (raw, decoded, encoded) in [
            ("/orders/_search", "/orders/_search", "/orders/_search"),
            ("/%6frders/_search", "/orders/_search", "/orders/_search"),
            ("/x/../orders/_search", "/orders/_search", "/orders/_search"),
            ("//orders/./_search", "/orders/_search", "/orders/_search"),
            (
                "/%C3%BC-index/_doc/7",
                "/ü-index/_doc/7",
                "/%C3%BC-index/_doc/7",
            ),
            ("/a%20b/", "/a b/", "/a%20b/"),
            ("/", "/", "/"),
        ] {
            let n = normalize(raw).expect(raw);
            assert_eq!(
                (n.decoded.as_str(), n.encoded.as_str()),
                (decoded, encoded),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_what_cannot_be_normalised_without_guessing() {
        assert_eq!(normalize("/../orders"), Err(PathError::AboveRoot));
        assert_eq!(
            normalize("/a%2Fb/_search"),
            Err(PathError::EncodedSeparator)
        );
        assert_eq!(normalize("/a%5cb"), Err(PathError::EncodedSeparator));
        assert_eq!(normalize("/%FF/_search"), Err(PathError::NotUtf8));
    }
}
