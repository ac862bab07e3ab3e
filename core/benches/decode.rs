//! Decode + validate against plain serde parses of the same bytes, in the
//! same run: `serde_json::Value` and a typed serde parse without our checks.
//!
//! Run: `cargo bench -p directive-core --bench decode`

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use directive_core::{decode, Limits};
use serde::Deserialize;

#[allow(dead_code)]
use directive_vectors::generate;

/// The baseline typed parse: the wire format with no checks at all.
#[allow(dead_code)]
#[derive(Deserialize)]
struct PlainSet {
    published_at: Option<u64>,
    directives: Vec<PlainDirective>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct PlainDirective {
    id: String,
    level: String,
    ttl_secs: u64,
    tenant: Option<String>,
    index: Option<String>,
    principal: Option<String>,
    endpoint: Option<String>,
    sample_per_mille: Option<u16>,
    ring_buffer: Option<bool>,
    capture: Option<bool>,
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.sample_size(20);
    for n in [1_000usize, 10_000] {
        let doc = generate::workload(n);
        let bytes = doc.as_bytes();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("decode_validate", n), &n, |b, _| {
            b.iter(|| decode(black_box(bytes), generate::WORKLOAD_NOW, &Limits::default()))
        });
        group.bench_with_input(BenchmarkId::new("serde_value_baseline", n), &n, |b, _| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(bytes)))
        });
        group.bench_with_input(BenchmarkId::new("serde_typed_baseline", n), &n, |b, _| {
            b.iter(|| serde_json::from_slice::<PlainSet>(black_box(bytes)))
        });
    }
    let broken = generate::broken_workload(10_000);
    let errors = decode(
        broken.as_bytes(),
        generate::WORKLOAD_NOW,
        &Limits::default(),
    )
    .err()
    .map_or(0, |e| e.errors.len());
    assert!(errors > 50, "the broken document has errors");
    group.bench_function("decode_invalid_1pct/10000", |b| {
        b.iter(|| {
            decode(
                black_box(broken.as_bytes()),
                generate::WORKLOAD_NOW,
                &Limits::default(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
