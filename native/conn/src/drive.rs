//! Serving one connection within its limits.

use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio_util::sync::CancellationToken;

use crate::limits::ConnectionLimits;
use crate::linger::Lingering;
use crate::registry::Activity;

/// Time a connection gets to finish its work when closed for idleness,
/// eviction or shutdown.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// An HTTP/1 + HTTP/2 connection builder with the limits' header and
/// keep-alive settings.
pub fn builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.h2_keep_alive_interval))
        .keep_alive_timeout(limits.h2_keep_alive_timeout);
    builder
}

/// Serves one connection until it ends, its head or idle deadline passes,
/// it is evicted, or `cancel` fires. A connection that never sent a request
/// head is dropped at once; any other is shut down gracefully. Either way
/// the socket lingers ([`Lingering`]) so that an answer sent before the
/// request was read reaches the client.
pub async fn drive<I, S, B>(
    builder: &auto::Builder<TokioExecutor>,
    io: TokioIo<I>,
    service: S,
    activity: &Activity,
    limits: &ConnectionLimits,
    cancel: &CancellationToken,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let io = TokioIo::new(Lingering::new(io.into_inner()));
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    loop {
        // While a request is in flight there is no deadline; look again
        // every second (a response's end is not an event we can await here).
        let wake = activity
            .deadline(limits)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake.into()) => {
                let Some(deadline) = activity.deadline(limits) else { continue };
                if Instant::now() < deadline {
                    continue;
                }
                if !activity.has_requested() {
                    tracing::debug!("connection closed: no request head in time");
                    return;
                }
                tracing::debug!("connection closed: idle");
                break;
            }
            () = activity.evict.cancelled() => {
                tracing::debug!("connection evicted to make room");
                if !activity.has_requested() {
                    return;
                }
                break;
            }
            () = cancel.cancelled() => break,
        }
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(CLOSE_GRACE, connection.as_mut()).await;
}
