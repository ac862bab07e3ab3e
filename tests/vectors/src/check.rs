//! Running cases against a surface and comparing outcomes.

use serde_json::{json, Map, Value};

use crate::case::{Case, CaseKind, Corpus};

/// Something that validates documents and evaluates requests: the core
/// library, the WASM build, the CLI or the HTTP API.
pub trait Surface {
    /// A short name for failure messages.
    fn name(&self) -> &str;

    /// The validation report JSON text for `input` decoded at `now_ms`, with
    /// `limits` (a partial override object) when the case has one. `None`
    /// when this surface cannot apply custom limits; the case is skipped.
    fn validate(&self, input: &[u8], now_ms: u64, limits: Option<&Value>) -> Option<String>;

    /// The explanation JSON (`{"level","ring_buffer","capture","matched"}`)
    /// for `request` against `set` decoded at `decoded_at_ms`, at `now_ms`.
    /// `None` when this surface does not evaluate.
    fn evaluate(
        &self,
        set: &str,
        decoded_at_ms: u64,
        now_ms: u64,
        request: &Value,
    ) -> Option<String>;

    /// The diff JSON (`{"added","removed","changed","unchanged"}`) of
    /// `after` from `before` (`None`: absent), both decoded at `now_ms`; the
    /// rejection report JSON when `after` does not decode. `None` when this
    /// surface does not diff.
    fn diff(&self, before: Option<&str>, after: &str, now_ms: u64) -> Option<String> {
        let _ = (before, after, now_ms);
        None
    }

    /// The upstream-compat report JSON (`{"upstream","ours","differences"}`)
    /// for `input` at `now_ms` with `limits`. `None` when this surface has
    /// no upstream decoder (or cannot apply the limits).
    fn upstream_compat(&self, input: &[u8], now_ms: u64, limits: Option<&Value>) -> Option<String> {
        let _ = (input, now_ms, limits);
        None
    }

    /// Runs a reducer scenario; `Err` describes the first divergence.
    /// `None` when this surface does not host the reducer.
    fn reducer(&self, steps: &[Value]) -> Option<Result<(), String>> {
        let _ = steps;
        None
    }
}

/// One case that did not match.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Case name.
    pub case: String,
    /// File it came from.
    pub file: String,
    /// What differed.
    pub reason: String,
}

/// The outcome of a corpus run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Cases that matched.
    pub passed: usize,
    /// Cases the surface could not run.
    pub skipped: usize,
    /// Cases that differed.
    pub failures: Vec<Failure>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for fail in &self.failures {
            writeln!(f, "FAIL {} ({}): {}", fail.case, fail.file, fail.reason)?;
        }
        write!(
            f,
            "corpus: {} matched, {} differed, {} skipped",
            self.passed,
            self.failures.len(),
            self.skipped
        )
    }
}

/// Runs every case of `corpus` against `surface`.
pub fn run_all(corpus: &Corpus, surface: &dyn Surface) -> Summary {
    let mut summary = Summary::default();
    for case in &corpus.cases {
        match check_case(case, surface) {
            None => summary.skipped += 1,
            Some(Ok(())) => summary.passed += 1,
            Some(Err(reason)) => summary.failures.push(Failure {
                case: case.name.clone(),
                file: case.file.clone(),
                reason: format!("[{}] {reason}", surface.name()),
            }),
        }
    }
    summary
}

/// Runs one case; `None` when the surface cannot run it.
pub fn check_case(case: &Case, surface: &dyn Surface) -> Option<Result<(), String>> {
    match &case.kind {
        CaseKind::Decode {
            now_ms,
            limits,
            expect,
            ..
        } => {
            let input = match input_of(case) {
                Ok(input) => input,
                Err(e) => return Some(Err(e)),
            };
            let report = surface.validate(&input, *now_ms, limits.as_ref())?;
            Some(compare_report(&input, &report, expect))
        }
        CaseKind::Evaluate {
            set,
            decoded_at_ms,
            now_ms,
            request,
            expect,
        } => {
            let got = surface.evaluate(set, *decoded_at_ms, *now_ms, request)?;
            Some(compare_json(&got, expect))
        }
        CaseKind::Diff {
            before,
            after,
            now_ms,
            expect,
        } => {
            let got = surface.diff(before.as_deref(), after, *now_ms)?;
            if expect.get("ok") == Some(&Value::Bool(false)) {
                let got: Value = match serde_json::from_str(&got) {
                    Ok(v) => v,
                    Err(e) => return Some(Err(format!("surface output is not JSON: {e}"))),
                };
                return Some(if got["ok"] == Value::Bool(false) {
                    Ok(())
                } else {
                    Err(format!("expected a rejection, got {got}"))
                });
            }
            Some(compare_json(&got, expect))
        }
        CaseKind::UpstreamCompat {
            now_ms,
            limits,
            expect,
            ..
        } => {
            let input = match input_of(case) {
                Ok(input) => input,
                Err(e) => return Some(Err(e)),
            };
            let got = surface.upstream_compat(&input, *now_ms, limits.as_ref())?;
            Some(compare_compat(&got, expect))
        }
        CaseKind::Reducer { steps } => surface.reducer(steps),
    }
}

fn input_of(case: &Case) -> Result<Vec<u8>, String> {
    case.input_bytes()
        .ok_or_else(|| "case has neither input nor valid input_hex".to_owned())
}

/// The upstream's verdict exactly, our `ok`, and the differences as
/// `(rule, path)` in order, each with its explanation and fix written.
fn compare_compat(got: &str, expect: &Value) -> Result<(), String> {
    let got: Value =
        serde_json::from_str(got).map_err(|e| format!("surface output is not JSON: {e}"))?;
    if got["upstream"] != expect["upstream"] {
        return Err(format!(
            "upstream: expected {}, got {}",
            expect["upstream"], got["upstream"]
        ));
    }
    if got["ours"]["ok"] != expect["ours"]["ok"] {
        return Err(format!(
            "ours: expected {}, got {}",
            expect["ours"], got["ours"]
        ));
    }
    let pairs = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .map(|list| {
                list.iter()
                    .map(|d| {
                        (
                            d["rule"].as_str().unwrap_or("?").to_owned(),
                            d["path"].as_str().unwrap_or("?").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (want, have) = (pairs(&expect["differences"]), pairs(&got["differences"]));
    if want != have {
        return Err(format!("differences: expected {want:?}, got {have:?}"));
    }
    let explained = got["differences"].as_array().is_some_and(|list| {
        list.iter().all(|d| {
            ["upstream", "fix"]
                .iter()
                .all(|k| d[*k].as_str().is_some_and(|t| !t.is_empty()))
        })
    });
    if !explained && !have.is_empty() {
        return Err("a difference lacks its explanation or fix".into());
    }
    Ok(())
}

fn compare_json(got: &str, expect: &Value) -> Result<(), String> {
    let got: Value =
        serde_json::from_str(got).map_err(|e| format!("surface output is not JSON: {e}"))?;
    if &got == expect {
        Ok(())
    } else {
        Err(format!("expected {expect}, got {got}"))
    }
}

fn compare_report(input: &[u8], report: &str, expect: &Value) -> Result<(), String> {
    let got: Value =
        serde_json::from_str(report).map_err(|e| format!("report is not JSON: {e}"))?;
    let ok = got["ok"].as_bool().ok_or("report has no boolean `ok`")?;
    let want_ok = expect["ok"]
        .as_bool()
        .ok_or("case expectation has no boolean `ok`")?;
    if ok != want_ok {
        return Err(format!("expected ok={want_ok}, got report {got}"));
    }
    let errors = got["errors"]
        .as_array()
        .ok_or("report has no `errors` array")?;
    if want_ok {
        if &got["directives"] != expect.get("directives").unwrap_or(&json!([])) {
            return Err(format!(
                "directives differ: expected {}, got {}",
                expect["directives"], got["directives"]
            ));
        }
        return Ok(());
    }
    if got["directives"] != json!([]) {
        return Err("a rejected report must list no directives".into());
    }
    let want = expect["errors"]
        .as_array()
        .ok_or("case expectation has no `errors`")?;
    let pairs = |list: &[Value]| -> Vec<(String, String)> {
        list.iter()
            .map(|e| {
                (
                    e["code"].as_str().unwrap_or("?").to_owned(),
                    e["path"].as_str().unwrap_or("?").to_owned(),
                )
            })
            .collect()
    };
    if pairs(errors) != pairs(want) {
        return Err(format!(
            "errors differ: expected {:?}, got {:?}",
            pairs(want),
            pairs(errors)
        ));
    }
    for (i, (w, g)) in want.iter().zip(errors).enumerate() {
        for key in ["line", "column"] {
            if let Some(wv) = w.get(key) {
                if g.get(key) != Some(wv) {
                    return Err(format!(
                        "error {i} ({}): expected {key} {wv}, got {}",
                        w["code"],
                        g.get(key).unwrap_or(&Value::Null)
                    ));
                }
            }
        }
    }
    no_value_echoed(input, errors)
}

/// Format words that messages may legitimately contain.
const VOCABULARY: &[&str] = &[
    "directives",
    "published_at",
    "id",
    "level",
    "ttl_secs",
    "tenant",
    "index",
    "principal",
    "endpoint",
    "sample_per_mille",
    "ring_buffer",
    "capture",
    "Off",
    "Shape",
    "ShapeTiming",
    "ShapeRewriteDiff",
    "IngestDoc",
    "IngestBulk",
    "Search",
    "MultiSearch",
    "Count",
    "GetById",
    "MultiGet",
    "DeleteById",
    "DeleteByQuery",
    "Cursor",
    "Admin",
    "Unknown",
    "true",
    "false",
];

/// Checks that no error message contains a string from the input.
fn no_value_echoed(input: &[u8], errors: &[Value]) -> Result<(), String> {
    let Ok(doc) = serde_json::from_slice::<Value>(input) else {
        return Ok(());
    };
    let mut strings = Vec::new();
    collect_strings(&doc, &mut strings);
    let mut vocabulary = VOCABULARY.to_vec();
    vocabulary.sort_by_key(|w| std::cmp::Reverse(w.len()));
    for e in errors {
        // The format's own words may appear; remove them, then look for input text.
        let mut message = e["message"].as_str().unwrap_or_default().to_owned();
        for word in &vocabulary {
            message = message.replace(word, " ");
        }
        for s in &strings {
            if s.trim().chars().count() >= 3 && message.contains(s.as_str()) {
                return Err(format!("message {message:?} echoes input text {s:?}"));
            }
        }
    }
    Ok(())
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(map) => collect_map(map, out),
        _ => {}
    }
}

fn collect_map(map: &Map<String, Value>, out: &mut Vec<String>) {
    for (k, v) in map {
        out.push(k.clone());
        collect_strings(v, out);
    }
}
