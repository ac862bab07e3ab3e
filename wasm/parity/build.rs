//! Computes, natively, what the WASM build must reproduce byte for byte.
//!
//! This script is compiled for the host and linked to the host's
//! `directive-core`, so its output *is* the native reference: for every
//! decode and evaluate case of the shared corpus, the JSON text the
//! `Native` surface returns; for a few hundred directive sets generated from
//! a fixed seed, the validation report (and, for accepted sets, the
//! explanation of one generated request). Everything goes to
//! `OUT_DIR/expected.json`, embedded by `src/lib.rs`.
//!
//! `DIRECTIVE_PARITY_SEED` and `DIRECTIVE_PARITY_CASES` override the seed
//! and the number of generated sets (defaults 0x5eed_d1ec and 400).

use std::path::PathBuf;

use directive_core::{decode, validate, EndpointKind, Limits, Request};
use directive_vectors::{load, CaseKind, Native, Surface};
use serde_json::{json, Value};

const DEFAULT_SEED: u64 = 0x5eed_d1ec;
const DEFAULT_CASES: usize = 400;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DIRECTIVE_PARITY_SEED");
    println!("cargo:rerun-if-env-changed=DIRECTIVE_PARITY_CASES");
    let seed = env_number("DIRECTIVE_PARITY_SEED").unwrap_or(DEFAULT_SEED);
    let count = env_number("DIRECTIVE_PARITY_CASES").map_or(DEFAULT_CASES, |n| n as usize);

    let corpus = load().expect("the corpus parses");
    let mut cases = Vec::new();
    for case in &corpus.cases {
        let output = match &case.kind {
            CaseKind::Decode { now_ms, limits, .. } => {
                let input = case.input_bytes().expect("decode case has input");
                Native.validate(&input, *now_ms, limits.as_ref())
            }
            CaseKind::Evaluate {
                set,
                decoded_at_ms,
                now_ms,
                request,
                ..
            } => Native.evaluate(set, *decoded_at_ms, *now_ms, request),
            CaseKind::Reducer { .. } => None,
        };
        if let Some(output) = output {
            let kind = match case.kind {
                CaseKind::Decode { .. } => "decode",
                _ => "evaluate",
            };
            cases.push(json!({"name": case.name, "kind": kind, "output": output}));
        }
    }

    let mut rng = Rng(seed);
    let generated: Vec<Value> = (0..count).map(|i| generated_case(&mut rng, i)).collect();

    let doc = json!({"seed": seed, "corpus": cases, "generated": generated});
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("expected.json");
    std::fs::write(dest, doc.to_string()).expect("write expected.json");
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// One generated document, its native report and, when it decodes, one
/// request's native explanation.
fn generated_case(rng: &mut Rng, i: usize) -> Value {
    let now_ms = 1_700_000_000_000 + rng.below(200_000_000_000);
    let input = document(rng, i, now_ms);
    let report = validate(&input, now_ms, &Limits::DEFAULT).to_json();
    let mut case = json!({"input_hex": hex(&input), "now_ms": now_ms, "report": report});
    if let Ok(set) = decode(&input, now_ms, &Limits::DEFAULT) {
        let request = json!({
            "tenant": pick(rng, &[Value::Null, json!("acme"), json!("beta")]),
            "index": pick(rng, &["orders", "logs", "ü-index"]),
            "principal": pick(rng, &["alice", "bob"]),
            "endpoint": EndpointKind::ALL[rng.below(12) as usize].as_str(),
            "request_id": format!("req-{}", rng.below(1_000_000)),
        });
        let field = |k: &str| request[k].as_str();
        let req = Request {
            tenant: field("tenant"),
            index: field("index").unwrap_or_default(),
            principal: field("principal").unwrap_or_default(),
            endpoint: EndpointKind::from_name(field("endpoint").unwrap_or_default())
                .expect("a generated endpoint is valid"),
            request_id: field("request_id").unwrap_or_default(),
        };
        let explanation = serde_json::to_string(&set.explain(&req, now_ms)).expect("serializes");
        case["request"] = request;
        case["explanation"] = json!(explanation);
    }
    case
}

/// A directive-set document: mostly well-formed JSON with valid and invalid
/// fields mixed, sometimes damaged at the byte level.
fn document(rng: &mut Rng, i: usize, now_ms: u64) -> Vec<u8> {
    // Roughly half the sets are fully valid; the rest carry some errors.
    let broken = rng.chance(50);
    let nl = if rng.chance(50) { "\n  " } else { "" };
    let n = if rng.chance(5) {
        60 + rng.below(40) as usize // enough errors to hit too_many_errors
    } else {
        rng.below(9) as usize
    };
    let mut top: Vec<String> = Vec::new();
    if rng.chance(40) {
        let v = if broken && rng.chance(20) {
            pick(rng, &["-1", "\"x\"", "null", "1.5"]).to_owned()
        } else {
            // At, before or after `now`: min(published_at, now) anchors.
            (now_ms + rng.below(7_200_000))
                .saturating_sub(3_600_000)
                .to_string()
        };
        top.push(format!("\"published_at\": {v}"));
    }
    let mut ids: Vec<String> = Vec::new();
    let items: Vec<String> = (0..n)
        .map(|k| directive(rng, broken, k, &mut ids, nl))
        .collect();
    let list = format!("[{nl}{}{nl}]", items.join(&format!(",{nl}")));
    if !(broken && rng.chance(5)) {
        let value = if broken && rng.chance(3) {
            "null".to_owned()
        } else {
            list
        };
        top.push(format!("\"directives\": {value}"));
    }
    if broken && rng.chance(5) {
        top.push("\"directive\": []".to_owned());
    }
    rng.shuffle(&mut top);
    let mut text = format!("{{{nl}{}{nl}}}", top.join(&format!(",{nl}"))).into_bytes();
    if broken && rng.chance(15) {
        damage(rng, &mut text);
    }
    if i % 97 == 0 {
        text.extend_from_slice(b"\n");
    }
    text
}

fn directive(rng: &mut Rng, broken: bool, k: usize, ids: &mut Vec<String>, nl: &str) -> String {
    let bad = |rng: &mut Rng| broken && rng.chance(12);
    if bad(rng) && rng.chance(30) {
        return pick(rng, &["42", "null", "[]", "\"d\"", "true"]).to_owned();
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    // id
    if bad(rng) {
        if let Some(v) = pick_opt(
            rng,
            &[
                None,
                Some("\"\"".to_owned()),
                Some(format!("\"{}\"", "x".repeat(129))),
                Some("7".to_owned()),
                Some("null".to_owned()),
                ids.first().map(|id| format!("\"{id}\"")),
            ],
        ) {
            fields.push(("id".into(), v));
        }
    } else {
        let id = if rng.chance(10) {
            format!("é-{k}")
        } else {
            format!("d{k}")
        };
        fields.push(("id".into(), format!("\"{id}\"")));
        ids.push(id);
    }
    // level
    let levels = [
        "\"Off\"",
        "\"Shape\"",
        "\"ShapeTiming\"",
        "\"ShapeRewriteDiff\"",
    ];
    if bad(rng) {
        if let Some(v) = pick_opt(rng, &[None, Some("\"shape\""), Some("null"), Some("3")]) {
            fields.push(("level".into(), v.to_owned()));
        }
    } else {
        fields.push(("level".into(), pick(rng, &levels).to_owned()));
    }
    // ttl_secs
    if bad(rng) {
        let v = [
            None,
            Some("0"),
            Some("604801"),
            Some("-5"),
            Some("600.0"),
            Some("\"600\""),
            Some("18446744073709551616"),
        ];
        if let Some(v) = pick_opt(rng, &v) {
            fields.push(("ttl_secs".into(), v.to_owned()));
        }
    } else {
        fields.push(("ttl_secs".into(), (1 + rng.below(604_800)).to_string()));
    }
    for key in ["tenant", "index", "principal"] {
        if rng.chance(40) {
            let v = if bad(rng) {
                pick(rng, &["\"\"", "null", "5", "[]"]).to_owned()
            } else if broken && rng.chance(4) {
                format!("\"{}\"", "ü".repeat(129)) // 129 chars, 258 bytes
            } else {
                pick(
                    rng,
                    &[
                        "\"acme\"",
                        "\"beta\"",
                        "\"orders\"",
                        "\"alice\"",
                        "\"ü-index\"",
                    ],
                )
                .to_owned()
            };
            fields.push((key.into(), v));
        }
    }
    if rng.chance(30) {
        let v = if bad(rng) {
            pick(rng, &["\"search\"", "null", "7"]).to_owned()
        } else {
            format!("\"{}\"", EndpointKind::ALL[rng.below(12) as usize].as_str())
        };
        fields.push(("endpoint".into(), v));
    }
    if rng.chance(40) {
        let v = if bad(rng) {
            pick(rng, &["1001", "-1", "null", "2.5"]).to_owned()
        } else {
            pick(rng, &["0", "1", "250", "999", "1000"]).to_owned()
        };
        fields.push(("sample_per_mille".into(), v));
    }
    for key in ["ring_buffer", "capture"] {
        if rng.chance(30) {
            let v = if bad(rng) {
                pick(rng, &["\"true\"", "null", "1"])
            } else {
                pick(rng, &["true", "false"])
            };
            fields.push((key.into(), v.to_owned()));
        }
    }
    if bad(rng) {
        fields.push(("tennant".into(), "\"acme\"".into()));
    }
    if bad(rng) && !fields.is_empty() {
        let dup = fields[rng.below(fields.len() as u64) as usize].clone();
        fields.push(dup);
    }
    rng.shuffle(&mut fields);
    let inner: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect();
    let sep = if nl.is_empty() { ", " } else { ",\n    " };
    format!("{{{}}}", inner.join(sep))
}

/// Byte-level damage: truncation, a stray byte, a byte order mark, bad UTF-8.
fn damage(rng: &mut Rng, text: &mut Vec<u8>) {
    let at = rng.below(text.len() as u64 + 1) as usize;
    match rng.below(5) {
        0 => text.truncate(at),
        1 => text.insert(at, b'}'),
        2 => text.splice(0..0, [0xef, 0xbb, 0xbf]).for_each(drop),
        3 => text.insert(at, 0xff),
        _ => text.splice(at..at, *b"\"x\": 1,").for_each(drop),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn pick<T: Clone>(rng: &mut Rng, from: &[T]) -> T {
    from[rng.below(from.len() as u64) as usize].clone()
}

fn pick_opt<T: Clone>(rng: &mut Rng, from: &[Option<T>]) -> Option<T> {
    pick(rng, from)
}

/// SplitMix64: small, fast, and the same sequence on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}
