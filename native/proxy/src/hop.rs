//! Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, not
//! the message, so a proxy must not forward them in either direction. Left
//! in, `Connection`/`Upgrade` would let a client tunnel a WebSocket or h2c
//! stream past the per-request hook, and `Proxy-Authorization` would leak
//! the client's proxy credentials to the upstream.

use http::header::{self, HeaderMap, HeaderName};

/// The fixed hop-by-hop fields (Go's `httputil.ReverseProxy` list).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// Removes every hop-by-hop field: those named in `Connection`, then the
/// fixed list. (`Transfer-Encoding` is hyper's to frame, never forwarded.)
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::strip_hop_by_hop;
    use http::{HeaderMap, HeaderValue};

    #[test]
    fn removes_the_fixed_fields_and_those_named_in_connection() {
        let mut headers = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-secret, Upgrade"),
            ("keep-alive", "timeout=5"),
            ("upgrade", "h2c"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic cHJveHk6cGFzcw=="),
            ("proxy-connection", "keep-alive"),
            ("x-secret", "1"),
            ("x-tenant", "acme"),
        ] {
            headers.append(k, HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut headers);
        let left: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["x-tenant"]);
    }
}
