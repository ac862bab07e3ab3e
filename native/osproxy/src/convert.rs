//! One applied set, in the upstream's types.
//!
//! Everything the upstream evaluates is carried over as it is here: the
//! target (an unset field is a wildcard on both sides), the level, the
//! sample rate (both sample on the same unsalted FNV-1a bucket of the
//! request id), the two flags. Only the expiry changes form: an absolute
//! unix-millisecond instant here, an `osproxy_core::Instant` (monotonic,
//! process-local) there, so it is converted against one reading of the
//! pipeline's clock. A directive that has already expired is left out (the
//! upstream would scan it on every request and never apply it again).

use std::time::Duration;

use directive_core::{Directive, DirectiveSet};
use osproxy_core::{EndpointKind, IndexName, Instant, PartitionId, PrincipalId};
use osproxy_observe::{DiagLevel, DiagnosticsDirective, DirectiveMatch};

/// The converted set and what was left out of it.
#[derive(Debug)]
pub struct Converted {
    /// The directives still in force at the conversion, in the set's order.
    pub set: osproxy_observe::DirectiveSet,
    /// How many had already expired.
    pub expired: usize,
    /// How many name a level or endpoint the upstream does not know (none
    /// today: the vocabularies are the same); left out rather than widened.
    pub untranslatable: usize,
}

/// `set` as the upstream's `DirectiveSet`, for a pipeline whose clock reads
/// `now` (its monotonic instant) at the wall-clock time `now_ms` (unix
/// milliseconds): a directive expiring at `expires_at_ms` expires at
/// `now + (expires_at_ms - now_ms)` there.
pub fn to_upstream(set: &DirectiveSet, now_ms: u64, now: Instant) -> Converted {
    let mut converted = Converted {
        set: osproxy_observe::DirectiveSet::new(),
        expired: 0,
        untranslatable: 0,
    };
    let mut directives = Vec::with_capacity(set.len());
    for directive in set.directives() {
        if directive.expires_at_ms <= now_ms {
            converted.expired += 1;
            continue;
        }
        match translate(directive, now_ms, now) {
            Some(d) => directives.push(d),
            None => converted.untranslatable += 1,
        }
    }
    converted.set = osproxy_observe::DirectiveSet::from_directives(directives);
    converted
}

fn translate(d: &Directive, now_ms: u64, now: Instant) -> Option<DiagnosticsDirective> {
    let mut target = DirectiveMatch::all();
    if let Some(tenant) = &d.target.tenant {
        target = target.for_tenant(PartitionId::from(tenant.clone()));
    }
    if let Some(index) = &d.target.index {
        target = target.for_index(IndexName::from(index.clone()));
    }
    if let Some(principal) = &d.target.principal {
        target = target.for_principal(PrincipalId::from(principal.clone()));
    }
    if let Some(endpoint) = d.target.endpoint {
        target = target.for_endpoint(EndpointKind::from_name(endpoint.as_str())?);
    }
    let remaining = Duration::from_millis(d.expires_at_ms.saturating_sub(now_ms));
    Some(DiagnosticsDirective {
        id: d.id.clone(),
        match_: target,
        level: DiagLevel::from_name(d.level.as_str())?,
        sample_per_mille: d.sample_per_mille,
        expires_at: now.saturating_add(remaining),
        ring_buffer: d.ring_buffer,
        capture: d.capture,
    })
}

#[cfg(test)]
mod tests {
    use super::to_upstream;
    use directive_core::{decode, DiagLevel, EndpointKind, Limits};
    use osproxy_core::{Clock, ManualClock};

    #[test]
    fn every_level_and_endpoint_translates() {
        let mut directives = Vec::new();
        for (i, level) in DiagLevel::ALL.iter().enumerate() {
            for (j, endpoint) in EndpointKind::ALL.iter().enumerate() {
                directives.push(format!(
                    r#"{{"id":"d{i}-{j}","level":"{level}","ttl_secs":60,"endpoint":"{}"}}"#,
                    endpoint.as_str()
                ));
            }
        }
        let doc = format!(r#"{{"directives":[{}]}}"#, directives.join(","));
        let set = decode(doc.as_bytes(), 1_000, &Limits::default()).expect("valid");
        let converted = to_upstream(&set, 1_000, ManualClock::new().now());
        assert_eq!(converted.untranslatable, 0);
        assert_eq!(converted.set.len(), 48);
    }

    #[test]
    fn expired_directives_are_left_out() {
        let doc = br#"{"published_at":0,"directives":[
            {"id":"old","level":"Shape","ttl_secs":1},
            {"id":"new","level":"Shape","ttl_secs":60}]}"#;
        let set = decode(doc, 1_000, &Limits::default()).expect("valid");
        let converted = to_upstream(&set, 1_000, ManualClock::new().now());
        assert_eq!((converted.expired, converted.set.len()), (1, 1));
    }
}
