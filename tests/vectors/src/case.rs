//! Parsing the corpus files into cases.

use serde::Deserialize;
use serde_json::Value;

/// One case of the corpus.
#[derive(Clone, Debug, Deserialize)]
pub struct Case {
    /// Unique name.
    pub name: String,
    /// File it came from.
    #[serde(skip)]
    pub file: String,
    /// What kind of check, with its data.
    #[serde(flatten)]
    pub kind: CaseKind,
    /// Free-text note.
    #[serde(default)]
    pub note: Option<String>,
    /// What the upstream did instead, for cases that prove a weakness fixed.
    #[serde(default)]
    pub upstream: Option<String>,
}

/// A case's document: text, or hex bytes for input that is not UTF-8.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Document {
    /// The document as text.
    #[serde(default)]
    pub input: Option<String>,
    /// The document as hex bytes (for non-UTF-8 input).
    #[serde(default)]
    pub input_hex: Option<String>,
}

/// The kinds of case.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseKind {
    /// Decode a document and compare the report.
    Decode {
        /// The document.
        #[serde(flatten)]
        document: Document,
        /// Decode time.
        now_ms: u64,
        /// Partial override of the default limits.
        #[serde(default)]
        limits: Option<Value>,
        /// Expected report (subset, see docs/vectors.md).
        expect: Value,
    },
    /// Evaluate one request against a set.
    Evaluate {
        /// The set document.
        set: String,
        /// When the set was decoded.
        decoded_at_ms: u64,
        /// When the request happens.
        now_ms: u64,
        /// The request attributes.
        request: Value,
        /// Expected decision with matched ids.
        expect: Value,
    },
    /// What `after` changes from `before` (`directive_core::diff`).
    Diff {
        /// The first document; absent: the key is absent.
        #[serde(default)]
        before: Option<String>,
        /// The second document.
        after: String,
        /// Decode time of both.
        now_ms: u64,
        /// The whole expected diff JSON, or the rejection report's `ok:
        /// false` subset when `after` does not decode.
        expect: Value,
    },
    /// How the upstream's decoder and ours read a document
    /// (`directivectl validate --upstream-compat`).
    UpstreamCompat {
        /// The document.
        #[serde(flatten)]
        document: Document,
        /// Decode time.
        now_ms: u64,
        /// Partial override of the default limits.
        #[serde(default)]
        limits: Option<Value>,
        /// `upstream` (exactly), `ours.ok`, and the `differences` as
        /// `{rule, path}` (see docs/vectors.md).
        expect: Value,
    },
    /// A reducer scenario.
    Reducer {
        /// Steps, each an event at a time with expectations.
        steps: Vec<Value>,
    },
}

impl Case {
    /// The document bytes of a decode or upstream-compat case.
    pub fn input_bytes(&self) -> Option<Vec<u8>> {
        match &self.kind {
            CaseKind::Decode { document, .. } | CaseKind::UpstreamCompat { document, .. } => {
                match (&document.input, &document.input_hex) {
                    (Some(text), _) => Some(text.as_bytes().to_vec()),
                    (None, Some(hex)) => decode_hex(hex),
                    (None, None) => None,
                }
            }
            _ => None,
        }
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let hex: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    hex.chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// The whole corpus.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// Every case, file by file.
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
}

/// Parses the embedded corpus. Errors name the file.
pub fn load() -> Result<Corpus, String> {
    let mut cases = Vec::new();
    for (name, text) in crate::FILES {
        let file: File = serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        cases.extend(file.cases.into_iter().map(|mut c| {
            c.file = (*name).to_owned();
            c
        }));
    }
    Ok(Corpus { cases })
}
