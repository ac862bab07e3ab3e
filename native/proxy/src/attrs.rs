//! Request attributes from an HTTP request, OpenSearch-style.
//!
//! The mapping is the example proxy's convention, not part of the directive
//! format: tenant from `x-tenant` (absent = unresolved), principal from
//! `x-principal`, request id from `x-request-id` (or generated), and the
//! index and endpoint kind from the path, the way an OpenSearch proxy would
//! classify `/{index}/_search`, `/{index}/_doc/{id}`, `/_bulk` and so on.

use directive_core::{EndpointKind, Request};
use http::Method;

/// Header carrying the resolved tenant.
pub const TENANT_HEADER: &str = "x-tenant";
/// Header carrying the authenticated principal.
pub const PRINCIPAL_HEADER: &str = "x-principal";
/// Header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest client request id accepted; a longer one is replaced by a
/// generated id (it is reflected in the response and logged).
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A client's request id is used only when it is 1 to
/// [`MAX_REQUEST_ID_LEN`] bytes of visible ASCII.
fn is_acceptable_request_id(id: &str) -> bool {
    id.len() <= MAX_REQUEST_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
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
    /// Request id.
    pub request_id: String,
}

impl RequestAttrs {
    /// Reads the attributes of `req`; `new_id` supplies an id when the
    /// request has none.
    pub fn from_http<B>(req: &http::Request<B>, new_id: impl FnOnce() -> String) -> Self {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        // The normalised path is what the proxy forwards (see `path`); a
        // raw path that cannot be normalised is classified as it is.
        let path = crate::path::normalize(req.uri().path())
            .map_or_else(|_| req.uri().path().to_owned(), |p| p.decoded);
        let (index, endpoint) = classify(req.method(), &path);
        RequestAttrs {
            tenant: header(TENANT_HEADER),
            index,
            principal: header(PRINCIPAL_HEADER).unwrap_or_else(|| "anonymous".into()),
            endpoint,
            request_id: header(REQUEST_ID_HEADER)
                .filter(|id| is_acceptable_request_id(id))
                .unwrap_or_else(new_id),
        }
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

    #[test]
    fn oversized_or_odd_request_ids_are_replaced() {
        let with_id = |id: &str| {
            let req = http::Request::builder()
                .uri("/orders/_search")
                .header(REQUEST_ID_HEADER, id)
                .body(())
                .expect("request");
            RequestAttrs::from_http(&req, || "generated".into()).request_id
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
