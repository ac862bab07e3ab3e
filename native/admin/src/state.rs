//! The state every handler shares, and the handle that starts with no
//! backend and gets one once the store has connected.
//!
//! The server listens before the store is connected, so that `/healthz`
//! answers at once and `/readyz` can say "not yet" (503) while etcd is
//! unreachable, as a load balancer or Kubernetes expects; `/api` routes
//! answer 503 `not_ready` until then.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use directive_core::Limits;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::auth::AdminToken;
use super::backend::Backend;
use super::error::ApiError;
use super::fleet::FleetView;
use super::hub::EventHub;
use super::roles::Principals;

/// How the admin app is configured (everything but where it listens).
#[derive(Clone, Debug)]
pub struct AdminConfig {
    /// Who may call `/api` (and `/metrics` behind the token), with which
    /// role (ADR 0013).
    pub principals: Principals,
    /// A directory to serve the admin UI from instead of the embedded one
    /// (development); a directory without `index.html` serves a built-in
    /// page saying the UI is not built.
    pub ui_dir: Option<PathBuf>,
    /// The one origin allowed to call the API from a browser (CORS); `None`
    /// sends no CORS headers at all.
    pub cors_origin: Option<String>,
    /// Decoder limits (body size limits follow `max_bytes`).
    pub limits: Limits,
    /// The host names (no port) the API and UI answer to; any other `Host`
    /// gets 421, so a page on another origin that rebinds its DNS name to
    /// this server's address cannot use it (DNS rebinding). `None` answers
    /// any host. `/healthz` and `/readyz` answer every host.
    pub allowed_hosts: Option<Vec<String>>,
    /// The exporter `GET /metrics` renders ([`crate::metrics::install_prometheus`]);
    /// `None`: no `/metrics` (404).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Serve `/metrics` behind the token like `/api` (true), or not at all
    /// on this listener (false: it is served on a listener of its own,
    /// [`crate::start_metrics`]).
    pub metrics_behind_token: bool,
    /// Refuse a publish or rollback without a message (400
    /// `message_required`): every change then says why.
    pub require_message: bool,
    /// Event streams (`GET /api/events`) open at once; one more is 503.
    /// Streams are never idle, so they do not count as evictable
    /// connections: this is their own cap.
    pub max_event_streams: usize,
}

impl AdminConfig {
    /// The defaults around one shared token (an operator named `admin`):
    /// no UI directory, no CORS, default limits.
    pub fn new(token: AdminToken) -> Self {
        Self::with_principals(Principals::single(&token))
    }

    /// The defaults around `principals` (a tokens file, ADR 0013).
    pub fn with_principals(principals: Principals) -> Self {
        AdminConfig {
            principals,
            ui_dir: None,
            cors_origin: None,
            limits: Limits::default(),
            max_event_streams: 64,
            allowed_hosts: None,
            metrics: None,
            metrics_behind_token: true,
            require_message: false,
        }
    }
}

/// The shared state of one admin app.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) config: AdminConfig,
    backend: RwLock<Option<Arc<Backend>>>,
    pub(crate) hub: EventHub,
    pub(crate) fleet: FleetView,
    pub(crate) cancel: CancellationToken,
    pub(crate) event_streams: Arc<Semaphore>,
}

impl AppState {
    pub(crate) fn new(config: AdminConfig) -> Self {
        let max_event_streams = config.max_event_streams;
        AppState {
            config,
            backend: RwLock::new(None),
            hub: EventHub::new(),
            fleet: FleetView::new(),
            cancel: CancellationToken::new(),
            event_streams: Arc::new(Semaphore::new(max_event_streams)),
        }
    }

    /// The backend, if connected.
    pub(crate) fn backend(&self) -> Option<Arc<Backend>> {
        self.backend
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The backend once it has read the key, else 503.
    pub(crate) fn ready_backend(&self) -> Result<Arc<Backend>, ApiError> {
        self.backend()
            .filter(|b| b.is_ready())
            .ok_or(ApiError::NotReady)
    }

    pub(crate) fn set_backend(&self, backend: Backend) {
        self.hub
            .forward_store(backend.events(), self.cancel.clone());
        if let Backend::Etcd { publisher, .. } = &backend {
            self.fleet.follow(
                publisher.watch_fleet(self.cancel.clone()),
                self.cancel.clone(),
            );
        }
        *self.backend.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(backend));
    }
}

/// The admin app: its configuration, backend slot, event hub and fleet
/// view. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AdminApp {
    pub(crate) state: Arc<AppState>,
}

impl AdminApp {
    /// An app with no backend yet (routes under `/api` answer 503 until
    /// [`AdminApp::set_backend`]). Its fleet view is empty until an etcd
    /// backend is set; it then follows the instances' reports on the key.
    /// Must be called inside a Tokio runtime (it starts the fleet
    /// forwarder).
    pub fn new(config: AdminConfig) -> Self {
        let state = Arc::new(AppState::new(config));
        state.hub.forward_fleet(&state.fleet, state.cancel.clone());
        AdminApp { state }
    }

    /// Connects the app to its data; its store events start flowing to SSE
    /// clients.
    pub fn set_backend(&self, backend: Backend) {
        self.state.set_backend(backend);
    }

    /// The backend, once set.
    pub fn backend(&self) -> Option<Arc<Backend>> {
        self.state.backend()
    }

    /// The axum router of the whole app (API, probes, UI).
    pub fn router(&self) -> axum::Router {
        super::routes::router(Arc::clone(&self.state))
    }

    /// A router serving only `/metrics`, with no token (for a listener of
    /// its own, [`crate::start_metrics`]), answering only the `allowed_hosts`
    /// (`None`: any host), like [`AdminConfig::allowed_hosts`].
    pub fn metrics_router(&self, allowed_hosts: Option<Vec<String>>) -> axum::Router {
        super::routes::metrics_router(Arc::clone(&self.state), allowed_hosts)
    }

    /// Stops the event forwarders (the SSE streams then end).
    pub fn close(&self) {
        self.state.cancel.cancel();
    }
}
