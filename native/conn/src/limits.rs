//! Every connection-level bound of our HTTP servers, in one place.
//!
//! A hostile client on the network must not be able to hold the server's
//! connection slots: each bound below starts at `accept`, not at the first
//! byte, and a new connection arriving at the cap evicts the connection that
//! has been idle the longest (one that never sent a request first), so
//! `/healthz` and real requests get through while an attacker's idle sockets
//! are shed. A response still streaming (an admin event stream) keeps its
//! connection busy, never idle; such streams need a cap of their own.

use std::time::Duration;

/// Connection limits (defaults: kube-apiserver's order of magnitude,
/// tightened for a small API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once. At the cap a new connection evicts the
    /// longest-idle one; when every connection is busy it is refused at once.
    pub max_connections: usize,
    /// From accept until the first complete request head: the TLS handshake,
    /// HTTP/1-vs-2 detection and the head itself all count.
    pub head_timeout: Duration,
    /// A connection with no request in flight for this long is closed
    /// (HTTP/1 keep-alive and HTTP/2 alike).
    pub idle_timeout: Duration,
    /// HTTP/2: a PING this often while requests are open...
    pub h2_keep_alive_interval: Duration,
    /// ...answered within this, or the connection is closed.
    pub h2_keep_alive_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 1024,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            h2_keep_alive_interval: Duration::from_secs(20),
            h2_keep_alive_timeout: Duration::from_secs(10),
        }
    }
}
