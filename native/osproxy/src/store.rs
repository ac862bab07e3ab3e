//! The upstream's read side over this project's store.
//!
//! [`UpstreamStore::load`] answers with the upstream `DirectiveSet` built
//! from the snapshot the wrapped store holds right now. The conversion runs
//! once per snapshot: the cache remembers which snapshot it was built from
//! (holding it, so its address cannot be reused), a request finding the
//! same snapshot pays two atomic loads, and the first request after a change
//! (or the warming task, whichever comes first) builds it under a lock that
//! makes every other caller wait for that one build instead of repeating it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use arc_swap::{ArcSwap, Guard};
use directive_core::Snapshot;
use directive_etcd::{DirectiveStore, EtcdDirectiveStore, StoreError, StoreOptions};
use osproxy_core::Clock;

use crate::convert::to_upstream;

/// An `osproxy_observe::DirectiveStore` fed by one of this project's
/// stores (the etcd store by default). Cheap to clone; clones share one
/// cache. See the crate documentation for the one-line change in an
/// osproxy server.
pub struct UpstreamStore<S = EtcdDirectiveStore> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for UpstreamStore<S> {
    fn clone(&self) -> Self {
        UpstreamStore {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// The wall clock (unix nanoseconds) that expiries are compared with.
pub type WallClock = Arc<dyn Fn() -> u128 + Send + Sync>;

struct Inner<S> {
    source: S,
    clock: Arc<dyn Clock>,
    wall: WallClock,
    cache: ArcSwap<Built>,
    building: Mutex<()>,
    builds: AtomicU64,
    warming: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl<S> Drop for Inner<S> {
    fn drop(&mut self) {
        let warming = self
            .warming
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(task) = warming.take() {
            task.abort();
        }
    }
}

/// An upstream set and the snapshot it was built from.
struct Built {
    from: Arc<Snapshot>,
    set: Arc<osproxy_observe::DirectiveSet>,
}

impl<S> std::fmt::Debug for UpstreamStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the directives themselves: they name tenants.
        let built = self.inner.cache.load();
        f.debug_struct("UpstreamStore")
            .field("revision", &built.from.revision)
            .field("directives", &built.set.len())
            .finish_non_exhaustive()
    }
}

impl UpstreamStore<EtcdDirectiveStore> {
    /// Connects like `osproxy_etcd::EtcdDirectiveStore::connect` (same
    /// arguments, same "fail fast at start" contract) with this project's
    /// default options; the error names the endpoint and etcd's cause.
    pub async fn connect(
        endpoints: &[String],
        key: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let options = StoreOptions::new(endpoints.iter().cloned()).with_key(key);
        Self::connect_with(options, clock).await
    }

    /// Connects with full options (TLS, etcd auth, timeouts, instance
    /// reports: [`StoreOptions`]).
    pub async fn connect_with(
        options: StoreOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let store = EtcdDirectiveStore::connect(options).await?;
        let changes = store.subscribe();
        let adapter = Self::from_store(store, clock);
        let task = tokio::spawn(warm(Arc::downgrade(&adapter.inner), changes));
        *adapter
            .inner
            .warming
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(task);
        Ok(adapter)
    }
}

impl<S: DirectiveStore> UpstreamStore<S> {
    /// Wraps any store of this project (an in-memory one in tests). The
    /// upstream set is then built by the first `load` after each change.
    pub fn from_store(source: S, clock: Arc<dyn Clock>) -> Self {
        Self::from_store_with_wall_clock(source, clock, Arc::new(directive_etcd::clock::now_ns))
    }

    /// As [`Self::from_store`], comparing expiries with `wall` (unix
    /// nanoseconds) instead of the system clock: for tests and replays
    /// whose sets were decoded at a chosen time.
    pub fn from_store_with_wall_clock(source: S, clock: Arc<dyn Clock>, wall: WallClock) -> Self {
        let snapshot = Guard::into_inner(source.load());
        let built = build(&snapshot, clock.as_ref(), &wall);
        UpstreamStore {
            inner: Arc::new(Inner {
                source,
                clock,
                wall,
                cache: ArcSwap::from_pointee(built),
                building: Mutex::new(()),
                builds: AtomicU64::new(1),
                warming: Mutex::new(None),
            }),
        }
    }

    /// How many upstream sets were built so far (one at construction, then
    /// one per snapshot the wrapped store applied and a request or the
    /// warming task saw).
    pub fn builds(&self) -> u64 {
        self.inner.builds.load(Ordering::Relaxed)
    }

    /// The wrapped store: its `status()`, `subscribe()`, `shutdown()` and
    /// metrics are this store's.
    pub fn store(&self) -> &S {
        &self.inner.source
    }

    /// The snapshot the upstream set currently served was built from.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.current();
        Arc::clone(&self.inner.cache.load().from)
    }
}

impl<S: DirectiveStore> Inner<S> {
    fn current(&self) -> Arc<osproxy_observe::DirectiveSet> {
        let snapshot = self.source.load();
        let cached = self.cache.load();
        if Arc::ptr_eq(&cached.from, &*snapshot) {
            return Arc::clone(&cached.set);
        }
        drop(cached);
        // A poisoned lock only means another builder panicked; the cache it
        // guards is swapped whole, so it is never half-written.
        let _building = self
            .building
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let snapshot = Guard::into_inner(self.source.load());
        let cached = self.cache.load();
        if Arc::ptr_eq(&cached.from, &snapshot) {
            return Arc::clone(&cached.set);
        }
        let built = build(&snapshot, self.clock.as_ref(), &self.wall);
        self.builds.fetch_add(1, Ordering::Relaxed);
        let set = Arc::clone(&built.set);
        self.cache.store(Arc::new(built));
        set
    }
}

fn build(snapshot: &Arc<Snapshot>, clock: &dyn Clock, wall: &WallClock) -> Built {
    // The instant the upstream compares against, read together with the
    // wall time our expiries are in (the clock that anchored them).
    let now = clock.now();
    let converted = to_upstream(&snapshot.set, wall(), now);
    if converted.untranslatable > 0 {
        tracing::warn!(
            revision = snapshot.revision,
            left_out = converted.untranslatable,
            "directives the upstream cannot express were left out"
        );
    }
    Built {
        from: Arc::clone(snapshot),
        set: Arc::new(converted.set),
    }
}

impl<S: DirectiveStore> osproxy_observe::DirectiveStore for UpstreamStore<S> {
    fn load(&self) -> Arc<osproxy_observe::DirectiveSet> {
        self.inner.current()
    }
}

/// Builds the upstream set as soon as the etcd store applies a snapshot,
/// so no request pays for it; ends with the store or the adapter.
async fn warm(
    inner: Weak<Inner<EtcdDirectiveStore>>,
    mut changes: tokio::sync::watch::Receiver<Arc<Snapshot>>,
) {
    while changes.changed().await.is_ok() {
        match inner.upgrade() {
            Some(inner) => {
                inner.current();
            }
            None => return,
        }
    }
}
