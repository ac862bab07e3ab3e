//! Who changed the directive key, why, and from where (ADR 0014).
//!
//! Every write through the publisher also writes one small JSON record to
//! [`attribution_key`] (`<key>/attribution`) **in the same etcd
//! transaction**, so the record and the change share one revision and
//! neither exists without the other. The directive document itself is left
//! untouched: decoders (ours and the upstream's) never see attribution, and
//! it never affects a decision. History finds the record of the version
//! written at revision R by reading the attribution key at R and keeping it
//! only when its mod revision is R.
//!
//! Records are read back as untrusted input (anyone with write access to
//! etcd can put anything there): bounded, strict, checked field by field.

use serde::{Deserialize, Serialize};

/// Largest record accepted, in bytes.
pub const MAX_ATTRIBUTION_BYTES: usize = 4096;
/// Longest author name, in bytes.
pub const MAX_AUTHOR_LEN: usize = 128;
/// Longest message, in bytes.
pub const MAX_MESSAGE_LEN: usize = 1024;

/// Where a change was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `directivectl`, straight to etcd.
    Cli,
    /// The admin HTTP API.
    Api,
    /// The admin UI (through the API).
    Ui,
}

impl Source {
    /// `cli`, `api` or `ui`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cli => "cli",
            Source::Api => "api",
            Source::Ui => "ui",
        }
    }
}

/// What the change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// A new document.
    Publish,
    /// An earlier version, published again.
    Rollback,
    /// The key deleted (everything off).
    Clear,
}

impl Operation {
    /// `publish`, `rollback` or `clear`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Publish => "publish",
            Operation::Rollback => "rollback",
            Operation::Clear => "clear",
        }
    }
}

/// The record of one change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribution {
    /// Who: a principal of the admin API, an etcd user, or `user@host`.
    pub author: String,
    /// Where from.
    pub source: Source,
    /// What it did.
    pub op: Operation,
    /// Why, in the author's words (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For a rollback: the revision whose version was restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_revision: Option<i64>,
    /// When, unix ms (the writer's clock).
    pub at_ms: u64,
}

/// Why a record (or an author or message) was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttributionError {
    /// Larger than [`MAX_ATTRIBUTION_BYTES`].
    #[error("attribution record is {len} bytes, more than {MAX_ATTRIBUTION_BYTES}")]
    TooLarge {
        /// Its size.
        len: usize,
    },
    /// Not a record: bad JSON, a missing or unknown field, a wrong type.
    #[error("attribution record does not match the schema: {0}")]
    Schema(String),
    /// A field out of bounds.
    #[error("attribution `{field}` {problem}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// The key holding the attribution of `key`'s writes.
pub fn attribution_key(key: &str) -> String {
    format!("{key}/attribution")
}

/// Checks an author: 1 to [`MAX_AUTHOR_LEN`] bytes, no control characters.
pub fn check_author(author: &str) -> Result<(), AttributionError> {
    if author.is_empty() || author.len() > MAX_AUTHOR_LEN || author.chars().any(char::is_control) {
        return Err(AttributionError::Field {
            field: "author",
            problem: "must be 1 to 128 bytes without control characters",
        });
    }
    Ok(())
}

/// Checks a message: at most [`MAX_MESSAGE_LEN`] bytes, no control
/// characters but newlines and tabs.
pub fn check_message(message: &str) -> Result<(), AttributionError> {
    if message.len() > MAX_MESSAGE_LEN
        || message
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(AttributionError::Field {
            field: "message",
            problem: "must be at most 1024 bytes without control characters",
        });
    }
    Ok(())
}

impl Attribution {
    /// The record as stored (compact JSON).
    pub fn encode(&self) -> Vec<u8> {
        // Plain strings and integers: serializing cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Checks a record before it is written.
    pub fn check(&self) -> Result<(), AttributionError> {
        check_author(&self.author)?;
        if let Some(message) = &self.message {
            check_message(message)?;
        }
        Ok(())
    }

    /// Reads a record from untrusted bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, AttributionError> {
        if bytes.len() > MAX_ATTRIBUTION_BYTES {
            return Err(AttributionError::TooLarge { len: bytes.len() });
        }
        let record: Attribution =
            serde_json::from_slice(bytes).map_err(|e| AttributionError::Schema(e.to_string()))?;
        record.check()?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_ones_are_refused() {
        let record = Attribution {
            author: "alice".to_owned(),
            source: Source::Ui,
            op: Operation::Rollback,
            message: Some("undo the acme trace\nsee INC-12".to_owned()),
            restored_revision: Some(7),
            at_ms: 1_700_000_000_000,
        };
        assert_eq!(Attribution::decode(&record.encode()), Ok(record.clone()));
        let text = String::from_utf8(record.encode()).expect("utf-8");
        assert!(text.contains(r#""source":"ui""#) && text.contains(r#""op":"rollback""#));
        assert!(matches!(
            Attribution::decode(b"{\"author\":\"a\"}"),
            Err(AttributionError::Schema(_))
        ));
        let mut bad = record.clone();
        bad.author = "a\u{1b}[31m".to_owned();
        assert!(
            Attribution::decode(&bad.encode()).is_err(),
            "no escape codes"
        );
        bad.author = "x".repeat(129);
        assert!(bad.check().is_err());
        assert!(check_message(&"m".repeat(1025)).is_err());
        assert!(Attribution::decode(&vec![b' '; 5000]).is_err());
        assert_eq!(
            attribution_key("osproxy/directives"),
            "osproxy/directives/attribution"
        );
        for source in [Source::Cli, Source::Api, Source::Ui] {
            let serialized = serde_json::to_string(&source).expect("json");
            assert_eq!(serialized, format!("\"{}\"", source.as_str()));
        }
        for op in [Operation::Publish, Operation::Rollback, Operation::Clear] {
            let serialized = serde_json::to_string(&op).expect("json");
            assert_eq!(serialized, format!("\"{}\"", op.as_str()));
        }
    }
}
