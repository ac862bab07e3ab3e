//! The admin server's metrics and its Prometheus exporter (ADR 0012).
//!
//! The server records through the `metrics` facade like the store does;
//! unlike the store, it is a product with an endpoint, so it also owns the
//! exporter: [`install_prometheus`] installs the process-wide Prometheus
//! recorder (with the store's histogram buckets) and returns the handle
//! `GET /metrics` renders. Labels are closed sets: an operation, a result,
//! a refusal reason; never a token, a tenant or a directive.

use axum::response::Response;
use metrics::{counter, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// The handle `GET /metrics` renders (re-exported: embedders need no
/// dependency of their own on the exporter).
pub use metrics_exporter_prometheus::PrometheusHandle;

use super::error::ApiError;

/// Writes through the API, by `op` (`publish`, `rollback`) and `result`
/// (`ok`, `conflict`, `invalid`: any other refusal of the request,
/// `error`: the server or etcd failed).
pub const WRITES: &str = "directive_admin_writes_total";
/// Validation requests, by `result` (`ok`, `invalid`).
pub const VALIDATIONS: &str = "directive_admin_validations_total";
/// Requests refused for their credentials, by `reason` (`missing`,
/// `bad_scheme`, `wrong_token`, `duplicate`, `in_query`; `forbidden`: a
/// known principal whose role may not do this).
pub const AUTH_FAILURES: &str = "directive_admin_auth_failures_total";
/// Event streams (`GET /api/events`) open now.
pub const EVENT_STREAMS: &str = "directive_admin_event_streams";

/// Registers the admin server's descriptions (and the store's).
pub fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(
        WRITES,
        "writes through the admin API, by operation and result"
    );
    describe_counter!(VALIDATIONS, "validation requests, by result");
    describe_counter!(
        AUTH_FAILURES,
        "requests refused for their credentials, by reason"
    );
    describe_gauge!(EVENT_STREAMS, "event streams open now");
    directive_etcd::metrics::describe();
}

/// Installs the process-wide Prometheus recorder (once per process: a
/// second call fails) with the store's histogram buckets, registers every
/// description, and returns the handle to render.
pub fn install_prometheus() -> Result<PrometheusHandle, String> {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in directive_etcd::metrics::HISTOGRAM_BUCKETS {
        builder = builder
            .set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)
            .map_err(|e| format!("metrics buckets for {name}: {e}"))?;
    }
    let handle = builder
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    describe();
    Ok(handle)
}

/// Counts one write by its outcome.
pub(crate) fn write(op: &'static str, result: &Result<Response, ApiError>) {
    let result = match result {
        Ok(_) => "ok",
        Err(ApiError::Conflict { .. }) => "conflict",
        Err(ApiError::NotReady | ApiError::Etcd(_)) => "error",
        Err(_) => "invalid",
    };
    counter!(WRITES, "op" => op, "result" => result).increment(1);
}

/// Counts one validation request.
pub(crate) fn validation(ok: bool) {
    counter!(VALIDATIONS, "result" => if ok { "ok" } else { "invalid" }).increment(1);
}

/// Counts one refused credential.
pub(crate) fn auth_failure(reason: &'static str) {
    counter!(AUTH_FAILURES, "reason" => reason).increment(1);
}

/// An open event stream, counted until dropped.
#[derive(Debug)]
pub(crate) struct OpenStream(());

impl OpenStream {
    pub(crate) fn new() -> Self {
        gauge!(EVENT_STREAMS).increment(1.0);
        OpenStream(())
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        gauge!(EVENT_STREAMS).decrement(1.0);
    }
}
