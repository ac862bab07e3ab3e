//! Decode errors: a stable machine code, where, and a message that never
//! echoes a value.
//!
//! Codes are the contract with every client (CLI exit reports, the HTTP API,
//! the browser); the upstream's slugs are kept wherever the upstream has the
//! same check, so dashboards keyed on them keep working. Messages are built
//! only from the code, the field name and the limits: a rejected value may be
//! a tenant name, and errors end up in logs.

use serde::{Serialize, Serializer};

use crate::Limits;

/// The `field` passed to [`ErrorCode::message`] for errors about a directive
/// object as a whole (rather than the document, or one of its keys).
pub(crate) const DIRECTIVE: &str = "directive";

/// A stable, machine-readable reason for rejecting a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Not JSON: syntax error, empty input, trailing garbage, too deep, number out of range.
    InvalidJson,
    /// The top level, or a directive, is not a JSON object.
    NotAnObject,
    /// A key that the format does not define.
    UnknownField,
    /// `directives` is absent or not an array.
    MissingDirectives,
    /// `id` is absent or not a string.
    MissingId,
    /// `level` is absent or not a string.
    MissingLevel,
    /// `level` is not one of the four level names.
    UnknownLevel,
    /// `ttl_secs` is absent or not an unsigned integer.
    MissingTtlSecs,
    /// `ttl_secs` is zero.
    ZeroTtl,
    /// `sample_per_mille` is not an integer in 0..=1000.
    BadSampleRate,
    /// `endpoint` is not a string.
    BadEndpoint,
    /// `endpoint` is not one of the endpoint names.
    UnknownEndpoint,
    /// The document is larger than [`Limits::max_bytes`].
    InputTooLarge,
    /// The document is not UTF-8.
    InvalidUtf8,
    /// The document starts with a byte order mark.
    ByteOrderMark,
    /// A key appears twice in one object.
    DuplicateKey,
    /// `published_at` is not an unsigned integer of unix milliseconds.
    BadPublishedAt,
    /// More directives than [`Limits::max_directives`].
    TooManyDirectives,
    /// `id` is the empty string.
    EmptyId,
    /// `id` is longer than [`Limits::max_id_len`] bytes.
    IdTooLong,
    /// `id` repeats an earlier directive's id.
    DuplicateId,
    /// `ttl_secs` is above [`Limits::max_ttl_secs`].
    TtlTooLong,
    /// `tenant`, `index` or `principal` is not a string (`null` included).
    BadTarget,
    /// `tenant`, `index` or `principal` is the empty string.
    EmptyTarget,
    /// `tenant`, `index` or `principal` is longer than [`Limits::max_target_len`] bytes.
    TargetTooLong,
    /// `ring_buffer` or `capture` is not a bool (`null` included).
    BadFlag,
    /// The report stopped listing errors at [`Limits::max_errors`].
    TooManyErrors,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 27] = [
        ErrorCode::InvalidJson,
        ErrorCode::NotAnObject,
        ErrorCode::UnknownField,
        ErrorCode::MissingDirectives,
        ErrorCode::MissingId,
        ErrorCode::MissingLevel,
        ErrorCode::UnknownLevel,
        ErrorCode::MissingTtlSecs,
        ErrorCode::ZeroTtl,
        ErrorCode::BadSampleRate,
        ErrorCode::BadEndpoint,
        ErrorCode::UnknownEndpoint,
        ErrorCode::InputTooLarge,
        ErrorCode::InvalidUtf8,
        ErrorCode::ByteOrderMark,
        ErrorCode::DuplicateKey,
        ErrorCode::BadPublishedAt,
        ErrorCode::TooManyDirectives,
        ErrorCode::EmptyId,
        ErrorCode::IdTooLong,
        ErrorCode::DuplicateId,
        ErrorCode::TtlTooLong,
        ErrorCode::BadTarget,
        ErrorCode::EmptyTarget,
        ErrorCode::TargetTooLong,
        ErrorCode::BadFlag,
        ErrorCode::TooManyErrors,
    ];

    /// The stable slug.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::NotAnObject => "not_an_object",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::MissingDirectives => "missing_directives",
            ErrorCode::MissingId => "missing_id",
            ErrorCode::MissingLevel => "missing_level",
            ErrorCode::UnknownLevel => "unknown_level",
            ErrorCode::MissingTtlSecs => "missing_ttl_secs",
            ErrorCode::ZeroTtl => "zero_ttl",
            ErrorCode::BadSampleRate => "bad_sample_rate",
            ErrorCode::BadEndpoint => "bad_endpoint",
            ErrorCode::UnknownEndpoint => "unknown_endpoint",
            ErrorCode::InputTooLarge => "input_too_large",
            ErrorCode::InvalidUtf8 => "invalid_utf8",
            ErrorCode::ByteOrderMark => "byte_order_mark",
            ErrorCode::DuplicateKey => "duplicate_key",
            ErrorCode::BadPublishedAt => "bad_published_at",
            ErrorCode::TooManyDirectives => "too_many_directives",
            ErrorCode::EmptyId => "empty_id",
            ErrorCode::IdTooLong => "id_too_long",
            ErrorCode::DuplicateId => "duplicate_id",
            ErrorCode::TtlTooLong => "ttl_too_long",
            ErrorCode::BadTarget => "bad_target",
            ErrorCode::EmptyTarget => "empty_target",
            ErrorCode::TargetTooLong => "target_too_long",
            ErrorCode::BadFlag => "bad_flag",
            ErrorCode::TooManyErrors => "too_many_errors",
        }
    }

    /// Parses a slug back into a code.
    pub fn from_slug(slug: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == slug)
    }

    /// The human message for this code. `field` is the key concerned (a
    /// format key, never input data); limits fill in the numbers.
    pub(crate) fn message(self, field: &str, limits: &Limits) -> String {
        match self {
            ErrorCode::InvalidJson => "not valid JSON".into(),
            ErrorCode::NotAnObject if field == DIRECTIVE => {
                "each directive must be a JSON object".into()
            }
            ErrorCode::NotAnObject => "the document must be a JSON object".into(),
            ErrorCode::UnknownField if field == DIRECTIVE => {
                "unknown directive field (allowed: id, level, ttl_secs, \
                 tenant, index, principal, endpoint, sample_per_mille, ring_buffer, capture)"
                    .into()
            }
            ErrorCode::UnknownField => {
                "unknown top-level field (allowed: directives, published_at)".into()
            }
            ErrorCode::MissingDirectives => "`directives` must be an array".into(),
            ErrorCode::MissingId => "`id` is required and must be a string".into(),
            ErrorCode::MissingLevel => "`level` is required and must be a string".into(),
            ErrorCode::UnknownLevel => {
                "`level` must be one of Off, Shape, ShapeTiming, ShapeRewriteDiff".into()
            }
            ErrorCode::MissingTtlSecs => {
                "`ttl_secs` is required and must be a whole number of seconds".into()
            }
            ErrorCode::ZeroTtl => "`ttl_secs` must be at least 1".into(),
            ErrorCode::BadSampleRate => {
                "`sample_per_mille` must be a whole number from 0 to 1000".into()
            }
            ErrorCode::BadEndpoint => "`endpoint` must be a string".into(),
            ErrorCode::UnknownEndpoint => "`endpoint` must be one of IngestDoc, IngestBulk, \
                 Search, MultiSearch, Count, GetById, MultiGet, DeleteById, DeleteByQuery, \
                 Cursor, Admin, Unknown"
                .into(),
            ErrorCode::InputTooLarge => {
                format!("the document is larger than {} bytes", limits.max_bytes)
            }
            ErrorCode::InvalidUtf8 => "the document is not valid UTF-8".into(),
            ErrorCode::ByteOrderMark => "remove the byte order mark at the start".into(),
            ErrorCode::DuplicateKey => format!("`{field}` appears more than once in this object"),
            ErrorCode::BadPublishedAt => {
                "`published_at` must be a whole number of unix milliseconds".into()
            }
            ErrorCode::TooManyDirectives => {
                format!("more than {} directives", limits.max_directives)
            }
            ErrorCode::EmptyId => "`id` must not be empty".into(),
            ErrorCode::IdTooLong => format!("`id` is longer than {} bytes", limits.max_id_len),
            ErrorCode::DuplicateId => "`id` is already used by an earlier directive".into(),
            ErrorCode::TtlTooLong => {
                format!("`ttl_secs` must be at most {}", limits.max_ttl_secs)
            }
            ErrorCode::BadTarget => {
                format!("`{field}` must be a string; omit it to match every {field}")
            }
            ErrorCode::EmptyTarget => {
                format!("`{field}` must not be empty; omit it to match every {field}")
            }
            ErrorCode::TargetTooLong => {
                format!("`{field}` is longer than {} bytes", limits.max_target_len)
            }
            ErrorCode::BadFlag => format!("`{field}` must be true or false"),
            ErrorCode::TooManyErrors => {
                format!(
                    "more than {} errors; the rest are not listed",
                    limits.max_errors
                )
            }
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One reason a document was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecodeError {
    /// The stable machine code.
    pub code: ErrorCode,
    /// JSON Pointer to the offending element (`""` for the whole document).
    pub path: String,
    /// A short human explanation; never contains input values.
    pub message: String,
    /// 1-based line of the offending element, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column (in characters) of the offending element, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{path} ({l}:{c}): {}: {}", self.code, self.message),
            _ => write!(f, "{path}: {}: {}", self.code, self.message),
        }
    }
}

/// Every error found in a rejected document, in document order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("directive set rejected with {} error(s); first: {}", .errors.len(), .errors.first().map(|e| e.to_string()).unwrap_or_default())]
pub struct DecodeErrors {
    /// The errors; never empty.
    pub errors: Vec<DecodeError>,
}

impl DecodeErrors {
    /// The codes, in order (handy in tests and logs).
    pub fn codes(&self) -> Vec<ErrorCode> {
        self.errors.iter().map(|e| e.code).collect()
    }
}
