//! `directivectl serve`: the admin HTTP API and UI.
//!
//! The server listens first and connects to etcd in the background
//! (retrying), so `/healthz` answers at once and `/readyz` turns 200 only
//! when the store has read the key. Without `--endpoints` it serves a
//! process-local in-memory key and says so, loudly, on stderr.

use std::net::SocketAddr;
use std::path::PathBuf;

use directive_admin::roles::Principals;
use directive_admin::{
    self as admin, AdminApp, AdminConfig, AdminToken, Backend, ListenOptions, MemoryBackend,
    TlsFiles,
};
use directive_core::{State, WireFormat};
use directive_etcd::{EtcdDirectiveStore, Publisher, StoreOptions};
use tokio_util::sync::CancellationToken;

use crate::etcd_args::EtcdArgs;
use crate::{EXIT_ERROR, EXIT_OK};

/// Arguments of `serve`.
#[derive(clap::Args)]
#[command(mut_arg("endpoints", |a| a.help("etcd endpoints, comma-separated; without them: an in-memory store")))]
pub struct Args {
    /// Address to listen on. Non-loopback addresses need --tls-cert/--tls-key
    /// (or --insecure-listen).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// File holding the admin bearer token (else DIRECTIVE_ADMIN_TOKEN); at
    /// least 16 bytes. It is one operator named `admin`.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Tokens file of named principals with roles (viewer, operator),
    /// digests only (`directivectl token add`); with or instead of
    /// --token-file.
    #[arg(long, value_name = "FILE")]
    tokens_file: Option<PathBuf>,
    /// TLS certificate chain (PEM) to serve HTTPS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Allow cleartext HTTP on a non-loopback address (only behind a
    /// TLS-terminating proxy on the same host).
    #[arg(long)]
    insecure_listen: bool,
    /// Serve the admin UI from this directory instead of the embedded one
    /// (development).
    #[arg(long)]
    ui_dir: Option<PathBuf>,
    /// A host name the API and UI answer to (repeatable); other `Host`s get
    /// 421 (DNS rebinding). Loopback names are allowed on a loopback
    /// address; without this flag a non-loopback address answers any host.
    #[arg(long, value_name = "NAME")]
    allowed_host: Vec<String>,
    /// The one browser origin allowed to call the API (CORS); none by default.
    #[arg(long)]
    cors_origin: Option<String>,
    /// Serve `GET /metrics` (Prometheus text) on this address of its own,
    /// without the token (same listen policy: loopback unless TLS or
    /// --insecure-listen), instead of behind the token on --listen.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Refuse a publish or rollback that does not say why (400
    /// `message_required`; the UI's "Why?" field, `X-Change-Message`).
    #[arg(long)]
    require_message: bool,
    /// etcd connection (without --endpoints: an in-memory store).
    #[command(flatten)]
    etcd: EtcdArgs,
}

pub async fn run(args: Args) -> u8 {
    init_logging("info");
    let principals = match load_principals(args.token_file.as_deref(), args.tokens_file.as_deref())
    {
        Ok(principals) => principals,
        Err(e) => {
            eprintln!("directivectl serve: {e}");
            return EXIT_ERROR;
        }
    };
    let listen_tls = args
        .tls_cert
        .clone()
        .zip(args.tls_key.clone())
        .map(|(cert, key)| TlsFiles { cert, key });
    let listen = ListenOptions {
        addr: args.listen,
        tls: listen_tls.clone(),
        insecure_listen: args.insecure_listen,
        limits: directive_admin::ConnectionLimits::default(),
    };
    if let Err(e) = admin::check_policy(&listen) {
        eprintln!("directivectl serve: {e}");
        return EXIT_ERROR;
    }
    if let Some(origin) = &args.cors_origin {
        if http::HeaderValue::from_str(origin).is_err() || !origin.contains("://") {
            eprintln!("directivectl serve: --cors-origin must be an origin like https://admin.example.com");
            return EXIT_ERROR;
        }
    }
    let mut config = AdminConfig::with_principals(principals);
    // Before any store connects: handles resolved earlier would be no-ops.
    config.metrics = match admin::metrics::install_prometheus() {
        Ok(handle) => Some(handle),
        Err(e) => {
            eprintln!("directivectl serve: {e}");
            return EXIT_ERROR;
        }
    };
    config.metrics_behind_token = args.metrics_listen.is_none();
    config.require_message = args.require_message;
    config.ui_dir = args.ui_dir.clone();
    config.cors_origin = args.cors_origin.clone();
    config.allowed_hosts = allowed_hosts(&args.allowed_host, args.listen);
    let app = AdminApp::new(config);
    let cancel = CancellationToken::new();
    if args.etcd.endpoints.iter().all(|e| e.trim().is_empty()) {
        eprintln!(
            "directivectl serve: no --endpoints given: using an IN-MEMORY store \
             (not shared with any fleet, lost on exit)"
        );
        if args.etcd.format != WireFormat::Stamped {
            eprintln!(
                "directivectl serve: --format {} ignored: the in-memory store is read by no \
                 osproxy instance",
                args.etcd.format.as_str()
            );
        }
        app.set_backend(Backend::Memory(MemoryBackend::default()));
    } else {
        let options = match args.etcd.options() {
            Ok(options) => options,
            Err(e) => {
                eprintln!("directivectl serve: {e}");
                return EXIT_ERROR;
            }
        };
        eprintln!(
            "directivectl serve: backend: etcd {} key '{}', publishing in the {} format",
            options.endpoints().join(","),
            options.key(),
            options.format().as_str()
        );
        tokio::spawn(connect_until_ready(app.clone(), options, cancel.clone()));
    }
    let server = match admin::start(&app, listen).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("directivectl serve: {e}");
            return EXIT_ERROR;
        }
    };
    eprintln!("directivectl serve: listening on {}/", server.url());
    let metrics_server = match args.metrics_listen {
        None => None,
        Some(addr) => {
            let options = ListenOptions {
                addr,
                tls: listen_tls.clone(),
                insecure_listen: args.insecure_listen,
                limits: directive_admin::ConnectionLimits::default(),
            };
            let hosts = allowed_hosts(&args.allowed_host, addr);
            match admin::start_metrics(&app, options, hosts).await {
                Ok(metrics) => {
                    eprintln!("directivectl serve: metrics on {}/metrics", metrics.url());
                    Some(metrics)
                }
                Err(e) => {
                    eprintln!("directivectl serve: --metrics-listen: {e}");
                    server.shutdown().await;
                    return EXIT_ERROR;
                }
            }
        }
    };
    wait_for_shutdown().await;
    eprintln!("directivectl serve: shutting down");
    cancel.cancel();
    server.shutdown().await;
    if let Some(metrics) = metrics_server {
        metrics.shutdown().await;
    }
    app.close();
    if let Some(backend) = app.backend() {
        backend.shutdown().await;
    }
    EXIT_OK
}

/// The hosts the API answers to: the given names, plus the loopback names
/// on a loopback address; `None` (any host) for a non-loopback address
/// without `--allowed-host`.
pub(crate) fn allowed_hosts(given: &[String], listen: SocketAddr) -> Option<Vec<String>> {
    let mut names: Vec<String> = given.iter().map(|n| n.to_ascii_lowercase()).collect();
    if listen.ip().is_loopback() {
        names.extend(admin::LOOPBACK_HOSTS.iter().map(|n| (*n).to_owned()));
    }
    (!names.is_empty()).then_some(names)
}

/// The token from `--token-file`, else `DIRECTIVE_ADMIN_TOKEN`; never a flag value.
pub(crate) fn load_token(file: Option<&std::path::Path>) -> Result<AdminToken, String> {
    match file {
        Some(path) => AdminToken::from_file(path),
        None => AdminToken::from_env().unwrap_or_else(|| {
            Err(format!(
                "no admin token: give --token-file FILE or set {}",
                admin::TOKEN_ENV
            ))
        }),
    }
}

/// The principals: the tokens file's, plus the single token (`--token-file`
/// or the environment) as `admin`; the single token alone when there is no
/// tokens file.
fn load_principals(
    token_file: Option<&std::path::Path>,
    tokens_file: Option<&std::path::Path>,
) -> Result<Principals, String> {
    let Some(path) = tokens_file else {
        return load_token(token_file).map(|t| Principals::single(&t));
    };
    let mut principals = Principals::from_file(path)?;
    let single = match token_file {
        Some(file) => Some(AdminToken::from_file(file)),
        None => AdminToken::from_env(),
    };
    if let Some(token) = single {
        eprintln!(
            "directivectl serve: the single token ({}) is accepted too, as operator 'admin'",
            if token_file.is_some() {
                "--token-file"
            } else {
                admin::TOKEN_ENV
            }
        );
        principals.extend(Principals::single(&token?))?;
    }
    Ok(principals)
}

/// Starts the store, which retries on its own backoff schedule until etcd
/// answers; once it has read the key the app becomes ready, with a
/// publisher that connects on first use (so nothing here can fail after the
/// store is live, and there is no retry loop of its own).
pub(crate) async fn connect_until_ready(
    app: AdminApp,
    options: StoreOptions,
    cancel: CancellationToken,
) {
    let started = EtcdDirectiveStore::start(options.clone())
        .and_then(|store| Ok((store, Publisher::new(options.clone())?)));
    let (store, publisher) = match started {
        Ok(both) => both,
        Err(e) => {
            eprintln!("directivectl: {e}");
            return;
        }
    };
    let mut status = store.subscribe_status();
    let live = async {
        status
            .wait_for(|s| s.state == State::Live)
            .await
            .map(|s| s.applied_revision)
    };
    tokio::pin!(live);
    let revision = loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            r = &mut live => match r {
                Ok(revision) => break revision,
                Err(_) => return,
            },
            () = tokio::time::sleep(options.connect_timeout()) => {
                let cause = store.status().last_error.unwrap_or_default();
                eprintln!("directivectl: etcd not reachable yet ({cause}); retrying with backoff");
            }
        }
    };
    app.set_backend(Backend::Etcd { store, publisher });
    eprintln!("directivectl: connected to etcd; applied revision {revision}; ready");
}

/// Logs to stderr, filtered by `RUST_LOG` (`EnvFilter` syntax, e.g.
/// `info,directive_etcd=debug`), else `default`; colours only when stderr
/// is a terminal, so a log file or a pipe never holds escape codes.
pub(crate) fn init_logging(default: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Returns on Ctrl-C, SIGTERM or SIGHUP.
pub(crate) async fn wait_for_shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let term = async {
        match term.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    let hup = async {
        match hup.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
        () = hup => {}
    }
}
