//! The per-request read: `store.load()` against a bare `ArcSwap::load()`
//! (the floor), an `RwLock<Arc<_>>` read and a `Mutex<Arc<_>>` lock, with 1
//! thread and with a second thread loading the same store concurrently.
//!
//! Run: `cargo bench -p directive-etcd --bench load` (starts a private etcd
//! for the real `EtcdDirectiveStore`; needs Debian's `etcd-server`).

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;

use arc_swap::ArcSwap;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use directive_core::Snapshot;
use directive_etcd::{DirectiveStore, EtcdDirectiveStore, InMemoryDirectiveStore, StoreOptions};

/// Runs `f` in the measured loop while, with `contended`, another thread
/// calls `g` as fast as it can.
fn with_contention<F: Fn() + Sync>(contended: bool, g: F, measure: impl FnOnce()) {
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        if contended {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    g();
                }
            });
        }
        measure();
        stop.store(true, Ordering::Relaxed);
    });
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let etcd = rt
        .block_on(directive_tests::EtcdCluster::start(1))
        .expect("etcd starts (apt-get install etcd-server)");
    let etcd_store = rt
        .block_on(EtcdDirectiveStore::connect(StoreOptions::new(
            etcd.endpoints(),
        )))
        .expect("store connects");
    let memory = InMemoryDirectiveStore::new();
    let bare = ArcSwap::from_pointee(Snapshot::default());
    let rwlock = RwLock::new(Arc::new(Snapshot::default()));
    let mutex = Mutex::new(Arc::new(Snapshot::default()));

    for (threads, contended) in [(1, false), (2, true)] {
        let mut group = c.benchmark_group(format!("load/{threads}-thread"));
        with_contention(
            contended,
            || drop(black_box(bare.load())),
            || {
                group.bench_function("arcswap_bare_floor", |b| {
                    b.iter(|| black_box(bare.load()).revision)
                });
            },
        );
        with_contention(
            contended,
            || drop(black_box(etcd_store.load())),
            || {
                group.bench_function("etcd_store", |b| {
                    b.iter(|| black_box(etcd_store.load()).revision)
                });
            },
        );
        with_contention(
            contended,
            || drop(black_box(memory.load())),
            || {
                group.bench_function("in_memory_store", |b| {
                    b.iter(|| black_box(memory.load()).revision)
                });
            },
        );
        with_contention(
            contended,
            || drop(black_box(rwlock.read().map(|g| Arc::clone(&g)))),
            || {
                group.bench_function("rwlock_arc_baseline", |b| {
                    b.iter(|| black_box(rwlock.read().map(|g| Arc::clone(&g)).map(|s| s.revision)))
                });
            },
        );
        with_contention(
            contended,
            || drop(black_box(mutex.lock().map(|g| Arc::clone(&g)))),
            || {
                group.bench_function("mutex_arc_baseline", |b| {
                    b.iter(|| black_box(mutex.lock().map(|g| Arc::clone(&g)).map(|s| s.revision)))
                });
            },
        );
        group.finish();
    }
    rt.block_on(etcd_store.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
