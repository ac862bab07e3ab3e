//! The read side every request path sees: [`DirectiveStore`].
//!
//! A proxy asks "what applies to this request?" on every request, so the read
//! must cost one atomic load and nothing else: no lock, no I/O and no
//! reference-count increment (which would make every request thread write the
//! same cache line). [`arc_swap::Guard`] gives exactly that. Writers (the etcd
//! watch task, or a test calling [`InMemoryDirectiveStore::publish`]) swap in
//! a whole new [`Snapshot`]; readers never see a half-applied set.

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use directive_core::{DirectiveSet, Origin, Snapshot};

/// A source of the active directive snapshot, read on the hot path.
pub trait DirectiveStore: Send + Sync {
    /// The current snapshot: one lock-free atomic load, never I/O.
    ///
    /// Hold the guard only for the duration of a request; keep an
    /// `Arc<Snapshot>` (via `Guard::into_inner`) for anything longer.
    fn load(&self) -> Guard<Arc<Snapshot>>;
}

/// A shared store is a store: `Arc<InMemoryDirectiveStore>`, `Arc<dyn DirectiveStore>`.
impl<T: DirectiveStore + ?Sized> DirectiveStore for Arc<T> {
    #[inline]
    fn load(&self) -> Guard<Arc<Snapshot>> {
        (**self).load()
    }
}

/// A store whose set is replaced by hand: for tests and single-node use.
///
/// Not `Clone`; share it with `Arc`.
#[derive(Debug, Default)]
pub struct InMemoryDirectiveStore {
    current: ArcSwap<Snapshot>,
}

impl InMemoryDirectiveStore {
    /// A store holding the empty set at revision 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store seeded with `set` (builder style).
    pub fn with_directives(self, set: DirectiveSet) -> Self {
        self.publish(set);
        self
    }

    /// Replaces the whole set in one atomic store; the snapshot's revision is
    /// the previous one plus one, so observers can tell publishes apart.
    pub fn publish(&self, set: DirectiveSet) {
        let revision = self.current.load().revision.saturating_add(1);
        let mut snapshot = Snapshot::default();
        snapshot.revision = revision;
        snapshot.set = set;
        snapshot.origin = Origin::Value;
        self.current.store(Arc::new(snapshot));
    }
}

impl DirectiveStore for InMemoryDirectiveStore {
    #[inline]
    fn load(&self) -> Guard<Arc<Snapshot>> {
        self.current.load()
    }
}
