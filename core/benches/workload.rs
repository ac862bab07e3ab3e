//! Synthetic directive sets shared by the benches: mostly tenant-scoped, a
//! few wildcards and index/endpoint directives, some expired.

use serde_json::{json, Value};

/// Decode time of every generated set.
pub const NOW: u64 = 1_800_000_000_000;

/// A document of `n` directives; one in 20 is already expired a second after
/// `NOW`, three are wildcards, three index-scoped and three endpoint-scoped
/// (at most), the rest tenant-scoped.
pub fn document(n: usize) -> String {
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
    json!({ "published_at": NOW, "directives": directives }).to_string()
}

/// The same document with about 1% of directives broken in various ways.
pub fn broken_document(n: usize) -> String {
    let mut doc: Value = serde_json::from_str(&document(n)).expect("valid JSON");
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
