//! Memory: heap bytes held by a decoded 10,000-directive set, against the
//! size of its JSON document (the baseline), measured with a counting
//! global allocator in one run.
//!
//! Run: `cargo bench -p directive-core --bench memory`

use directive_core::{decode, Limits};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[allow(dead_code)]
use directive_vectors::generate;

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Net bytes allocated in a region, as stats_alloc reports them.
fn net(stats: &stats_alloc::Stats) -> isize {
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize + stats.bytes_reallocated
}

fn main() {
    println!(
        "size_of::<Directive>() = {} bytes",
        std::mem::size_of::<directive_core::Directive>()
    );
    for n in [1_000usize, 10_000] {
        let doc = generate::workload(n);
        let region = Region::new(GLOBAL);
        let set =
            decode(doc.as_bytes(), generate::WORKLOAD_NOW, &Limits::default()).expect("valid");
        let alive = net(&region.change());
        drop(set);
        // stats_alloc's realloc accounting does not cancel out when a grown
        // block is freed, so measure what dropping the set gives back: that is
        // exactly what the set owned.
        let held = alive - net(&region.change());
        println!(
            "| {n} directives | JSON {} bytes | set holds {} bytes | {:.2}x the JSON | budget 3x: {} |",
            doc.len(),
            held,
            held as f64 / doc.len() as f64,
            if (held as f64) <= 3.0 * doc.len() as f64 { "met" } else { "missed" }
        );
    }
}
