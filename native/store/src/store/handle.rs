//! [`EtcdDirectiveStore`]: the public handle of the watch-and-cache store.
//!
//! `connect` does the initial read itself (through the reducer, including the
//! startup walk back through history for a malformed value) so that it can
//! fail fast with etcd's cause, and so that a returned store is already
//! `live` with the right set: no second read by the task (the upstream read
//! twice, weakness 10). The task it spawns belongs to the store: `shutdown()`
//! or dropping the last clone cancels it (the upstream's could not be stopped,
//! weakness 9).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::Guard;
use directive_core::{Snapshot, State, Status};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::connect::{build_client, StoreError};
use super::driver::{Driver, Mode};
use super::event::StoreEvent;
use super::options::StoreOptions;
use super::shared::Shared;
use crate::DirectiveStore;

/// The etcd-backed directive store. Cheap to clone; clones share one
/// snapshot and one background task, which stops when the last clone drops.
#[derive(Clone)]
pub struct EtcdDirectiveStore {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    key: String,
    cancel: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
    reporter: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl std::fmt::Debug for EtcdDirectiveStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the set itself: it can be large and is not for logs.
        let status = self.status();
        f.debug_struct("EtcdDirectiveStore")
            .field("key", &self.inner.key)
            .field("state", &status.state.name())
            .field("applied_revision", &status.applied_revision)
            .finish_non_exhaustive()
    }
}

impl EtcdDirectiveStore {
    /// Connects, reads the key and starts watching from the read's revision + 1.
    ///
    /// Returns within the connect timeout: an error carrying etcd's cause
    /// (unreachable, authentication, TLS) or [`StoreError::Timeout`]. Outside
    /// a Tokio runtime it returns [`StoreError::NoRuntime`] instead of panicking.
    pub async fn connect(options: StoreOptions) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StoreError::NoRuntime)?;
        let shared = Arc::new(Shared::new());
        let startup = async {
            let client = build_client(&options).await?;
            let mut driver = Driver::new(options.clone(), Some(client), Arc::clone(&shared));
            match driver.run(Mode::Startup).await {
                Ok(()) => Ok(driver),
                Err(cause) => Err(StoreError::Connect {
                    endpoints: options.endpoints.join(","),
                    cause,
                }),
            }
        };
        let startup = tracing::Instrument::instrument(startup, log_span(&options));
        let driver = match tokio::time::timeout(options.connect_timeout, startup).await {
            Ok(result) => result?,
            Err(_) => return Err(StoreError::timeout(&options)),
        };
        log_span(&options).in_scope(|| {
            tracing::info!(
                key = %options.key,
                revision = driver.observed_revision(),
                "connected to etcd; watching"
            )
        });
        Ok(Self::spawn(&runtime, &options, shared, driver))
    }

    /// Starts the store without waiting for etcd: it is `initializing`
    /// (serving the empty set) until the first read succeeds, retrying on
    /// the backoff schedule meanwhile. For servers that must come up while
    /// etcd is down; watch [`EtcdDirectiveStore::status`] or use
    /// [`EtcdDirectiveStore::wait_ready`] for readiness.
    ///
    /// Fails only on options that can never work, or outside a Tokio runtime.
    /// Whatever etcd refuses (unreachable, TLS, credentials) is retried, with
    /// the cause in [`EtcdDirectiveStore::status`]'s `last_error` and the log.
    pub fn start(options: StoreOptions) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StoreError::NoRuntime)?;
        options.check()?;
        let shared = Arc::new(Shared::new());
        let driver = Driver::new(options.clone(), None, Arc::clone(&shared));
        Ok(Self::spawn(&runtime, &options, shared, driver))
    }

    fn spawn(
        runtime: &tokio::runtime::Handle,
        options: &StoreOptions,
        shared: Arc<Shared>,
        driver: Driver,
    ) -> Self {
        use tracing::Instrument;
        let cancel = CancellationToken::new();
        let span = log_span(options);
        let reporter = options.instance.clone().map(|instance| {
            runtime.spawn(
                super::reporter::run(
                    Arc::new(options.clone()),
                    instance,
                    shared.status.subscribe(),
                    cancel.clone(),
                )
                .instrument(span.clone()),
            )
        });
        let task = runtime.spawn(driver.run_until_cancelled(cancel.clone()).instrument(span));
        EtcdDirectiveStore {
            inner: Arc::new(Inner {
                shared,
                key: options.key.clone(),
                cancel,
                task: Mutex::new(Some(task)),
                reporter: Mutex::new(reporter),
            }),
        }
    }

    /// The current snapshot, as an owned `Arc` (for holding across awaits).
    /// On the hot path prefer [`DirectiveStore::load`].
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.shared.current.load_full()
    }

    /// The data source's status: state, revisions, last update, last
    /// rejection, reconnects, last error.
    pub fn status(&self) -> Status {
        self.inner.shared.status.borrow().clone()
    }

    /// A receiver that sees every new snapshot (the latest one wins).
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.inner.shared.snapshots.subscribe()
    }

    /// A receiver that sees every status change.
    pub fn subscribe_status(&self) -> watch::Receiver<Status> {
        self.inner.shared.status.subscribe()
    }

    /// A receiver of [`StoreEvent`]s (applied, rejected, state changes).
    pub fn events(&self) -> broadcast::Receiver<StoreEvent> {
        self.inner.shared.events.subscribe()
    }

    /// Waits up to `timeout` for the first successful read; true when it
    /// happened. `connect` already did that read, so this returns at once
    /// for a connected store; it exists for callers that share a store
    /// before readiness matters. Never blocks `load()`.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut rx = self.inner.shared.status.subscribe();
        let ready = tokio::time::timeout(timeout, rx.wait_for(|s| s.state != State::Initializing))
            .await
            .is_ok_and(|r| r.is_ok());
        ready
    }

    /// True while the background task runs.
    pub fn is_running(&self) -> bool {
        self.inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|t| !t.is_finished())
    }

    /// Stops the background task (closing the watch and the client) and waits
    /// for it. The last snapshot stays loadable. Idempotent.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        join(&self.inner.task).await;
        // The reporter revokes its lease: the instance leaves the fleet view.
        join(&self.inner.reporter).await;
    }
}

/// Waits for the task in `slot`, if it is still there (taking it, so a
/// second shutdown returns at once).
async fn join(slot: &Mutex<Option<JoinHandle<()>>>) {
    let task = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(task) = task {
        // A panic in the task has already been reported by tokio.
        let _ = task.await;
    }
}

impl DirectiveStore for EtcdDirectiveStore {
    #[inline]
    fn load(&self) -> Guard<Arc<Snapshot>> {
        self.inner.shared.current.load()
    }
}

/// The span every log line of a reporting store carries, naming its
/// instance (several stores in one process, as in the demo, stay apart);
/// none for a store that does not report.
fn log_span(options: &StoreOptions) -> tracing::Span {
    match &options.instance {
        Some(instance) => tracing::info_span!("store", instance = %instance.id),
        None => tracing::Span::none(),
    }
}
