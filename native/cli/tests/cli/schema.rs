//! `schema` agrees with the decoder.

use super::*;

// --- schema ---------------------------------------------------------------

/// A deliberately small JSON Schema checker: exactly the keywords `schema`
/// emits, and a failure for any other, so the check cannot silently pass.
fn schema_errors(root: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let schema = match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/$defs/").expect("local $ref");
            &root["$defs"][name]
        }
        None => schema,
    };
    for (keyword, rule) in schema.as_object().expect("schema object") {
        let ok = match keyword.as_str() {
            "$schema" | "$id" | "$defs" | "$ref" | "title" | "description" => true,
            "type" => match rule.as_str().expect("type name") {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "boolean" => value.is_boolean(),
                "integer" => value.is_u64() || value.is_i64(),
                other => panic!("unsupported type {other}"),
            },
            "enum" => rule.as_array().expect("enum").contains(value),
            "minimum" => value
                .as_f64()
                .is_none_or(|v| v >= rule.as_f64().expect("n")),
            "maximum" => value
                .as_f64()
                .is_none_or(|v| v <= rule.as_f64().expect("n")),
            "minLength" => value
                .as_str()
                .is_none_or(|s| s.chars().count() as u64 >= rule.as_u64().expect("n")),
            "maxLength" => value
                .as_str()
                .is_none_or(|s| s.chars().count() as u64 <= rule.as_u64().expect("n")),
            "maxItems" => value
                .as_array()
                .is_none_or(|a| a.len() as u64 <= rule.as_u64().expect("n")),
            "required" => value.as_object().is_none_or(|o| {
                rule.as_array()
                    .expect("required")
                    .iter()
                    .all(|k| o.contains_key(k.as_str().expect("name")))
            }),
            "additionalProperties" => {
                assert_eq!(rule, &Value::Bool(false), "only `false` is emitted");
                value.as_object().is_none_or(|o| {
                    o.keys()
                        .all(|k| schema["properties"].get(k.as_str()).is_some())
                })
            }
            "properties" => {
                if let Some(o) = value.as_object() {
                    for (k, v) in o {
                        if let Some(sub) = rule.get(k.as_str()) {
                            schema_errors(root, sub, v, &format!("{at}/{k}"), out);
                        }
                    }
                }
                true
            }
            "items" => {
                if let Some(a) = value.as_array() {
                    for (i, v) in a.iter().enumerate() {
                        schema_errors(root, rule, v, &format!("{at}/{i}"), out);
                    }
                }
                true
            }
            other => panic!("the checker does not know keyword {other}"),
        };
        if !ok {
            out.push(format!("{at}: {keyword}"));
        }
    }
}

/// The names the decoder's `unknown_field` message lists as allowed.
fn decoder_fields(document: &str) -> Vec<String> {
    let report =
        directive_core::validate(document.as_bytes(), 0, &directive_core::Limits::default());
    let message = &report
        .errors
        .first()
        .expect("an unknown_field error")
        .message;
    let list = message
        .split_once("(allowed: ")
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("message lists the fields: {message}"));
    let mut names: Vec<String> = list.split(", ").map(str::to_owned).collect();
    names.sort();
    names
}

fn keys(object: &Value) -> Vec<String> {
    let mut names: Vec<String> = object
        .as_object()
        .expect("properties object")
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

#[test]
fn schema_agrees_with_the_decoder() {
    let out = ctl(&["schema"], b"");
    assert_eq!(out.code, 0, "{out:?}");
    let schema = json(&out.stdout);
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let directive = &schema["$defs"]["directive"];
    assert_eq!(
        keys(&schema["properties"]),
        decoder_fields(r#"{"directives":[],"zzz":1}"#)
    );
    assert_eq!(
        keys(&directive["properties"]),
        decoder_fields(r#"{"directives":[{"id":"a","level":"Off","ttl_secs":1,"zzz":1}]}"#)
    );
    assert_eq!(schema["properties"]["directives"]["maxItems"], 10_000);
    assert_eq!(directive["properties"]["ttl_secs"]["maximum"], 604_800);
    assert_eq!(
        directive["properties"]["level"]["enum"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    assert_eq!(
        directive["properties"]["endpoint"]["enum"]
            .as_array()
            .map(Vec::len),
        Some(12)
    );

    let sample = std::fs::read_to_string(sample_path()).expect("examples/sample.json");
    let d = |extra: &str| {
        format!(
            r#"{{"published_at":5,"directives":[{{"id":"a","level":"Shape","ttl_secs":60{extra}}}]}}"#
        )
    };
    let long_id = format!(
        r#"{{"directives":[{{"id":"{}","level":"Shape","ttl_secs":60}}]}}"#,
        "i".repeat(129)
    );
    let long_tenant = d(&format!(r#","tenant":"{}""#, "t".repeat(257)));
    let cases: Vec<String> = vec![
        sample,
        d(""),
        d(
            r#","tenant":"acme","index":"o","principal":"p","endpoint":"Search","sample_per_mille":0,"ring_buffer":true,"capture":false"#,
        ),
        d(r#","ttl_secs":604800"#).replace(r#""ttl_secs":60,"#, ""),
        r#"{"directives":[]}"#.into(),
        // Rejected by both:
        r#"{"directives":[],"zzz":1}"#.into(),
        d(r#","zzz":1"#),
        r#"{}"#.into(),
        r#"{"directives":[{"level":"Shape","ttl_secs":60}]}"#.into(),
        d(r#","endpoint":"Nope""#),
        d(r#","sample_per_mille":1001"#),
        d(r#","ring_buffer":"yes""#),
        d(r#","tenant":"""#),
        long_tenant,
        long_id,
        d("").replace(r#""level":"Shape""#, r#""level":"Nope""#),
        d("").replace(r#""ttl_secs":60"#, r#""ttl_secs":0"#),
        d("").replace(r#""ttl_secs":60"#, r#""ttl_secs":604801"#),
        d("").replace(r#""published_at":5"#, r#""published_at":-1"#),
    ];
    for (i, case) in cases.iter().enumerate() {
        let value = json(case);
        let mut errors = Vec::new();
        schema_errors(&schema, &schema, &value, "", &mut errors);
        let decoder_ok =
            directive_core::validate(case.as_bytes(), 0, &directive_core::Limits::default()).ok;
        assert_eq!(
            errors.is_empty(),
            decoder_ok,
            "case {i} {case}: schema errors {errors:?}, decoder ok {decoder_ok}"
        );
        assert_eq!(
            decoder_ok,
            i < 5,
            "case {i} is meant to be {}",
            if i < 5 { "valid" } else { "invalid" }
        );
    }
}
