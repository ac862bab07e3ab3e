//! The one request type of the test suites: the corpus's request object
//! (`{"tenant"?, "index", "principal", "endpoint", "request_id"}`), parsed
//! once here for every surface that needs a [`Request`].

use directive_core::{EndpointKind, Request};
use serde::Deserialize;
use serde_json::Value;

/// An owned request, as the corpus and the generator write it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct RequestSpec {
    /// The resolved tenant; absent or `null` when unresolved.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The index.
    #[serde(default)]
    pub index: String,
    /// The principal.
    #[serde(default)]
    pub principal: String,
    /// The endpoint's name (`Search`, `Bulk`, ...).
    pub endpoint: String,
    /// The request id (the sampling key).
    #[serde(default)]
    pub request_id: String,
}

impl RequestSpec {
    /// Parses a corpus request object.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        serde_json::from_value(value.clone()).map_err(|e| format!("bad request: {e}"))
    }

    /// The borrowed [`Request`] the core evaluates.
    pub fn as_request(&self) -> Result<Request<'_>, String> {
        let endpoint = EndpointKind::from_name(&self.endpoint)
            .ok_or("request.endpoint must be an endpoint name")?;
        Ok(Request {
            tenant: self.tenant.as_deref(),
            index: &self.index,
            principal: &self.principal,
            endpoint,
            request_id: &self.request_id,
        })
    }
}
