//! How to reach etcd and how to behave when it misbehaves.
//!
//! One options value serves both the [`EtcdDirectiveStore`](super::EtcdDirectiveStore)
//! and the [`Publisher`](crate::Publisher), so a deployment configures its
//! endpoints, TLS and credentials once. Every timeout has a default, because
//! the upstream had none and a blackholed endpoint hung it forever (spec §6,
//! weakness 8).

use std::time::Duration;

use directive_core::{Backoff, ReducerConfig, WireFormat};
use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};

/// The etcd key the directive document lives under, by default.
pub const DEFAULT_KEY: &str = "osproxy/directives";

/// TLS settings for `https://` endpoints (PEM text, not paths, so callers
/// decide where certificates come from).
#[derive(Clone, Debug, Default)]
pub struct TlsConfig {
    /// CA certificate(s) to trust, PEM. `None` uses the client's defaults.
    pub ca_pem: Option<String>,
    /// Client certificate and private key, PEM, for `--client-cert-auth`.
    pub identity: Option<(String, String)>,
    /// Server name to verify instead of the endpoint's host.
    pub domain: Option<String>,
}

impl TlsConfig {
    fn to_etcd(&self) -> TlsOptions {
        let mut tls = TlsOptions::new();
        if let Some(ca) = &self.ca_pem {
            tls = tls.ca_certificate(Certificate::from_pem(ca));
        }
        if let Some((cert, key)) = &self.identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        if let Some(domain) = &self.domain {
            tls = tls.domain_name(domain.clone());
        }
        tls
    }
}

/// Connection and behaviour options (a builder: start with [`StoreOptions::new`]).
#[derive(Clone)]
pub struct StoreOptions {
    pub(crate) endpoints: Vec<String>,
    pub(crate) key: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) keep_alive_interval: Duration,
    pub(crate) keep_alive_timeout: Duration,
    pub(crate) require_leader: bool,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) auth: Option<(String, String)>,
    pub(crate) reducer: ReducerConfig,
    pub(crate) instance: Option<super::reporter::InstanceOptions>,
    pub(crate) format: WireFormat,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password or key material.
        f.debug_struct("StoreOptions")
            .field("endpoints", &self.endpoints)
            .field("key", &self.key)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("keep_alive_interval", &self.keep_alive_interval)
            .field("keep_alive_timeout", &self.keep_alive_timeout)
            .field("require_leader", &self.require_leader)
            .field("tls", &self.tls.is_some())
            .field("auth_user", &self.auth.as_ref().map(|(u, _)| u))
            .field("reducer", &self.reducer)
            .field("instance", &self.instance)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl StoreOptions {
    /// Options for these endpoints (`http://host:port`, `https://host:port`
    /// or `host:port`) with the defaults: key [`DEFAULT_KEY`], 5 s connect
    /// and request timeouts, HTTP/2 keep-alive every 3 s with a 2 s timeout
    /// (also while idle), `require_leader`, a progress request after 5 s of
    /// silence answered within 5 s, Kubernetes-style backoff.
    pub fn new<S: Into<String>>(endpoints: impl IntoIterator<Item = S>) -> Self {
        StoreOptions {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            key: DEFAULT_KEY.to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            keep_alive_interval: Duration::from_secs(3),
            keep_alive_timeout: Duration::from_secs(2),
            require_leader: true,
            tls: None,
            auth: None,
            reducer: ReducerConfig::default(),
            instance: None,
            format: WireFormat::Stamped,
        }
    }

    /// How a [`crate::Publisher`] built from these options writes the key:
    /// [`WireFormat::Stamped`] (the default) for a fleet of this project's
    /// instances only, [`WireFormat::Upstream`] while upstream (osproxy)
    /// instances still read the key (ADR 0015). Readers accept both.
    pub fn with_format(mut self, format: WireFormat) -> Self {
        self.format = format;
        self
    }

    /// The format publishes write ([`Self::with_format`]).
    pub fn format(&self) -> WireFormat {
        self.format
    }

    /// Reports this store's status as instance `id` with `labels` (host,
    /// zone, ...) under `<key>/instances/<id>`, on a lease, for the fleet
    /// view (ADR 0011): at most one write per second, gone 10 s after the
    /// instance dies (see [`Self::with_report_timing`]). A report that
    /// cannot be written never affects the applied set.
    pub fn with_instance(
        mut self,
        id: impl Into<String>,
        labels: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        self.instance = Some(super::reporter::InstanceOptions {
            id: id.into(),
            labels: labels.into_iter().collect(),
            interval: Duration::from_secs(1),
            ttl: Duration::from_secs(10),
        });
        self
    }

    /// For a reporting instance ([`Self::with_instance`]): at most one
    /// report write per `interval`; a dead instance stays listed for at
    /// most `ttl` (the lease; whole seconds, at least 1).
    pub fn with_report_timing(mut self, interval: Duration, ttl: Duration) -> Self {
        if let Some(instance) = &mut self.instance {
            instance.interval = interval;
            instance.ttl = ttl;
        }
        self
    }

    /// The etcd key holding the directive document.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Upper bound for `connect` (TCP, TLS, auth and the initial read together).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Upper bound for each unary request (reads, transactions).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// HTTP/2 keep-alive ping interval and the time to wait for its answer.
    pub fn with_keep_alive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keep_alive_interval = interval;
        self.keep_alive_timeout = timeout;
        self
    }

    /// Refuse to be served by a member that has lost its leader.
    pub fn with_require_leader(mut self, require: bool) -> Self {
        self.require_leader = require;
        self
    }

    /// TLS for `https://` endpoints.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// etcd user name and password; the token is refreshed when it expires.
    pub fn with_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some((user.into(), password.into()));
        self
    }

    /// The reconnect schedule (sets [`ReducerConfig::backoff`]).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.reducer.backoff = backoff;
        self
    }

    /// Everything the reducer decides with: decoder limits, backoff,
    /// history-walk bounds, stall detection. Replaces what
    /// [`StoreOptions::with_backoff`] and [`StoreOptions::with_progress`] set.
    pub fn with_reducer_config(mut self, config: ReducerConfig) -> Self {
        self.reducer = config;
        self
    }

    /// Watch stall detection: after `interval` without any message the store
    /// asks etcd for progress, and treats the watch as disconnected when
    /// nothing arrives within `deadline` after that (sets
    /// [`ReducerConfig::progress_interval_ms`] and
    /// [`ReducerConfig::progress_deadline_ms`]).
    pub fn with_progress(mut self, interval: Duration, deadline: Duration) -> Self {
        self.reducer.progress_interval_ms = duration_ms(interval);
        self.reducer.progress_deadline_ms = duration_ms(deadline);
        self
    }

    /// The reducer's configuration.
    pub fn reducer_config(&self) -> &ReducerConfig {
        &self.reducer
    }

    /// Refuses options that can never work.
    pub(crate) fn check(&self) -> Result<(), super::StoreError> {
        if self.endpoints.is_empty() {
            return Err(super::StoreError::InvalidOptions("no endpoints".to_owned()));
        }
        if self.key.is_empty() {
            return Err(super::StoreError::InvalidOptions("empty key".to_owned()));
        }
        if let Some(instance) = &self.instance {
            directive_core::instance::check_id(&instance.id)
                .and_then(|()| directive_core::instance::check_labels(&instance.labels))
                .map_err(|e| super::StoreError::InvalidOptions(format!("instance: {e}")))?;
        }
        Ok(())
    }

    /// The configured endpoints.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The configured key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The configured connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The etcd-client options. Built from `ConnectOptions::new()`, not
    /// `default()`: the latter turns idle keep-alive off, and an idle
    /// connection is exactly the one a partition silently kills.
    pub(crate) fn etcd_connect_options(&self) -> ConnectOptions {
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(self.connect_timeout)
            .with_timeout(self.request_timeout)
            .with_keep_alive(self.keep_alive_interval, self.keep_alive_timeout)
            .with_keep_alive_while_idle(true)
            .with_require_leader(self.require_leader)
            .with_auto_token_refresh(true);
        if let Some(tls) = &self.tls {
            opts = opts.with_tls(tls.to_etcd());
        }
        if let Some((user, password)) = &self.auth {
            opts = opts.with_user(user.clone(), password.clone());
        }
        opts
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
