//! A service of your own (axum here) deciding each request's diagnostics
//! with [`DirectiveLayer`]: the decision is in the request's extensions,
//! and the handler runs inside a `tracing` span at the decided level.
//!
//! ```sh
//! # an etcd on 127.0.0.1:2379 with a directive for tenant acme, then:
//! cargo run -p directive-proxy --example axum_service
//! curl -s -H 'x-tenant: acme' http://127.0.0.1:8082/orders/_search
//! # decided: ShapeTiming (ring buffer: false, capture: false)
//! ```
//!
//! The same layer wraps a hyper service or a tonic server
//! (`Server::builder().layer(DirectiveLayer::new(store))`); give it your
//! own mapping from a request to its attributes with
//! `DirectiveLayer::with_attributes`.

use std::net::SocketAddr;

use axum::routing::any;
use axum::{Extension, Router};
use clap::Parser;
use directive_core::Decision;
use directive_etcd::{EtcdDirectiveStore, StoreOptions};
use directive_proxy::DirectiveLayer;

#[derive(Parser)]
struct Args {
    /// etcd endpoints, comma-separated.
    #[arg(
        long,
        env = "DIRECTIVE_ETCD_ENDPOINTS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:2379"
    )]
    endpoints: Vec<String>,
    /// The key holding the directive document.
    #[arg(long, default_value = directive_etcd::store::DEFAULT_KEY)]
    key: String,
    /// Where the service listens.
    #[arg(long, default_value = "127.0.0.1:8082")]
    listen: SocketAddr,
}

/// What the service does with the decision: here, it says it.
async fn handler(decision: Option<Extension<Decision>>) -> String {
    match decision {
        Some(Extension(d)) => format!(
            "decided: {} (ring buffer: {}, capture: {})\n",
            d.level, d.ring_buffer, d.capture
        ),
        None => "undecided: the request could not be classified\n".to_owned(),
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let options = StoreOptions::new(args.endpoints).with_key(args.key);
    let store = match EtcdDirectiveStore::connect(options).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("axum_service: {e}");
            std::process::exit(2);
        }
    };
    let app = Router::new()
        .route("/{*path}", any(handler))
        .layer(DirectiveLayer::new(store));
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("axum_service: cannot listen on {}: {e}", args.listen);
            std::process::exit(2);
        }
    };
    eprintln!("axum_service on http://{}", args.listen);
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("axum_service: {e}");
        std::process::exit(2);
    }
}
