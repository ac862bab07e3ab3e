//! The demo's simulated fleet: N instances, each a real
//! [`EtcdDirectiveStore`] with its own etcd client behind its own HTTP
//! reverse proxy ([`directive_proxy`]) on a loopback port, reporting what it
//! applies to a [`FleetBoard`]. `curl` any instance's port and the
//! `x-diagnostics` response header shows what that instance decides.
//!
//! Each instance is what a proxy process would run; the board row is what
//! its operator would want to see: the applied revision, the store's state,
//! and how long the last change took to arrive (from the set's
//! `published_at` stamp, which the publisher sets just before its
//! transaction, to this instance applying it). All proxies forward to one
//! in-process echo upstream.

use std::sync::Arc;

use directive_core::{Snapshot, Status};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use directive_admin::{FleetBoard, InstanceReport};
use directive_etcd::clock::now_ms;
use directive_etcd::{EtcdDirectiveStore, StoreError, StoreOptions};
use directive_proxy::{self as proxy, echo::serve_echo, DirectiveHook};

/// Why the fleet could not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// An instance's store could not connect.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A loopback port could not be bound.
    #[error("cannot bind a loopback port for the fleet: {0}")]
    Bind(std::io::Error),
}

/// One simulated instance.
#[derive(Clone, Debug)]
pub struct FleetInstance {
    /// Its name on the board (`instance-1`, ...).
    pub id: String,
    /// Its store (own client, own watch).
    pub store: EtcdDirectiveStore,
    /// The loopback port its proxy serves traffic on.
    pub port: Option<u16>,
}

/// The running fleet.
#[derive(Debug)]
pub struct Fleet {
    instances: Vec<FleetInstance>,
    board: FleetBoard,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Fleet {
    /// Connects `count` stores with `options` (each its own client) and
    /// starts reporting them on `board`.
    pub async fn start(
        options: &StoreOptions,
        count: usize,
        board: FleetBoard,
    ) -> Result<Self, FleetError> {
        let cancel = CancellationToken::new();
        let mut fleet = Fleet {
            instances: Vec::with_capacity(count),
            board,
            cancel,
            tasks: Vec::with_capacity(count),
        };
        let upstream = match TcpListener::bind(("127.0.0.1", 0)).await {
            Ok(l) => l,
            Err(e) => return Err(FleetError::Bind(e)),
        };
        let upstream_addr = upstream.local_addr().map_err(FleetError::Bind)?;
        fleet
            .tasks
            .push(tokio::spawn(serve_echo(upstream, fleet.cancel.clone())));
        for i in 1..=count {
            let store = match EtcdDirectiveStore::connect(options.clone()).await {
                Ok(store) => store,
                Err(e) => {
                    fleet.shutdown().await;
                    return Err(FleetError::Store(e));
                }
            };
            let listener = match TcpListener::bind(("127.0.0.1", 0)).await {
                Ok(l) => l,
                Err(e) => {
                    fleet.shutdown().await;
                    return Err(FleetError::Bind(e));
                }
            };
            let port = listener.local_addr().ok().map(|a| a.port());
            fleet.tasks.push(tokio::spawn(proxy::serve(
                listener,
                DirectiveHook::new(store.clone()),
                upstream_addr,
                fleet.cancel.clone(),
            )));
            let instance = FleetInstance {
                id: format!("instance-{i}"),
                store,
                port,
            };
            fleet.tasks.push(tokio::spawn(report(
                instance.clone(),
                fleet.board.clone(),
                fleet.cancel.clone(),
            )));
            fleet.instances.push(instance);
        }
        tracing::info!(instances = count, "demo fleet started");
        Ok(fleet)
    }

    /// The instances.
    pub fn instances(&self) -> &[FleetInstance] {
        &self.instances
    }

    /// Stops reporting and every store, and clears the board.
    pub async fn shutdown(&mut self) {
        self.cancel.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        for instance in self.instances.drain(..) {
            instance.store.shutdown().await;
        }
        self.board.clear();
    }
}

/// Keeps one instance's row current until `cancel`.
async fn report(instance: FleetInstance, board: FleetBoard, cancel: CancellationToken) {
    let mut snapshots = instance.store.subscribe();
    let mut statuses = instance.store.subscribe_status();
    let mut revision = instance.store.snapshot().revision;
    let mut latency = None;
    loop {
        let snapshot = instance.store.snapshot();
        if snapshot.revision != revision {
            revision = snapshot.revision;
            latency = change_latency(&snapshot);
        }
        board.upsert(row(&instance, &snapshot, &instance.store.status(), latency));
        tokio::select! {
            () = cancel.cancelled() => return,
            changed = snapshots.changed() => if changed.is_err() { return },
            changed = statuses.changed() => if changed.is_err() { return },
        }
        snapshots.mark_unchanged();
        statuses.mark_unchanged();
    }
}

/// Milliseconds from the set's stamp to now; `None` for an unstamped set
/// (e.g. written with `etcdctl put`, or the empty set after a delete).
fn change_latency(snapshot: &Snapshot) -> Option<u64> {
    snapshot
        .set
        .is_stamped()
        .then(|| now_ms().saturating_sub(snapshot.set.anchor_ms()))
}

fn row(
    instance: &FleetInstance,
    snapshot: &Arc<Snapshot>,
    status: &Status,
    latency: Option<u64>,
) -> InstanceReport {
    InstanceReport {
        id: instance.id.clone(),
        applied_revision: snapshot.revision,
        state: status.state.name(),
        directives: snapshot.set.len(),
        last_change_latency_ms: latency,
        port: instance.port,
    }
}
