//! The per-request hook: one snapshot load, one evaluation.
//!
//! [`Hook`] is the seam a proxy calls on every request. [`DirectiveHook`]
//! reads the store's current snapshot (an `arc-swap` guard: one atomic load,
//! no lock, no I/O) and evaluates; [`NoHook`] compiles the whole thing out,
//! which is the baseline the overhead benchmark compares against.

use directive_core::{Decision, DiagLevel, Request};

use crate::attrs::RequestAttrs;

use directive_etcd::clock::now_ms;
use directive_etcd::DirectiveStore;

use crate::metrics::DecisionCounters;

/// The response header that reports the decision.
pub const HEADER: &str = "x-diagnostics";

/// Decides what diagnostics a request gets.
pub trait Hook: Send + Sync + 'static {
    /// The decision for `request`, or `None` when the hook is disabled.
    fn decide(&self, request: &Request<'_>) -> Option<Decision>;
}

/// Reads directives from a store, and counts its decisions
/// ([`crate::metrics::DECISIONS`]).
#[derive(Clone, Debug)]
pub struct DirectiveHook<S> {
    store: S,
    counters: DecisionCounters,
}

impl<S> DirectiveHook<S> {
    /// A hook over `store` (anything that implements [`DirectiveStore`]).
    pub fn new(store: S) -> Self {
        Self::labelled(store, &[])
    }

    /// A hook whose decision counters carry `labels` too (e.g. the
    /// instance, when several proxies share one process).
    pub fn labelled(store: S, labels: &[(&str, &str)]) -> Self {
        let labels: Vec<metrics::Label> = labels
            .iter()
            .map(|(k, v)| metrics::Label::new((*k).to_owned(), (*v).to_owned()))
            .collect();
        DirectiveHook {
            store,
            counters: DecisionCounters::new(&labels),
        }
    }
}

impl<S: DirectiveStore + 'static> Hook for DirectiveHook<S> {
    #[inline]
    fn decide(&self, request: &Request<'_>) -> Option<Decision> {
        let decision = decide(&self.store, request, now_ms());
        self.counters.count(&decision);
        Some(decision)
    }
}

/// The baseline: no directives at all.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHook;

impl Hook for NoHook {
    #[inline]
    fn decide(&self, _: &Request<'_>) -> Option<Decision> {
        None
    }
}

/// The decision for one request from `store`'s current snapshot at `now_ms`.
#[inline]
pub fn decide<S: DirectiveStore + ?Sized>(
    store: &S,
    request: &Request<'_>,
    now_ms: u64,
) -> Decision {
    store.load().set.evaluate(request, now_ms)
}

/// `ShapeTiming; ring=0; capture=1`: the decision as a header value.
///
/// There are only 16 possible decisions, so the values are static strings:
/// reporting the decision costs the proxy no allocation per request.
pub fn header_value(decision: &Decision) -> &'static str {
    const VALUES: [[&str; 4]; 4] = [
        [
            "Off; ring=0; capture=0",
            "Off; ring=0; capture=1",
            "Off; ring=1; capture=0",
            "Off; ring=1; capture=1",
        ],
        [
            "Shape; ring=0; capture=0",
            "Shape; ring=0; capture=1",
            "Shape; ring=1; capture=0",
            "Shape; ring=1; capture=1",
        ],
        [
            "ShapeTiming; ring=0; capture=0",
            "ShapeTiming; ring=0; capture=1",
            "ShapeTiming; ring=1; capture=0",
            "ShapeTiming; ring=1; capture=1",
        ],
        [
            "ShapeRewriteDiff; ring=0; capture=0",
            "ShapeRewriteDiff; ring=0; capture=1",
            "ShapeRewriteDiff; ring=1; capture=0",
            "ShapeRewriteDiff; ring=1; capture=1",
        ],
    ];
    let flags = usize::from(decision.ring_buffer) * 2 + usize::from(decision.capture);
    VALUES[decision.level as usize][flags]
}

/// A span at the decided level: more detail, more verbose. `Off` (or no
/// hook) gets a disabled span, which costs nothing.
pub(crate) fn diagnostics_span(decision: Option<&Decision>, attrs: &RequestAttrs) -> tracing::Span {
    let endpoint = attrs.endpoint.as_str();
    let id = attrs.request_id.as_str();
    match decision.map(|d| d.level) {
        Some(DiagLevel::Shape) => {
            tracing::info_span!("diagnostics", level = "Shape", endpoint, request_id = id)
        }
        Some(DiagLevel::ShapeTiming) => {
            tracing::debug_span!(
                "diagnostics",
                level = "ShapeTiming",
                endpoint,
                request_id = id
            )
        }
        Some(DiagLevel::ShapeRewriteDiff) => {
            tracing::trace_span!(
                "diagnostics",
                level = "ShapeRewriteDiff",
                endpoint,
                request_id = id
            )
        }
        _ => tracing::Span::none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use directive_core::DiagLevel;

    #[test]
    fn every_header_value_spells_out_its_decision() {
        for level in DiagLevel::ALL {
            for ring_buffer in [false, true] {
                for capture in [false, true] {
                    let d = Decision {
                        level,
                        ring_buffer,
                        capture,
                    };
                    let want = format!(
                        "{level}; ring={}; capture={}",
                        u8::from(ring_buffer),
                        u8::from(capture)
                    );
                    assert_eq!(header_value(&d), want);
                }
            }
        }
    }

    #[test]
    fn header_format() {
        let d = Decision {
            level: DiagLevel::ShapeTiming,
            ring_buffer: false,
            capture: true,
        };
        assert_eq!(header_value(&d), "ShapeTiming; ring=0; capture=1");
    }
}
