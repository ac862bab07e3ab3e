//! What a request tells the evaluator, and what the evaluator answers.

use serde::Serialize;

use crate::{DiagLevel, EndpointKind};

/// The attributes of one request, borrowed from the proxy's own request state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The resolved tenant, or `None` while it is not known.
    pub tenant: Option<&'a str>,
    /// The logical index.
    pub index: &'a str,
    /// The authenticated principal.
    pub principal: &'a str,
    /// The endpoint class.
    pub endpoint: EndpointKind,
    /// The request id, which decides sampling.
    pub request_id: &'a str,
}

/// What applies to one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The highest level among the applying directives (`Off` when none).
    pub level: DiagLevel,
    /// Whether any applying directive asks for ring-buffer capture.
    pub ring_buffer: bool,
    /// Whether any applying directive asks for traffic capture.
    pub capture: bool,
}

impl Decision {
    /// True when nothing beyond the default applies.
    pub fn is_off(&self) -> bool {
        *self == Decision::default()
    }

    /// Folds another decision in: the higher level, the union of flags.
    pub fn merge(&mut self, other: Decision) {
        self.level = self.level.max(other.level);
        self.ring_buffer |= other.ring_buffer;
        self.capture |= other.capture;
    }
}

/// A decision together with the ids of the directives that produced it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The highest level among the applying directives.
    pub level: DiagLevel,
    /// Whether any applying directive asks for ring-buffer capture.
    pub ring_buffer: bool,
    /// Whether any applying directive asks for traffic capture.
    pub capture: bool,
    /// Ids of the applying directives, in set order.
    pub matched: Vec<String>,
}
