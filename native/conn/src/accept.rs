//! Accepting connections without spinning when the process is out of
//! descriptors.
//!
//! A failed `accept` (EMFILE, ENFILE, ENOBUFS) leaves the listener readable,
//! so a loop that retries at once burns a core and starves the connections
//! it already has. Both servers accept through [`accept`], which waits
//! [`ACCEPT_BACKOFF`] before trying again.

use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Pause after a failed accept.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The next connection on `listener`, or `None` once `cancel` fires.
pub async fn accept(listener: &TcpListener, cancel: &CancellationToken) -> Option<TcpStream> {
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return None,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => return Some(stream),
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; backing off");
                tokio::select! {
                    () = cancel.cancelled() => return None,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }
}
