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
/// `now` (its monotonic instant) at the wall-clock time `now_ns` (unix
/// nanoseconds, the clock `set`'s expiries are on): a directive expiring
/// at `expires_at_ms` expires at `now + (expires_at_ms - now_ns)` there, so
/// both answer "expired" from the same instant on.
pub fn to_upstream(set: &DirectiveSet, now_ns: u128, now: Instant) -> Converted {
    let mut converted = Converted {
        set: osproxy_observe::DirectiveSet::new(),
        expired: 0,
        untranslatable: 0,
    };
    let mut directives = Vec::with_capacity(set.len());
    for directive in set.directives() {
        let expires_ns = u128::from(directive.expires_at_ms) * 1_000_000;
        if expires_ns <= now_ns {
            converted.expired += 1;
            continue;
        }
        let remaining = u64::try_from(expires_ns - now_ns).unwrap_or(u64::MAX);
        match translate(directive, Duration::from_nanos(remaining), now) {
            Some(d) => directives.push(d),
            None => converted.untranslatable += 1,
        }
    }
    converted.set = osproxy_observe::DirectiveSet::from_directives(directives);
    converted
}

fn translate(d: &Directive, remaining: Duration, now: Instant) -> Option<DiagnosticsDirective> {
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
        let converted = to_upstream(&set, 1_000_000_000, ManualClock::new().now());
        assert_eq!(converted.untranslatable, 0);
        assert_eq!(converted.set.len(), 48);
    }

    #[test]
    fn expired_directives_are_left_out() {
        let doc = br#"{"published_at":0,"directives":[
            {"id":"old","level":"Shape","ttl_secs":1},
            {"id":"new","level":"Shape","ttl_secs":60}]}"#;
        let set = decode(doc, 1_000, &Limits::default()).expect("valid");
        let converted = to_upstream(&set, 1_000_000_000, ManualClock::new().now());
        assert_eq!((converted.expired, converted.set.len()), (1, 1));
    }

    #[test]
    fn expiry_lands_on_the_same_instant_on_a_clock_with_another_epoch() {
        use osproxy_core::{EndpointKind as Kind, PrincipalId, RequestId};
        use osproxy_observe::{DiagLevel as Level, RequestAttrs};
        use std::time::Duration;

        // Expires at 61 s (unix); converted at 1.000123456 s, on a pipeline
        // clock whose monotonic reading is then 777,777 ns.
        let doc =
            br#"{"published_at":1000,"directives":[{"id":"a","level":"Shape","ttl_secs":60}]}"#;
        let set = decode(doc, 1_000, &Limits::default()).expect("valid");
        let clock = ManualClock::new();
        clock.advance(Duration::from_nanos(777_777));
        let converted_at: u128 = 1_000_123_456;
        let upstream = to_upstream(&set, converted_at, clock.now()).set;
        let principal = PrincipalId::from(String::new());
        let attrs = RequestAttrs {
            tenant: None,
            index: "",
            principal: &principal,
            endpoint: Kind::Search,
        };
        let id = RequestId::from("r".to_owned());
        let level_at = |wall_ns: u128| {
            let since = u64::try_from(wall_ns - converted_at).expect("fits");
            let at = clock.now().saturating_add(Duration::from_nanos(since));
            upstream.evaluate(&attrs, at, &id)
        };
        assert_eq!(level_at(61_000_000_000 - 1), Level::Shape);
        assert_eq!(
            level_at(61_000_000_000),
            Level::Off,
            "expired exactly at 61 s"
        );
    }
}
