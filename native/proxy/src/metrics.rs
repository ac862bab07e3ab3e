//! The proxy integration's one metric: decisions by level and by whether
//! ring buffer and capture apply (ADR 0012), through the `metrics` facade.
//!
//! There are only 16 possible decisions, so the hook resolves all 16
//! counters when it is built and a request costs one array index and one
//! atomic add: no label hashing, no registry lookup, no allocation. Build
//! hooks after installing the recorder (counters resolved before are
//! no-ops). The per-request hook time is deliberately not recorded: two
//! clock reads and a histogram insert would cost more than the decision
//! itself (BENCHMARKS.md, "Proxy overhead").

use directive_core::{Decision, DiagLevel};
use metrics::{counter, Counter, Label};

/// `directive_proxy_decisions_total{level, ring_buffer, capture}`.
pub const DECISIONS: &str = "directive_proxy_decisions_total";

const LEVELS: [DiagLevel; 4] = [
    DiagLevel::Off,
    DiagLevel::Shape,
    DiagLevel::ShapeTiming,
    DiagLevel::ShapeRewriteDiff,
];

/// Registers the description.
pub fn describe() {
    metrics::describe_counter!(
        DECISIONS,
        "per-request diagnostics decisions, by level and whether ring buffer and capture apply"
    );
}

/// The 16 decision counters, resolved once.
#[derive(Clone, Debug)]
pub(crate) struct DecisionCounters {
    counters: Vec<Counter>,
}

impl DecisionCounters {
    /// Every counter, each with `labels` plus its own.
    pub(crate) fn new(labels: &[Label]) -> Self {
        let mut counters = Vec::with_capacity(16);
        for level in LEVELS {
            for ring in [false, true] {
                for capture in [false, true] {
                    let mut l = labels.to_vec();
                    l.push(Label::new("level", level.as_str()));
                    l.push(Label::new(
                        "ring_buffer",
                        if ring { "true" } else { "false" },
                    ));
                    l.push(Label::new(
                        "capture",
                        if capture { "true" } else { "false" },
                    ));
                    counters.push(counter!(DECISIONS, l));
                }
            }
        }
        DecisionCounters { counters }
    }

    /// Counts one decision.
    #[inline]
    pub(crate) fn count(&self, decision: &Decision) {
        let level = LEVELS
            .iter()
            .position(|l| *l == decision.level)
            .unwrap_or(0);
        let index =
            level * 4 + usize::from(decision.ring_buffer) * 2 + usize::from(decision.capture);
        if let Some(counter) = self.counters.get(index) {
            counter.increment(1);
        }
    }
}
