//! The demo's simulated fleet: N instances, each a real
//! [`EtcdDirectiveStore`] with its own etcd client behind its own HTTP
//! reverse proxy ([`directive_proxy`]) on a loopback port. `curl` any
//! instance's port and the `x-diagnostics` response header shows what that
//! instance decides.
//!
//! Each instance is what a proxy process would run, down to its instance
//! report (ADR 0011): its store writes what it applies under a lease at
//! `<key>/instances/instance-N`, labelled with its port, so the admin UI's
//! fleet card shows the demo through the same reports a production fleet
//! writes. All proxies forward to one in-process echo upstream.

use std::collections::BTreeMap;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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
    /// Its instance id (`instance-1`, ...).
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
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Fleet {
    /// Starts `count` instances on `options`' key (each its own client,
    /// its own report).
    pub async fn start(options: &StoreOptions, count: usize) -> Result<Self, FleetError> {
        let cancel = CancellationToken::new();
        let mut fleet = Fleet {
            instances: Vec::with_capacity(count),
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
            let listener = match TcpListener::bind(("127.0.0.1", 0)).await {
                Ok(l) => l,
                Err(e) => {
                    fleet.shutdown().await;
                    return Err(FleetError::Bind(e));
                }
            };
            let port = listener.local_addr().ok().map(|a| a.port());
            let id = format!("instance-{i}");
            let labels: BTreeMap<String, String> = port
                .map(|p| ("port".to_owned(), p.to_string()))
                .into_iter()
                .collect();
            let reporting = options.clone().with_instance(id.clone(), labels);
            let store = match EtcdDirectiveStore::connect(reporting).await {
                Ok(store) => store,
                Err(e) => {
                    fleet.shutdown().await;
                    return Err(FleetError::Store(e));
                }
            };
            // The demo shows every decision to whoever asks (loopback only).
            let options = proxy::ProxyOptions {
                diagnostics_header: proxy::DiagnosticsHeader::Always,
                ..proxy::ProxyOptions::default()
            };
            fleet.tasks.push(tokio::spawn(proxy::serve_with(
                listener,
                DirectiveHook::labelled(store.clone(), &[("instance", &id)]),
                upstream_addr,
                options,
                fleet.cancel.clone(),
            )));
            fleet.instances.push(FleetInstance { id, store, port });
        }
        tracing::info!(instances = count, "demo fleet started");
        Ok(fleet)
    }

    /// The instances.
    pub fn instances(&self) -> &[FleetInstance] {
        &self.instances
    }

    /// Stops every proxy and store (each store revokes its report's lease,
    /// so the instances leave the fleet view at once).
    pub async fn shutdown(&mut self) {
        self.cancel.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        for instance in self.instances.drain(..) {
            instance.store.shutdown().await;
        }
    }
}
