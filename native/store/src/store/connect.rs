//! Building the one etcd client a store or publisher keeps, and turning
//! etcd errors into messages an operator can act on.
//!
//! The upstream reported every startup failure as a fixed string (spec §6,
//! weakness 11). Here the whole error chain (gRPC status, transport, TLS,
//! I/O) goes into the message, because "etcd unreachable", "wrong password"
//! and "unknown CA" need different fixes.

use std::error::Error as _;
use std::time::Duration;

use etcd_client::Client;

use super::options::StoreOptions;

/// Why a store or publisher could not start.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `connect` was called outside a Tokio runtime.
    #[error("no Tokio runtime: the etcd store must be created inside a Tokio runtime")]
    NoRuntime,
    /// The options cannot work (no endpoints, TLS on an `http://` URL, ...).
    #[error("invalid etcd options: {0}")]
    InvalidOptions(String),
    /// etcd refused or failed the connection, authentication or the initial read.
    #[error("etcd connect failed ({endpoints}): {cause}")]
    Connect {
        /// The endpoints tried.
        endpoints: String,
        /// etcd's cause, with its whole error chain.
        cause: String,
    },
    /// Nothing answered within the connect timeout.
    #[error("etcd connect timed out after {after:?} ({endpoints}){}", last_cause(.cause))]
    Timeout {
        /// The endpoints tried.
        endpoints: String,
        /// The configured connect timeout.
        after: Duration,
        /// The last error seen before the timeout, if any.
        cause: Option<String>,
    },
}

fn last_cause(cause: &Option<String>) -> String {
    cause
        .as_deref()
        .map(|c| format!(": last error: {c}"))
        .unwrap_or_default()
}

impl StoreError {
    pub(crate) fn connect(options: &StoreOptions, err: &etcd_client::Error) -> Self {
        StoreError::Connect {
            endpoints: options.endpoints.join(","),
            cause: describe(err),
        }
    }

    pub(crate) fn timeout(options: &StoreOptions) -> Self {
        StoreError::Timeout {
            endpoints: options.endpoints.join(","),
            after: options.connect_timeout,
            cause: None,
        }
    }
}

/// An etcd error with its source chain, on one line. Never contains values
/// (etcd errors carry codes and messages, not keys' contents).
pub(crate) fn describe(err: &etcd_client::Error) -> String {
    let (mut text, mut source) = match err {
        etcd_client::Error::GRpcStatus(status) => (
            format!("grpc status {:?}: {}", status.code(), status.message()),
            status.source(),
        ),
        etcd_client::Error::TransportError(e) => (err.to_string(), e.source()),
        other => (other.to_string(), other.source()),
    };
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// True when the connection itself was refused (nothing listens at the
/// endpoint: etcd down or restarting), as opposed to a server that
/// answered with an error: anywhere in the error's chain of causes, an I/O
/// error of kind `ConnectionRefused`.
pub(crate) fn is_refused(err: &etcd_client::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = match err {
        etcd_client::Error::GRpcStatus(status) => status.source(),
        etcd_client::Error::TransportError(e) => e.source(),
        etcd_client::Error::IoError(e) => Some(e),
        other => other.source(),
    };
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        source = s.source();
    }
    false
}

/// True when etcd answered that the requested revision is compacted.
pub(crate) fn is_compacted(err: &etcd_client::Error) -> bool {
    // gRPC code 11 is OUT_OF_RANGE, etcd's ErrCompacted.
    matches!(err, etcd_client::Error::GRpcStatus(s)
        if i32::from(s.code()) == 11 && s.message().contains("compacted"))
}

/// True when etcd answered that the requested revision is in the future
/// (no version of the key can exist there yet).
pub(crate) fn is_future_revision(err: &etcd_client::Error) -> bool {
    matches!(err, etcd_client::Error::GRpcStatus(s)
        if i32::from(s.code()) == 11 && s.message().contains("future revision"))
}

/// Builds the client (authenticating when credentials are set). The first
/// request proves the connection; callers bound the whole thing with the
/// connect timeout.
pub(crate) async fn build_client(options: &StoreOptions) -> Result<Client, StoreError> {
    build_client_or_refused(options).await.map_err(|(e, _)| e)
}

/// As [`build_client`], also saying whether the connection was refused
/// (nothing listening), for the retry schedule (ADR 0017).
pub(crate) async fn build_client_or_refused(
    options: &StoreOptions,
) -> Result<Client, (StoreError, bool)> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err((StoreError::NoRuntime, false));
    }
    options.check().map_err(|e| (e, false))?;
    Client::connect(&options.endpoints, Some(options.etcd_connect_options()))
        .await
        .map_err(|e| (StoreError::connect(options, &e), is_refused(&e)))
}
