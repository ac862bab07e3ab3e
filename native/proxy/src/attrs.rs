//! Request attributes from an HTTP request, OpenSearch-style.
//!
//! The mapping is the example proxy's convention, not part of the directive
//! format: tenant from `x-tenant` (absent = unresolved), principal from
//! `x-principal`, and the index and endpoint kind from the path, the way an
//! OpenSearch proxy would classify `/{index}/_search`, `/{index}/_doc/{id}`,
//! `/_bulk` and so on.
//!
//! The request id is what percentage sampling hashes, so whoever picks it
//! picks whether a request is traced. By default ([`RequestIdPolicy::Generate`])
//! the proxy picks it: a client that could choose ids could have every one of
//! its requests traced at a 1-per-mille directive. Behind an edge that sets
//! the id itself, [`RequestIdPolicy::TrustClient`] uses the incoming one.

use std::fmt;

use directive_core::{EndpointKind, Request};
use http::Method;

/// Header carrying the resolved tenant.
pub const TENANT_HEADER: &str = "x-tenant";
/// Header carrying the authenticated principal.
pub const PRINCIPAL_HEADER: &str = "x-principal";
/// Header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Header that carries a client's own request id upstream when the proxy
/// generated the request's id ([`RequestIdPolicy::Generate`]).
pub const CLIENT_REQUEST_ID_HEADER: &str = "x-client-request-id";

/// Longest client request id accepted; a longer one is replaced by a
/// generated id (it is reflected in the response and logged).
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Longest `x-tenant` or `x-principal` value accepted; a longer one is
/// refused with 431 (directive targets are short names).
pub const MAX_ATTRIBUTE_LEN: usize = 256;

/// Who chooses the request id that sampling hashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RequestIdPolicy {
    /// The proxy generates every request's id (unpredictable to clients); a
    /// client's acceptable `x-request-id` travels upstream as
    /// [`CLIENT_REQUEST_ID_HEADER`] for correlation, and never steers
    /// sampling. For a proxy that clients reach directly.
    #[default]
    Generate,
    /// A client's acceptable `x-request-id` is the request's id (generated
    /// when absent or unacceptable). Only behind a trusted edge that sets or
    /// overwrites the header itself.
    TrustClient,
}

/// Request ids the proxy picks ([`RequestIdPolicy::Generate`]): a keyed
/// hash (SipHash, random key) of a counter, so a client that sees its ids
/// cannot predict the next one, and so cannot time its requests into the
/// sampled buckets.
#[derive(Debug, Default)]
pub struct IdGenerator {
    key: std::collections::hash_map::RandomState,
    counter: std::sync::atomic::AtomicU64,
}

impl IdGenerator {
    /// A generator with a fresh random key.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next id: 16 hex digits.
    pub fn next(&self) -> String {
        use std::hash::BuildHasher;
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{:016x}", self.key.hash_one(n))
    }
}

/// A request header the proxy refuses to classify a request by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadHeader {
    /// The header's name.
    pub name: &'static str,
    /// What is wrong with it.
    pub problem: HeaderProblem,
}

/// What is wrong with a [`BadHeader`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderProblem {
    /// Longer than [`MAX_ATTRIBUTE_LEN`] bytes (answered with 431).
    TooLong,
    /// Sent more than once: which one applies would be a guess.
    Repeated,
    /// Not visible ASCII.
    NotVisibleAscii,
}

impl fmt::Display for BadHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name;
        match self.problem {
            HeaderProblem::TooLong => {
                write!(f, "{name} is longer than {MAX_ATTRIBUTE_LEN} bytes")
            }
            HeaderProblem::Repeated => write!(f, "{name} is sent more than once"),
            HeaderProblem::NotVisibleAscii => write!(f, "{name} is not visible ASCII"),
        }
    }
}

impl std::error::Error for BadHeader {}

/// A client's request id is used only when it is 1 to
/// [`MAX_REQUEST_ID_LEN`] bytes of visible ASCII.
fn is_acceptable_request_id(id: &str) -> bool {
    id.len() <= MAX_REQUEST_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The value of an attribute header: absent when missing or empty, refused
/// when repeated, too long or unreadable.
fn attribute<B>(req: &http::Request<B>, name: &'static str) -> Result<Option<String>, BadHeader> {
    let mut values = req.headers().get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bad = |problem| BadHeader { name, problem };
    if values.next().is_some() {
        return Err(bad(HeaderProblem::Repeated));
    }
    if value.len() > MAX_ATTRIBUTE_LEN {
        return Err(bad(HeaderProblem::TooLong));
    }
    let text = value
        .to_str()
        .map_err(|_| bad(HeaderProblem::NotVisibleAscii))?;
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// The owned attributes of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestAttrs {
    /// Resolved tenant, if known.
    pub tenant: Option<String>,
    /// Logical index (`""` for cluster-level paths).
    pub index: String,
    /// Principal (`"anonymous"` when no header).
    pub principal: String,
    /// Endpoint class.
    pub endpoint: EndpointKind,
    /// Request id: the one sampling hashes, forwarded and reflected as
    /// `x-request-id`.
    pub request_id: String,
    /// The client's own acceptable `x-request-id` when the policy did not
    /// use it ([`RequestIdPolicy::Generate`]).
    pub client_request_id: Option<String>,
}

impl RequestAttrs {
    /// Reads the attributes of `req`; `new_id` supplies an id when the
    /// policy or the request calls for one.
    pub fn from_http<B>(
        req: &http::Request<B>,
        policy: RequestIdPolicy,
        new_id: impl FnOnce() -> String,
    ) -> Result<Self, BadHeader> {
        // The normalised path is what the proxy forwards (see `path`); a
        // raw path that cannot be normalised is classified as it is.
        let path = crate::path::normalize(req.uri().path())
            .map_or_else(|_| req.uri().path().to_owned(), |p| p.decoded);
        let (index, endpoint) = classify(req.method(), &path);
        let client_id = req
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|id| !id.is_empty() && is_acceptable_request_id(id))
            .map(str::to_owned);
        let (request_id, client_request_id) = match (policy, client_id) {
            (RequestIdPolicy::TrustClient, Some(id)) => (id, None),
            (_, client) => (new_id(), client),
        };
        Ok(RequestAttrs {
            tenant: attribute(req, TENANT_HEADER)?,
            index,
            principal: attribute(req, PRINCIPAL_HEADER)?.unwrap_or_else(|| "anonymous".into()),
            endpoint,
            request_id,
            client_request_id,
        })
    }

    /// Borrows the attributes as the evaluator's request.
    pub fn as_request(&self) -> Request<'_> {
        Request {
            tenant: self.tenant.as_deref(),
            index: &self.index,
            principal: &self.principal,
            endpoint: self.endpoint,
            request_id: &self.request_id,
        }
    }
}

/// The logical index and endpoint kind of a path.
pub fn classify(method: &Method, path: &str) -> (String, EndpointKind) {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (index, rest): (&str, &[&str]) = match segments.split_first() {
        Some((first, rest)) if !first.starts_with('_') => (first, rest),
        _ => ("", segments.as_slice()),
    };
    let op = rest.first().copied().unwrap_or("");
    let has_id = rest.len() > 1;
    let kind = match op {
        "_search" if rest.get(1) == Some(&"scroll") => EndpointKind::Cursor,
        "_search" => EndpointKind::Search,
        "_msearch" => EndpointKind::MultiSearch,
        "_count" => EndpointKind::Count,
        "_mget" => EndpointKind::MultiGet,
        "_bulk" => EndpointKind::IngestBulk,
        "_delete_by_query" => EndpointKind::DeleteByQuery,
        "_pit" | "_scroll" => EndpointKind::Cursor,
        "_doc" | "_create" if *method == Method::GET && has_id => EndpointKind::GetById,
        "_doc" if *method == Method::DELETE && has_id => EndpointKind::DeleteById,
        "_doc" | "_create" => EndpointKind::IngestDoc,
        _ if index.is_empty() && !op.is_empty() => EndpointKind::Admin,
        _ => EndpointKind::Unknown,
    };
    (index.to_owned(), kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(headers: &[(&str, &str)], policy: RequestIdPolicy) -> Result<RequestAttrs, BadHeader> {
        let mut req = http::Request::builder().uri("/orders/_search");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(()).expect("request");
        RequestAttrs::from_http(&req, policy, || "generated".into())
    }

    #[test]
    fn trusted_request_ids_are_used_only_when_short_and_visible() {
        let with_id = |id: &str| {
            attrs(&[(REQUEST_ID_HEADER, id)], RequestIdPolicy::TrustClient)
                .expect("valid")
                .request_id
        };
        assert_eq!(with_id("r-1"), "r-1");
        assert_eq!(
            with_id(&"x".repeat(MAX_REQUEST_ID_LEN)),
            "x".repeat(MAX_REQUEST_ID_LEN)
        );
        assert_eq!(with_id(&"x".repeat(MAX_REQUEST_ID_LEN + 1)), "generated");
        assert_eq!(with_id(&"x".repeat(300_000)), "generated");
        assert_eq!(with_id("has space"), "generated");
    }

    #[test]
    fn by_default_the_proxy_picks_the_id_and_keeps_the_clients_aside() {
        let a = attrs(&[(REQUEST_ID_HEADER, "r-1")], RequestIdPolicy::default()).expect("valid");
        assert_eq!(a.request_id, "generated");
        assert_eq!(a.client_request_id.as_deref(), Some("r-1"));
        let long = "x".repeat(MAX_REQUEST_ID_LEN + 1);
        let a = attrs(&[(REQUEST_ID_HEADER, &long)], RequestIdPolicy::default()).expect("valid");
        assert_eq!(a.client_request_id, None, "an unacceptable id is dropped");
    }

    #[test]
    fn attribute_headers_are_bounded_single_and_readable() {
        let ok = "t".repeat(MAX_ATTRIBUTE_LEN);
        let a = attrs(&[(TENANT_HEADER, &ok)], RequestIdPolicy::default()).expect("at the bound");
        assert_eq!(a.tenant.as_deref(), Some(ok.as_str()));
        let long = "t".repeat(MAX_ATTRIBUTE_LEN + 1);
        let err =
            attrs(&[(TENANT_HEADER, &long)], RequestIdPolicy::default()).expect_err("too long");
        assert_eq!(err.problem, HeaderProblem::TooLong);
        assert_eq!(err.to_string(), "x-tenant is longer than 256 bytes");
        let err = attrs(
            &[(PRINCIPAL_HEADER, "a"), (PRINCIPAL_HEADER, "b")],
            RequestIdPolicy::default(),
        )
        .expect_err("repeated");
        assert_eq!(err.to_string(), "x-principal is sent more than once");
        let a = attrs(&[(TENANT_HEADER, "")], RequestIdPolicy::default()).expect("empty");
        assert_eq!(a.tenant, None, "empty is unresolved");
    }

    #[test]
    fn classifies_opensearch_paths() {
        let c = |m: Method, p: &str| classify(&m, p);
        assert_eq!(
            c(Method::GET, "/orders/_search"),
            ("orders".into(), EndpointKind::Search)
        );
        assert_eq!(
            c(Method::POST, "/orders/_doc"),
            ("orders".into(), EndpointKind::IngestDoc)
        );
        assert_eq!(
            c(Method::GET, "/orders/_doc/7"),
            ("orders".into(), EndpointKind::GetById)
        );
        assert_eq!(
            c(Method::DELETE, "/orders/_doc/7"),
            ("orders".into(), EndpointKind::DeleteById)
        );
        assert_eq!(
            c(Method::POST, "/_bulk"),
            ("".into(), EndpointKind::IngestBulk)
        );
        assert_eq!(
            c(Method::POST, "/logs/_bulk"),
            ("logs".into(), EndpointKind::IngestBulk)
        );
        assert_eq!(
            c(Method::GET, "/_search/scroll"),
            ("".into(), EndpointKind::Cursor)
        );
        assert_eq!(
            c(Method::GET, "/_cluster/health"),
            ("".into(), EndpointKind::Admin)
        );
        assert_eq!(
            c(Method::GET, "/orders"),
            ("orders".into(), EndpointKind::Unknown)
        );
        assert_eq!(
            c(Method::GET, "/orders/_count"),
            ("orders".into(), EndpointKind::Count)
        );
    }
}
