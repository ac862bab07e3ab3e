//! The one seeded generator of test documents and requests, shared by the
//! WASM parity build, the benches, the soak run and the tests: SplitMix64
//! (the same sequence on every platform), documents that are mostly valid
//! with invalid fields and byte damage mixed in, requests, and the fixed
//! synthetic workloads the benchmarks measure.

use directive_core::EndpointKind;
use serde_json::{json, Value};

/// A request in the corpus format (see [`crate::RequestSpec`]) drawn from
/// the same small value sets the generated documents target.
pub fn request(rng: &mut Rng) -> Value {
    json!({
        "tenant": pick(rng, &[Value::Null, json!("acme"), json!("beta")]),
        "index": pick(rng, &["orders", "logs", "ü-index"]),
        "principal": pick(rng, &["alice", "bob"]),
        "endpoint": EndpointKind::ALL[rng.below(12) as usize].as_str(),
        "request_id": format!("req-{}", rng.below(1_000_000)),
    })
}

/// Decode time of every workload set.
pub const WORKLOAD_NOW: u64 = 1_800_000_000_000;

/// A document of `n` directives, stamped at [`WORKLOAD_NOW`]; one in 20 is
/// already expired a second after it, three are wildcards, three
/// index-scoped and three endpoint-scoped (at most), the rest tenant-scoped.
pub fn workload(n: usize) -> String {
    let directives: Vec<Value> = (0..n)
        .map(|i| {
            let level = ["Shape", "ShapeTiming", "ShapeRewriteDiff"][i % 3];
            let mut d = json!({
                "id": format!("d-{i:05}"),
                "level": level,
                "ttl_secs": if i % 20 == 0 { 1 } else { 3600 },
            });
            match i {
                0..=2 => {}
                3..=5 => d["index"] = json!("orders"),
                6..=8 => d["endpoint"] = json!("Search"),
                _ => d["tenant"] = json!(format!("tenant-{i:05}")),
            }
            if i % 7 == 0 {
                d["sample_per_mille"] = json!(250);
            }
            d
        })
        .collect();
    json!({ "published_at": WORKLOAD_NOW, "directives": directives }).to_string()
}

/// [`workload`] with about 1% of directives broken in various ways.
pub fn broken_workload(n: usize) -> String {
    let mut doc: Value = serde_json::from_str(&workload(n)).unwrap_or_default();
    if let Some(list) = doc["directives"].as_array_mut() {
        for (i, d) in list.iter_mut().enumerate() {
            match i % 100 {
                50 => d["tenant"] = Value::Null,
                51 if i % 200 == 51 => d["ttl_secs"] = json!(0),
                _ => {}
            }
        }
    }
    doc.to_string()
}

/// An unstamped document of `n` directives `{prefix}{i}`, each at `level`
/// for an hour, scoped to tenant `tenant-{i:05}`.
pub fn tenant_scoped(n: usize, prefix: &str, level: &str) -> String {
    let directives: Vec<Value> = (0..n)
        .map(|i| {
            json!({"id": format!("{prefix}{i}"), "level": level, "ttl_secs": 3600,
                   "tenant": format!("tenant-{i:05}")})
        })
        .collect();
    json!({ "directives": directives }).to_string()
}

/// A one-directive document: `id` at `level` for `ttl_secs`, for `tenant`.
pub fn one(id: &str, level: &str, ttl_secs: u64, tenant: &str) -> String {
    json!({"directives": [{"id": id, "level": level, "ttl_secs": ttl_secs, "tenant": tenant}]})
        .to_string()
}

/// Generated document number `i` at `now_ms`: mostly well-formed JSON with
/// valid and invalid fields mixed, sometimes damaged at the byte level;
/// roughly half decode.
pub fn document(rng: &mut Rng, i: usize, now_ms: u64) -> Vec<u8> {
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

/// One element of `from`, uniformly.
pub fn pick<T: Clone>(rng: &mut Rng, from: &[T]) -> T {
    from[rng.below(from.len() as u64) as usize].clone()
}

fn pick_opt<T: Clone>(rng: &mut Rng, from: &[Option<T>]) -> Option<T> {
    pick(rng, from)
}

/// SplitMix64: small, fast, and the same sequence on every platform.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True with `percent`% probability.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Shuffles in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}
