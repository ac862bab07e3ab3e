//! A reverse proxy with fleet diagnostics directives, in front of an echo upstream.
//!
//! ```sh
//! cargo run -p directive-proxy --example proxy -- --endpoints http://127.0.0.1:2379 \
//!     --diagnostics-header always
//! curl -si -H 'x-tenant: acme' http://127.0.0.1:8081/orders/_search | grep x-diagnostics
//! ```
//!
//! Each request's tenant comes from `x-tenant`, its principal from
//! `x-principal`, its index and endpoint kind from the path; the proxy
//! generates each request id (a client's `x-request-id` is used only with
//! `--trust-request-id`, behind an edge that sets it); with
//! `--diagnostics-header always` (off by default) the decision is returned
//! in the `x-diagnostics` response header.
//!
//! `GET http://127.0.0.1:9464/metrics` (`--metrics-listen`) serves the
//! store's and the hook's metrics in the Prometheus text format, through
//! the admin server's hardened listener; logs go to stderr, filtered by
//! `RUST_LOG` (`RUST_LOG=debug` logs one line per request).

use std::net::SocketAddr;

use clap::Parser;
use directive_admin::{AdminApp, AdminConfig, AdminToken, ListenOptions};
use directive_etcd::{EtcdDirectiveStore, StoreOptions};
use directive_proxy::{
    echo::serve_echo, serve_with, DiagnosticsHeader, DirectiveHook, ProxyOptions, RequestIdPolicy,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Args {
    /// etcd endpoints, comma-separated.
    #[arg(long, env = "DIRECTIVE_ETCD_ENDPOINTS", value_delimiter = ',')]
    endpoints: Vec<String>,
    /// The key holding the directive document.
    #[arg(long, default_value = directive_etcd::store::DEFAULT_KEY)]
    key: String,
    /// Where the proxy listens.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// Use a client's `x-request-id` for sampling (only behind a trusted
    /// edge that sets or overwrites it).
    #[arg(long)]
    trust_request_id: bool,
    /// Where `GET /metrics` answers (loopback; no token).
    #[arg(long, default_value = "127.0.0.1:9464")]
    metrics_listen: SocketAddr,
    /// Tell clients what was decided in the `x-diagnostics` response
    /// header: `off` (the default), `always`, or the name of a request
    /// header that asks for it (e.g. `x-show-diagnostics`).
    #[arg(long, default_value = "off")]
    diagnostics_header: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // The recorder first: the store and the hook resolve their metrics
    // when they are built.
    let handle = directive_admin::metrics::install_prometheus()?;
    directive_proxy::metrics::describe();
    let endpoints = if args.endpoints.is_empty() {
        vec!["http://127.0.0.1:2379".to_owned()]
    } else {
        args.endpoints
    };
    let store =
        match EtcdDirectiveStore::connect(StoreOptions::new(endpoints).with_key(args.key)).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!(
                    "proxy: {e}\n(no etcd? `directivectl demo` runs one with a fleet, or start \
                 Debian's `etcd` and pass --endpoints)"
                );
                std::process::exit(2);
            }
        };
    let shutdown = CancellationToken::new();
    let upstream = TcpListener::bind("127.0.0.1:0").await?;
    let upstream_addr = upstream.local_addr()?;
    tokio::spawn(serve_echo(upstream, shutdown.clone()));
    let listener = TcpListener::bind(args.listen).await?;
    eprintln!(
        "proxy on http://{} -> echo upstream {upstream_addr}",
        listener.local_addr()?
    );
    let options = ProxyOptions {
        request_ids: if args.trust_request_id {
            RequestIdPolicy::TrustClient
        } else {
            RequestIdPolicy::Generate
        },
        diagnostics_header: match args.diagnostics_header.as_str() {
            "off" => DiagnosticsHeader::Off,
            "always" => DiagnosticsHeader::Always,
            // Read once at start and kept for the process's life.
            name => DiagnosticsHeader::OnRequest(Box::leak(name.to_owned().into_boxed_str())),
        },
        ..ProxyOptions::default()
    };
    let hook = DirectiveHook::new(store.clone());
    let mut config = AdminConfig::new(AdminToken::generate()?.0);
    config.metrics = Some(handle);
    config.metrics_behind_token = false;
    let metrics_app = AdminApp::new(config);
    let metrics = directive_admin::start_metrics(
        &metrics_app,
        ListenOptions {
            addr: args.metrics_listen,
            tls: None,
            insecure_listen: false,
            limits: directive_admin::ConnectionLimits::default(),
        },
        Some(
            directive_admin::LOOPBACK_HOSTS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
        ),
    )
    .await?;
    eprintln!("metrics on {}/metrics", metrics.url());
    tokio::select! {
        () = serve_with(listener, hook, upstream_addr, options, shutdown.clone()) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    shutdown.cancel();
    metrics.shutdown().await;
    store.shutdown().await;
    Ok(())
}
