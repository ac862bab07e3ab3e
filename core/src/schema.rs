//! The JSON Schema (draft 2020-12) of the wire format, so editors, CI
//! linters, `directivectl schema` and the browser's `schema()` all flag
//! mistakes before `validate` does, from one definition.
//!
//! The wire format is checked by a hand-written streaming decoder, not by a
//! serde struct, so there is nothing for `schemars` to derive from; the
//! schema is written here with `serde_json::json!` from the same constants
//! the decoder uses (`Limits::DEFAULT`, `DiagLevel::ALL`,
//! `EndpointKind::ALL`), so the numbers and names cannot drift. It is
//! necessary, not sufficient: every document the decoder accepts satisfies
//! it, but it cannot state unique ids, duplicate keys, the document size,
//! lengths in bytes (`maxLength` counts characters, which every accepted
//! string also satisfies) or that `600.0` is not a whole number of seconds.
//! Only `validate` gives the verdict. The CLI tests check its key sets
//! against the decoder's and its verdicts on valid and invalid examples.

use serde_json::{json, Value};

use crate::{DiagLevel, EndpointKind, Limits};

/// The `$id` of the schema.
pub const SCHEMA_ID: &str = "https://directive-plane.invalid/schema/directive-set.json";

/// The schema of a directive-set document at the default limits.
pub fn schema() -> Value {
    let limits = Limits::DEFAULT;
    let levels: Vec<&str> = DiagLevel::ALL.iter().map(|l| l.as_str()).collect();
    let endpoints: Vec<&str> = EndpointKind::ALL.iter().map(|e| e.as_str()).collect();
    let target = |what: &str| {
        json!({
            "description": format!("Only requests whose {what} equals this string match; absent: any."),
            "type": "string",
            "minLength": 1,
            "maxLength": limits.max_target_len,
        })
    };
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Directive set",
        "description": format!(
            "The fleet's diagnostics directives, stored as one document under one etcd key. \
             Also enforced by the decoder but not expressible here: ids are unique, and the \
             document is at most {} bytes.",
            limits.max_bytes
        ),
        "type": "object",
        "required": ["directives"],
        "additionalProperties": false,
        "properties": {
            "published_at": {
                "description": "When the set was published (unix ms); anchors every TTL. Stamped by the publisher.",
                "type": "integer",
                "minimum": 0,
            },
            "directives": {
                "type": "array",
                "maxItems": limits.max_directives,
                "items": { "$ref": "#/$defs/directive" },
            },
        },
        "$defs": {
            "directive": {
                "type": "object",
                "required": ["id", "level", "ttl_secs"],
                "additionalProperties": false,
                "properties": {
                    "id": {
                        "description": "Unique name of the directive.",
                        "type": "string",
                        "minLength": 1,
                        "maxLength": limits.max_id_len,
                    },
                    "level": {
                        "description": "The diagnostics level while it applies.",
                        "enum": levels,
                    },
                    "ttl_secs": {
                        "description": "Lifetime in seconds from published_at (or from when it was read, if earlier).",
                        "type": "integer",
                        "minimum": 1,
                        "maximum": limits.max_ttl_secs,
                    },
                    "tenant": target("resolved tenant"),
                    "index": target("logical index"),
                    "principal": target("principal"),
                    "endpoint": {
                        "description": "Only requests of this endpoint class match; absent: any.",
                        "enum": endpoints,
                    },
                    "sample_per_mille": {
                        "description": "Share of matching requests affected, per mille (default 1000).",
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 1000,
                    },
                    "ring_buffer": {
                        "description": "Keep matching requests in the ring buffer.",
                        "type": "boolean",
                    },
                    "capture": {
                        "description": "Capture matching traffic.",
                        "type": "boolean",
                    },
                },
            },
        },
    })
}
