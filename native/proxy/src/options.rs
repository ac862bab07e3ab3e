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
    /// Whether responses say what was decided (the `x-diagnostics` header).
    pub diagnostics_header: DiagnosticsHeader,
}

/// Whether a response carries the decision in the `x-diagnostics` header.
///
/// Telling every client what the fleet decided about its request (traced
/// or not, captured or not) is a disclosure an operator chooses, as Envoy
/// and Go's servers keep internal state off the wire by default: the
/// default sends nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DiagnosticsHeader {
    /// Never (the default).
    #[default]
    Off,
    /// On every response (a demo, a test fleet, a trusted network).
    Always,
    /// Only on responses to requests that carry this header (any value),
    /// e.g. one the edge sets for operators' own requests. Any client can
    /// send it, so the edge must strip it from every other request; the
    /// proxy removes it before forwarding. A lowercase header name.
    OnRequest(&'static str),
}

impl DiagnosticsHeader {
    /// Whether the response to a request with `headers` carries it.
    pub fn wanted(self, headers: &http::HeaderMap) -> bool {
        match self {
            DiagnosticsHeader::Off => false,
            DiagnosticsHeader::Always => true,
            DiagnosticsHeader::OnRequest(name) => headers.contains_key(name),
        }
    }
}
