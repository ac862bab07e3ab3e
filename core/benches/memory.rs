//! Memory: heap bytes held by a decoded 10,000-directive set, against the
//! size of its JSON document (the baseline), measured with a counting
//! global allocator in one run.
//!
//! Run: `cargo bench -p directive-core --bench memory`

use directive_core::{decode, Limits};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[allow(dead_code)]
mod workload;

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

fn main() {
    println!(
        "size_of::<Directive>() = {} bytes",
        std::mem::size_of::<directive_core::Directive>()
    );
    for n in [1_000usize, 10_000] {
        let doc = workload::document(n);
        let region = Region::new(GLOBAL);
        let set = decode(doc.as_bytes(), workload::NOW, &Limits::default()).expect("valid");
        let stats = region.change();
        let held = stats.bytes_allocated as isize - stats.bytes_deallocated as isize
            + stats.bytes_reallocated;
        println!(
            "| {n} directives | JSON {} bytes | set holds {} bytes | {:.2}x the JSON | budget 3x: {} |",
            doc.len(),
            held,
            held as f64 / doc.len() as f64,
            if (held as f64) <= 3.0 * doc.len() as f64 { "met" } else { "missed" }
        );
        drop(set);
    }
}
