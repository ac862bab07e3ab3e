//! The JSON Schema of the wire format, as text for JavaScript.
//!
//! The schema itself is `directive_core::schema()`, the one definition the
//! CLI's `schema` verb prints too; see there for what a schema can and cannot
//! say (it is necessary, not sufficient: only `validate` gives the verdict).

/// The schema for the default limits, as JSON text.
pub fn schema_json() -> String {
    // A tree of strings and numbers: serialization cannot fail.
    serde_json::to_string(&directive_core::schema()).unwrap_or_default()
}
