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

use directive_core::{decode, validate, Limits};
use directive_vectors::generate::{self, Rng};
use directive_vectors::{load, CaseKind, Native, RequestSpec, Surface};
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
            CaseKind::Diff {
                before,
                after,
                now_ms,
                ..
            } => Native.diff(before.as_deref(), after, *now_ms),
            CaseKind::Reducer { .. } | CaseKind::UpstreamCompat { .. } => None,
        };
        if let Some(output) = output {
            let kind = match case.kind {
                CaseKind::Decode { .. } => "decode",
                CaseKind::Diff { .. } => "diff",
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
    let input = generate::document(rng, i, now_ms);
    let report = validate(&input, now_ms, &Limits::DEFAULT).to_json();
    let mut case = json!({"input_hex": hex(&input), "now_ms": now_ms, "report": report});
    if let Ok(set) = decode(&input, now_ms, &Limits::DEFAULT) {
        let request = generate::request(rng);
        let spec = RequestSpec::from_json(&request).expect("a generated request parses");
        let req = spec.as_request().expect("a generated endpoint is valid");
        let explanation = serde_json::to_string(&set.explain(&req, now_ms)).expect("serializes");
        case["request"] = request;
        case["explanation"] = json!(explanation);
    }
    case
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
