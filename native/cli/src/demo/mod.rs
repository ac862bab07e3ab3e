//! `directivectl demo`: a private etcd, the admin server and a simulated
//! fleet, all stopped together on Ctrl-C or SIGTERM.
//!
//! Its stderr is the newcomer's guide: where the UI is, the generated token,
//! and a curl line to paste. Those lines (`url:` and `token:`) are also what
//! the demo's test parses. The demo needs only Debian's `etcd` binary:
//!
//! - `etcd`: the private etcd launcher ([`EmbeddedEtcd`]);
//! - `fleet`: the simulated instances ([`Fleet`]), each a real store and
//!   reverse proxy that reports what it applies exactly as a production
//!   instance does (ADR 0011): the admin UI's fleet card reads those
//!   reports, not the demo.

mod etcd;
mod fleet;

use std::net::SocketAddr;
use std::path::PathBuf;

use directive_admin::{self as admin, AdminApp, AdminConfig, AdminToken, Backend, ListenOptions};
use directive_etcd::{EtcdDirectiveStore, PublishError, Publisher, StoreOptions};

use etcd::EmbeddedEtcd;
use fleet::Fleet;

use crate::etcd_args::EtcdArgs;
use crate::serve::{init_logging, wait_for_shutdown};
use crate::{EXIT_ERROR, EXIT_OK};

/// Arguments of `demo`.
#[derive(clap::Args)]
#[command(mut_arg("endpoints", |a| a.help("an existing etcd's endpoints, comma-separated; without them: a private etcd")))]
pub struct Args {
    /// How many simulated instances (each a real store with its own client).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=50))]
    instances: u16,
    /// Loopback address for the admin server (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve the admin UI from this directory instead of the embedded one
    /// (development).
    #[arg(long)]
    ui_dir: Option<PathBuf>,
    /// An existing etcd instead of the private one (with --key etc.).
    #[command(flatten)]
    etcd: EtcdArgs,
}

/// The directive set the demo seeds (`examples/sample.json`, embedded).
const SAMPLE: &str = include_str!("../../../../examples/sample.json");

/// What runs, to be stopped in reverse order.
struct Running {
    etcd: Option<EmbeddedEtcd>,
    app: Option<AdminApp>,
    server: Option<admin::RunningServer>,
    fleet: Option<Fleet>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        if let Some(mut fleet) = self.fleet.take() {
            fleet.shutdown().await;
        }
        if let Some(app) = self.app.take() {
            app.close();
            if let Some(backend) = app.backend() {
                backend.shutdown().await;
            }
        }
        if let Some(mut etcd) = self.etcd.take() {
            etcd.stop();
        }
    }
}

pub async fn run(mut args: Args) -> u8 {
    init_logging("warn");
    let mut running = Running {
        etcd: None,
        app: None,
        server: None,
        fleet: None,
    };
    let code = match start(&mut args, &mut running).await {
        Ok(()) => {
            wait_for_shutdown().await;
            eprintln!("directivectl demo: stopping");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("directivectl demo: {e}");
            EXIT_ERROR
        }
    };
    running.stop().await;
    eprintln!("directivectl demo: stopped; nothing left running");
    code
}

async fn start(args: &mut Args, running: &mut Running) -> Result<(), String> {
    if !args.listen.ip().is_loopback() {
        return Err(format!(
            "--listen {} is not a loopback address: the demo serves cleartext HTTP \
             (use `directivectl serve` with TLS to expose it)",
            args.listen
        ));
    }
    if args.etcd.endpoints.iter().all(|e| e.trim().is_empty()) {
        eprintln!("directivectl demo: starting a private etcd ...");
        let (_, password) = AdminToken::generate()?;
        let etcd = EmbeddedEtcd::start(&password)
            .await
            .map_err(|e| e.to_string())?;
        eprintln!(
            "directivectl demo: private etcd at {} (auth on: --user {} --password-file {}; \
             data in {}, removed on exit)",
            etcd.client_url(),
            etcd::USER,
            etcd.password_file().display(),
            etcd.dir().display()
        );
        args.etcd.endpoints = vec![etcd.client_url().to_owned()];
        args.etcd.user = Some(etcd::USER.to_owned());
        args.etcd.password_file = Some(etcd.password_file());
        running.etcd = Some(etcd);
    }
    // Before any store connects: handles resolved earlier would be no-ops.
    let metrics = admin::metrics::install_prometheus()?;
    directive_proxy::metrics::describe();
    let options = args.etcd.options()?;
    let publisher = Publisher::connect(options.clone())
        .await
        .map_err(|e| e.to_string())?;
    seed(&publisher, &options).await?;
    let store = EtcdDirectiveStore::connect(options.clone())
        .await
        .map_err(|e| e.to_string())?;
    let (token, token_text) = AdminToken::generate()?;
    let mut config = AdminConfig::new(token);
    config.ui_dir = args.ui_dir.clone();
    config.allowed_hosts = crate::serve::allowed_hosts(&[], args.listen);
    config.metrics = Some(metrics);
    let app = AdminApp::new(config);
    app.set_backend(Backend::Etcd { store, publisher });
    running.app = Some(app.clone());
    let server = admin::start(
        &app,
        ListenOptions {
            addr: args.listen,
            tls: None,
            insecure_listen: false,
            limits: directive_admin::ConnectionLimits::default(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let url = server.url();
    running.server = Some(server);
    let fleet = Fleet::start(&options, usize::from(args.instances))
        .await
        .map_err(|e| e.to_string())?;
    let proxies: Vec<String> = fleet
        .instances()
        .iter()
        .filter_map(|i| i.port.map(|p| format!("{} http://127.0.0.1:{p}", i.id)))
        .collect();
    let first_proxy = fleet.instances().iter().find_map(|i| i.port);
    running.fleet = Some(fleet);
    eprintln!(
        "directivectl demo: ready, {} instances watching key '{}'\n  \
         url:   {url}/\n  \
         token: {token_text}\n  \
         try:   curl -s -H 'Authorization: Bearer {token_text}' {url}/api/fleet\n  \
         metrics: curl -s -H 'Authorization: Bearer {token_text}' {url}/metrics \
         (every instance's store, label instance=...)\n  \
         proxies: {}",
        args.instances,
        options.key(),
        proxies.join(", ")
    );
    if let Some(port) = first_proxy {
        eprintln!(
            "  try:   curl -si -H 'x-tenant: acme' \
             http://127.0.0.1:{port}/orders/_search | grep x-diagnostics"
        );
    }
    // The CLI against this demo, ready to paste (the secret stays in its
    // file; only its path is printed).
    // Single-quoted for the shell (a ' inside is closed, escaped, reopened).
    let quote = |v: &str| format!("'{}'", v.replace('\'', "'\\''"));
    let mut env = format!(
        "export DIRECTIVE_ETCD_ENDPOINTS={} DIRECTIVE_ETCD_KEY={}",
        quote(&options.endpoints().join(",")),
        quote(options.key())
    );
    if let Some(user) = &args.etcd.user {
        env.push_str(&format!(" DIRECTIVE_ETCD_USER={}", quote(user)));
    }
    let files = [
        ("DIRECTIVE_ETCD_PASSWORD_FILE", &args.etcd.password_file),
        ("DIRECTIVE_ETCD_CA_FILE", &args.etcd.ca_file),
        ("DIRECTIVE_ETCD_CERT_FILE", &args.etcd.cert_file),
        ("DIRECTIVE_ETCD_KEY_FILE", &args.etcd.key_file),
    ];
    for (name, file) in files {
        if let Some(file) = file {
            env.push_str(&format!(" {name}={}", quote(&file.display().to_string())));
        }
    }
    eprintln!("  cli:   {env}\n         directivectl get; directivectl fleet");
    eprintln!("  Ctrl-C stops everything (etcd included).");
    Ok(())
}

/// Publishes the sample set if the key is absent; an existing set is left alone.
async fn seed(publisher: &Publisher, options: &StoreOptions) -> Result<(), String> {
    match publisher.publish(SAMPLE.as_bytes(), Some(0)).await {
        Ok(published) => {
            eprintln!(
                "directivectl demo: seeded examples/sample.json at revision {}",
                published.revision
            );
            Ok(())
        }
        Err(PublishError::Conflict { current_revision }) => {
            eprintln!(
                "directivectl demo: key '{}' already holds a set (revision {current_revision}); left as is",
                options.key()
            );
            Ok(())
        }
        Err(e) => Err(format!("cannot seed the sample set: {e}")),
    }
}
