//! Per-request decision: the indexed `evaluate` against a linear scan with
//! the upstream's semantics over the same set, in the same run.
//!
//! Run: `cargo bench -p directive-core --bench evaluate`

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use directive_core::{decode, DiagLevel, DirectiveSet, EndpointKind, Limits, Request};

#[allow(dead_code)]
use directive_vectors::generate;

/// The baseline: every directive checked on every request, as upstream.
fn linear(set: &DirectiveSet, req: &Request<'_>, now: u64) -> (DiagLevel, bool, bool) {
    let mut out = (DiagLevel::Off, false, false);
    for d in set.directives() {
        if d.applies(req, now) {
            out.0 = out.0.max(d.level);
            out.1 |= d.ring_buffer;
            out.2 |= d.capture;
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("evaluate");
    for n in [10usize, 1_000, 10_000] {
        let doc = generate::workload(n);
        let set =
            decode(doc.as_bytes(), generate::WORKLOAD_NOW, &Limits::default()).expect("valid");
        let tenant = format!("tenant-{:05}", n / 2 + 3);
        let req = Request {
            tenant: Some(&tenant),
            index: "orders",
            principal: "alice",
            endpoint: EndpointKind::Search,
            request_id: "req-12345",
        };
        let now = generate::WORKLOAD_NOW + 5_000;
        assert_eq!(
            {
                let d = set.evaluate(&req, now);
                (d.level, d.ring_buffer, d.capture)
            },
            linear(&set, &req, now)
        );
        group.bench_with_input(BenchmarkId::new("indexed", n), &n, |b, _| {
            b.iter(|| set.evaluate(black_box(&req), black_box(now)))
        });
        group.bench_with_input(BenchmarkId::new("linear_scan_baseline", n), &n, |b, _| {
            b.iter(|| linear(&set, black_box(&req), black_box(now)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
