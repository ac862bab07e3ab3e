//! Everything a deployment chooses about the reverse proxy, in one value.

use directive_conn::ConnectionLimits;

use crate::attrs::RequestIdPolicy;

/// How [`serve_with`](crate::serve_with) runs the proxy. The default suits a
/// proxy that clients reach directly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyOptions {
    /// Connection cap, head deadline from accept, idle timeout, HTTP/2
    /// keep-alive.
    pub limits: ConnectionLimits,
    /// Who picks the request id that sampling hashes.
    pub request_ids: RequestIdPolicy,
}
