//! The WASM build against native `directive-core`, byte for byte.
//!
//! Runs under `wasm-bindgen-test` in Node (default) and in headless Chromium
//! (`WASM_BINDGEN_USE_BROWSER=1`); `scripts/test-wasm.sh` runs both. The
//! expected texts were computed natively by `build.rs`. Wherever the JS API
//! can express a case, the case goes through the exported functions with real
//! JS values (strings cross the boundary, requests are JS objects); custom
//! limits and a decode time distinct from the request time go through
//! `directive_wasm::entry`, the same code minus the argument conversion.

#![cfg(target_arch = "wasm32")]

use directive_vectors::{load, run_all, Case, CaseKind, Native, Surface};
use directive_wasm::args::RequestInput;
use directive_wasm::entry;
use directive_wasm_parity::{from_hex, EXPECTED_JSON};
use js_sys::{Reflect, Uint8Array, JSON};
use serde_json::{json, Value};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

/// The WASM build as a corpus surface.
struct Wasm;

/// A document as JS passes it: a string when it is UTF-8, else bytes.
fn js_input(bytes: &[u8]) -> JsValue {
    match std::str::from_utf8(bytes) {
        Ok(text) => JsValue::from_str(text),
        Err(_) => Uint8Array::from(bytes).into(),
    }
}

fn js_error(e: JsValue) -> String {
    json!({"harness_error": format!("{e:?}")}).to_string()
}

fn js_object(v: &Value) -> JsValue {
    JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
}

impl Surface for Wasm {
    fn name(&self) -> &str {
        "wasm"
    }

    fn validate(&self, input: &[u8], now_ms: u64, limits: Option<&Value>) -> Option<String> {
        Some(match limits {
            None => directive_wasm::validate_json(js_input(input), Some(now_ms as f64))
                .unwrap_or_else(js_error),
            Some(l) => entry::validate_report_with(input, now_ms, Some(&l.to_string()))
                .unwrap_or_else(|e| json!({ "harness_error": e }).to_string()),
        })
    }

    fn evaluate(
        &self,
        set: &str,
        decoded_at_ms: u64,
        now_ms: u64,
        request: &Value,
    ) -> Option<String> {
        if decoded_at_ms == now_ms {
            return Some(
                directive_wasm::evaluate_json(
                    JsValue::from_str(set),
                    js_object(request),
                    Some(now_ms as f64),
                )
                .unwrap_or_else(js_error),
            );
        }
        let request = match RequestInput::from_json(&request.to_string()) {
            Ok(r) => r,
            Err(e) => return Some(json!({ "harness_error": e }).to_string()),
        };
        Some(
            entry::explain(set.as_bytes(), &request.as_request(), decoded_at_ms, now_ms)
                .unwrap_or_else(|report| json!({ "harness_error": report }).to_string()),
        )
    }

    fn diff(&self, before: Option<&str>, after: &str, now_ms: u64) -> Option<String> {
        let before = before.map_or(JsValue::NULL, JsValue::from_str);
        Some(
            match directive_wasm::diff(before, JsValue::from_str(after), Some(now_ms as f64)) {
                Ok(value) => JSON::stringify(&value)
                    .map(String::from)
                    .unwrap_or_else(js_error),
                // An invalid `after`: the error carries the rejection report.
                Err(e) => Reflect::get(&e, &JsValue::from_str("report"))
                    .ok()
                    .and_then(|r| JSON::stringify(&r).ok())
                    .map_or_else(|| js_error(e), String::from),
            },
        )
    }
}

fn expected() -> Value {
    serde_json::from_str(EXPECTED_JSON).expect("expected.json parses")
}

fn wasm_output(case: &Case) -> Option<String> {
    match &case.kind {
        CaseKind::Decode { now_ms, limits, .. } => {
            let input = case.input_bytes()?;
            Wasm.validate(&input, *now_ms, limits.as_ref())
        }
        CaseKind::Evaluate {
            set,
            decoded_at_ms,
            now_ms,
            request,
            ..
        } => Wasm.evaluate(set, *decoded_at_ms, *now_ms, request),
        CaseKind::Diff {
            before,
            after,
            now_ms,
            ..
        } => Wasm.diff(before.as_deref(), after, *now_ms),
        CaseKind::Reducer { .. } | CaseKind::UpstreamCompat { .. } => None,
    }
}

#[wasm_bindgen_test]
fn corpus_outputs_are_byte_identical_to_native() {
    let corpus = load().expect("corpus parses");
    let expected = expected();
    let list = expected["corpus"].as_array().expect("corpus list");
    let mut compared = 0;
    let mut differ = Vec::new();
    for want in list {
        let name = want["name"].as_str().expect("name");
        let case = corpus
            .cases
            .iter()
            .find(|c| c.name == name)
            .expect("every expected case is in the corpus");
        let got = wasm_output(case).expect("the wasm surface runs decode, evaluate and diff cases");
        if Some(got.as_str()) != want["output"].as_str() {
            differ.push(format!(
                "{name}:\n  native {}\n  wasm   {got}",
                want["output"]
            ));
        }
        compared += 1;
    }
    let decode_and_evaluate = corpus
        .cases
        .iter()
        .filter(|c| {
            !matches!(
                c.kind,
                CaseKind::Reducer { .. } | CaseKind::UpstreamCompat { .. }
            )
        })
        .count();
    assert_eq!(compared, decode_and_evaluate, "every case was compared");
    assert!(
        differ.is_empty(),
        "{} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
    wasm_bindgen_test::console_log!("corpus: {compared} outputs byte-identical to native");
}

#[wasm_bindgen_test]
fn corpus_expectations_hold_through_the_wasm_api() {
    let corpus = load().expect("corpus parses");
    let summary = run_all(&corpus, &Wasm);
    let skipped = corpus
        .cases
        .iter()
        .filter(|c| {
            matches!(
                c.kind,
                CaseKind::Reducer { .. } | CaseKind::UpstreamCompat { .. }
            )
        })
        .count();
    assert!(summary.failures.is_empty(), "{summary}");
    assert_eq!(
        summary.skipped, skipped,
        "only reducer and upstream-compat cases are skipped"
    );
    wasm_bindgen_test::console_log!("wasm surface: {summary}");
}

#[wasm_bindgen_test]
fn corpus_holds_for_core_compiled_to_wasm_reducer_included() {
    let corpus = load().expect("corpus parses");
    let summary = run_all(&corpus, &Native);
    let upstream_compat = corpus
        .cases
        .iter()
        .filter(|c| matches!(c.kind, CaseKind::UpstreamCompat { .. }))
        .count();
    assert!(summary.failures.is_empty(), "{summary}");
    assert_eq!(summary.skipped, upstream_compat, "{summary}");
    wasm_bindgen_test::console_log!("core in wasm: {summary}");
}

#[wasm_bindgen_test]
fn generated_sets_give_byte_identical_reports_and_decisions() {
    let expected = expected();
    let list = expected["generated"].as_array().expect("generated list");
    assert!(list.len() >= 300, "only {} generated sets", list.len());
    let (mut accepted, mut evaluated, mut differ) = (0, 0, Vec::new());
    for (i, case) in list.iter().enumerate() {
        let input = from_hex(case["input_hex"].as_str().expect("hex")).expect("valid hex");
        let now = case["now_ms"].as_u64().expect("now_ms") as f64;
        let want = case["report"].as_str().expect("report");
        // Always as bytes; also as a string when it is one.
        let mut forms = vec![JsValue::from(Uint8Array::from(input.as_slice()))];
        if std::str::from_utf8(&input).is_ok() {
            forms.push(js_input(&input));
        }
        for form in forms {
            let got = directive_wasm::validate_json(form, Some(now)).unwrap_or_else(js_error);
            if got != want {
                differ.push(format!("#{i} report:\n  native {want}\n  wasm   {got}"));
            }
        }
        if want.starts_with(r#"{"ok":true"#) {
            accepted += 1;
        }
        if let Some(explanation) = case["explanation"].as_str() {
            let got = directive_wasm::evaluate_json(
                js_input(&input),
                js_object(&case["request"]),
                Some(now),
            )
            .unwrap_or_else(js_error);
            if got != explanation {
                differ.push(format!(
                    "#{i} decision:\n  native {explanation}\n  wasm   {got}"
                ));
            }
            evaluated += 1;
        }
    }
    assert!(
        differ.is_empty(),
        "{} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
    // The generator must exercise both outcomes substantially.
    assert!(accepted >= list.len() / 5, "only {accepted} accepted");
    assert!(
        list.len() - accepted >= list.len() / 5,
        "only {} rejected",
        list.len() - accepted
    );
    wasm_bindgen_test::console_log!(
        "generated (seed {}): {} sets, {accepted} accepted, {evaluated} decisions, all byte-identical",
        expected["seed"],
        list.len()
    );
}

const SAMPLE: &str = r#"{"published_at": 1800000000000, "directives": [
  {"id": "a", "level": "ShapeTiming", "ttl_secs": 1800, "tenant": "acme", "sample_per_mille": 250},
  {"id": "b", "level": "Shape", "ttl_secs": 60, "ring_buffer": true}
]}"#;

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

#[wasm_bindgen_test]
fn validate_is_the_parsed_report() {
    let now = Some(1_800_000_000_000.0);
    let text = directive_wasm::validate_json(SAMPLE.into(), now).expect("validates");
    let object = directive_wasm::validate(SAMPLE.into(), now).expect("validates");
    let again = JSON::stringify(&object).expect("stringify").as_string();
    assert_eq!(again.as_deref(), Some(text.as_str()));
    assert_eq!(get(&object, "ok"), JsValue::TRUE);
}

#[wasm_bindgen_test]
fn now_defaults_to_date_now() {
    let before = js_sys::Date::now() as u64;
    let report = directive_wasm::validate_json(
        r#"{"directives":[{"id":"a","level":"Shape","ttl_secs":60}]}"#.into(),
        None,
    )
    .expect("validates");
    let after = js_sys::Date::now() as u64;
    let v: Value = serde_json::from_str(&report).expect("json");
    let expires = v["directives"][0]["expires_at_ms"]
        .as_u64()
        .expect("expiry");
    assert!(
        (before + 60_000..=after + 60_000).contains(&expires),
        "{expires}"
    );
}

#[wasm_bindgen_test]
fn a_bad_now_or_input_is_refused() {
    for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 9_007_199_254_740_992.0] {
        let err = directive_wasm::validate_json(SAMPLE.into(), Some(bad)).expect_err("refused");
        assert!(err.is_instance_of::<js_sys::RangeError>(), "{bad}: {err:?}");
    }
    let err = directive_wasm::validate_json(JsValue::from_f64(3.0), None).expect_err("refused");
    assert!(err.is_instance_of::<js_sys::TypeError>());
}

#[wasm_bindgen_test]
fn evaluate_decides_and_refuses_invalid_sets_and_requests() {
    let now = Some(1_800_000_000_000.0);
    let request = js_object(
        &json!({"tenant": "acme", "index": "orders", "principal": "alice",
        "endpoint": "Search", "request_id": "req-42"}),
    );
    let decision = directive_wasm::evaluate(SAMPLE.into(), request.clone(), now).expect("ok");
    assert_eq!(get(&decision, "level"), JsValue::from_str("Shape"));

    let err = directive_wasm::evaluate(r#"{"directives":[{}]}"#.into(), request, now)
        .expect_err("invalid set");
    assert_eq!(
        get(&err, "name"),
        JsValue::from_str("InvalidDirectiveSetError")
    );
    let report = get(&err, "report");
    assert_eq!(get(&report, "ok"), JsValue::FALSE);

    for bad in [
        json!({"index": "orders", "principal": "a", "endpoint": "Search", "requestId": "x"}),
        json!({"index": "orders", "principal": "a", "endpoint": "search", "request_id": "x"}),
        json!({"index": 3, "principal": "a", "endpoint": "Search", "request_id": "x"}),
    ] {
        let err = directive_wasm::evaluate(SAMPLE.into(), js_object(&bad), now).expect_err("bad");
        assert!(err.is_instance_of::<js_sys::TypeError>(), "{bad}: {err:?}");
    }
    let err = directive_wasm::evaluate(SAMPLE.into(), JsValue::from_str("req"), now);
    assert!(err.is_err());
}

#[wasm_bindgen_test]
fn stamp_gives_the_bytes_the_publisher_writes() {
    let now = 1_700_000_000_000;
    let text = directive_wasm::stamp(SAMPLE.into(), Some(now as f64)).expect("valid");
    let want = directive_core::stamp(SAMPLE.as_bytes(), now, &directive_core::Limits::DEFAULT)
        .expect("valid");
    assert_eq!(text.as_bytes(), want.bytes.as_slice());
    assert!(text.contains(&format!("\"published_at\":{now}")), "{text}");
    assert!(directive_wasm::stamp("{".into(), Some(now as f64)).is_err());
}

#[wasm_bindgen_test]
fn diff_is_the_native_diff() {
    let now = 1_800_000_000_000u64;
    let before = r#"{"directives":[{"id":"a","level":"Shape","ttl_secs":901},{"id":"b","level":"Shape","ttl_secs":60}]}"#;
    let after = r#"{"directives":[{"id":"a","level":"Shape","ttl_secs":902},{"id":"c","level":"ShapeTiming","ttl_secs":60}]}"#;
    let decode = |text: &str| {
        directive_core::decode(text.as_bytes(), now, &directive_core::Limits::DEFAULT)
            .expect("valid")
    };
    let native = directive_core::diff::diff(&decode(before), &decode(after)).to_json();
    let wasm = directive_wasm::diff(before.into(), after.into(), Some(now as f64)).expect("valid");
    let text = js_sys::JSON::stringify(&wasm).expect("stringify");
    assert_eq!(String::from(text), native);
    // Absent or refused `before`: everything is added.
    let from_nothing =
        directive_wasm::diff(JsValue::NULL, after.into(), Some(now as f64)).expect("valid");
    let added = js_sys::Array::from(&get(&from_nothing, "added")).length();
    assert_eq!(added, 2);
    let from_refused =
        directive_wasm::diff("{".into(), after.into(), Some(now as f64)).expect("valid");
    assert_eq!(
        js_sys::Array::from(&get(&from_refused, "added")).length(),
        2
    );
    let err = directive_wasm::diff(before.into(), "{".into(), Some(now as f64)).expect_err("bad");
    assert_eq!(
        get(&err, "name"),
        JsValue::from_str("InvalidDirectiveSetError")
    );
}

#[wasm_bindgen_test]
fn canonicalize_gives_a_document_that_decodes_to_the_same_set() {
    let now = 1_800_000_000_500.0;
    let canonical = directive_wasm::canonicalize(SAMPLE.into(), Some(now)).expect("valid");
    let a = directive_wasm::validate_json(SAMPLE.into(), Some(now)).expect("ok");
    let b = directive_wasm::validate_json(canonical.as_str().into(), Some(now + 10.0)).expect("ok");
    assert_eq!(a, b);
    assert!(canonical.contains("\"published_at\": 1800000000000"));
    let err = directive_wasm::canonicalize("{".into(), Some(now)).expect_err("invalid");
    assert_eq!(
        get(&err, "name"),
        JsValue::from_str("InvalidDirectiveSetError")
    );
}

#[wasm_bindgen_test]
fn schema_limits_and_version() {
    let schema = directive_wasm::schema().expect("schema");
    let level = get(
        &get(&get(&get(&schema, "$defs"), "directive"), "properties"),
        "level",
    );
    let levels = js_sys::Array::from(&get(&level, "enum"));
    assert_eq!(levels.length(), 4);
    let limits = directive_wasm::limits().expect("limits");
    assert_eq!(get(&limits, "max_directives"), JsValue::from_f64(10_000.0));
    assert_eq!(directive_wasm::version(), directive_core::VERSION);
}
