//! Where and how the admin server listens.
//!
//! The token travels in every request, so cleartext is acceptable only on
//! loopback: binding any other address without TLS is refused unless the
//! operator says `--insecure-listen` (e.g. behind a TLS-terminating proxy on
//! the same host). TLS is rustls with the ring provider and the safe default
//! protocol versions.
//!
//! The accept loop is ours rather than `axum::serve`, for bounds a hostile
//! client must not get around ([`ConnectionLimits`], all counted from
//! accept): a cap on open connections where a newcomer evicts the
//! longest-idle connection (so idle sockets cannot lock the API out), a
//! deadline for the first request head that covers the TLS handshake and
//! protocol detection, an idle timeout for HTTP/1 keep-alive and HTTP/2,
//! HTTP/2 keep-alive pings; and on shutdown every connection, long-lived
//! SSE streams included, is closed after a short grace period.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use directive_conn::{accept, builder, drive, tracked, Admitted, ConnectionLimits, Registry};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::state::AdminApp;

/// Time open connections get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A certificate chain and its private key, PEM files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Where to listen.
#[derive(Clone, Debug)]
pub struct ListenOptions {
    /// The address (port 0 picks a free port).
    pub addr: SocketAddr,
    /// Serve HTTPS with this certificate.
    pub tls: Option<TlsFiles>,
    /// Allow cleartext on a non-loopback address.
    pub insecure_listen: bool,
    /// Connection-level bounds.
    pub limits: ConnectionLimits,
}

/// Why the server could not start listening.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// Cleartext on a non-loopback address, not explicitly allowed.
    #[error(
        "refusing to listen on {0} without TLS: the admin token would cross the network in \
         cleartext. Give --tls-cert and --tls-key, listen on 127.0.0.1, or pass \
         --insecure-listen if a TLS-terminating proxy on this host fronts it"
    )]
    Insecure(SocketAddr),
    /// The certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// The address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, io::Error),
}

/// The server, running. Stop it with [`RunningServer::shutdown`].
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    scheme: &'static str,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://addr` or `https://addr`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.local_addr)
    }

    /// Stops accepting, closes every connection (after a short grace
    /// period) and waits for the accept loop to end.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

/// Checks the listen policy, loads TLS, binds, and serves `app` in the
/// background.
pub async fn start(app: &AdminApp, options: ListenOptions) -> Result<RunningServer, ListenError> {
    serve_router(app.router(), options, "admin server").await
}

/// Serves only `GET /metrics`, without the token, under the same listen
/// policy and connection limits (`--metrics-listen`: a scraper on the
/// host or the pod network, the API's token kept out of its config).
pub async fn start_metrics(
    app: &AdminApp,
    options: ListenOptions,
    allowed_hosts: Option<Vec<String>>,
) -> Result<RunningServer, ListenError> {
    serve_router(
        app.metrics_router(allowed_hosts),
        options,
        "metrics listener",
    )
    .await
}

async fn serve_router(
    router: axum::Router,
    options: ListenOptions,
    what: &'static str,
) -> Result<RunningServer, ListenError> {
    check_policy(&options)?;
    let tls = options.tls.as_ref().map(load_tls).transpose()?;
    let listener = TcpListener::bind(options.addr)
        .await
        .map_err(|e| ListenError::Bind(options.addr, e))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| ListenError::Bind(options.addr, e))?;
    let cancel = CancellationToken::new();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let task = tokio::spawn(accept_loop(
        listener,
        tls,
        router,
        options.limits,
        cancel.clone(),
    ));
    tracing::info!(%local_addr, scheme, what, "listening");
    Ok(RunningServer {
        local_addr,
        scheme,
        cancel,
        task,
    })
}

/// Cleartext only on loopback, unless explicitly allowed.
pub fn check_policy(options: &ListenOptions) -> Result<(), ListenError> {
    if options.tls.is_none() && !options.addr.ip().is_loopback() && !options.insecure_listen {
        return Err(ListenError::Insecure(options.addr));
    }
    Ok(())
}

/// Loads the certificate chain and key into a TLS acceptor (HTTP/2 and
/// HTTP/1.1 offered by ALPN).
pub fn load_tls(files: &TlsFiles) -> Result<TlsAcceptor, ListenError> {
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ListenError::Tls(format!("{}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(ListenError::Tls(format!(
            "{}: no certificate found",
            files.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| ListenError::Tls(format!("{}: {e}", files.key.display())))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ListenError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ListenError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
    limits: ConnectionLimits,
    cancel: CancellationToken,
) {
    let registry = Registry::new(limits.max_connections);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Some(stream) = accept(&listener, &cancel).await else {
            break;
        };
        let Some(admitted) = registry.admit() else {
            // Every connection is busy: refuse at once rather than queue.
            tracing::debug!("connection refused: every slot is busy");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let tls = tls.clone();
        let router = router.clone();
        let cancel = cancel.clone();
        connections.spawn(async move {
            serve_connection(stream, tls, router, admitted, limits, cancel).await;
        });
        // Reap finished connection tasks so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(1), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}

async fn serve_connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
    admitted: Admitted,
    limits: ConnectionLimits,
    cancel: CancellationToken,
) {
    let builder = builder(&limits);
    let activity = &admitted.activity;
    let service = tracked(TowerToHyperService::new(router), Arc::clone(activity));
    match tls {
        None => {
            let io = TokioIo::new(stream);
            drive(&builder, io, service, activity, &limits, &cancel).await;
        }
        Some(acceptor) => {
            // The handshake spends the head deadline, which runs from accept.
            let until = activity
                .deadline(&limits)
                .unwrap_or_else(|| Instant::now() + limits.head_timeout);
            let handshake = tokio::time::timeout_at(until.into(), acceptor.accept(stream));
            let stream = tokio::select! {
                () = activity.evict.cancelled() => return,
                () = cancel.cancelled() => return,
                result = handshake => match result {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => return tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => return tracing::debug!("TLS handshake timed out"),
                },
            };
            let io = TokioIo::new(stream);
            drive(&builder, io, service, activity, &limits, &cancel).await;
        }
    }
}
