//! Everything measured against the published upstream (issue 16), in one
//! test binary: the decoder differential ([`decoder`]), the adapter's
//! decisions against this project's ([`adapter`]), and a mixed fleet of
//! upstream and adapter-backed stores on a real etcd ([`fleet`]).

mod adapter;
mod decoder;
mod fleet;

use std::time::Duration;

use directive_core::{Decision, DirectiveSet};
use directive_vectors::generate::{self, Rng};
use directive_vectors::RequestSpec;
use osproxy_core::{Clock, ManualClock, PartitionId, PrincipalId, RequestId};
use osproxy_observe::RequestAttrs;

/// The upstream's decision for `spec` at `now`, in this project's terms.
pub fn upstream_decision(
    set: &osproxy_observe::DirectiveSet,
    spec: &RequestSpec,
    now: osproxy_core::Instant,
) -> Decision {
    let tenant = spec.tenant.clone().map(PartitionId::from);
    let principal = PrincipalId::from(spec.principal.clone());
    let endpoint =
        osproxy_core::EndpointKind::from_name(&spec.endpoint).expect("corpus endpoint names");
    let attrs = RequestAttrs {
        tenant: tenant.as_ref(),
        index: &spec.index,
        principal: &principal,
        endpoint,
    };
    let id = RequestId::from(spec.request_id.clone());
    Decision {
        level: directive_core::DiagLevel::from_name(set.evaluate(&attrs, now, &id).as_str())
            .expect("same level names"),
        ring_buffer: set.wants_ring_buffer(&attrs, now, &id),
        capture: set.wants_capture(&attrs, now, &id),
    }
}

/// This project's decision for `spec` at `now_ms`.
pub fn our_decision(set: &DirectiveSet, spec: &RequestSpec, now_ms: u64) -> Decision {
    set.evaluate(&spec.as_request().expect("valid request"), now_ms)
}

/// Requests worth asking a set: for each directive (up to 8) one that its
/// target matches, with a fresh request id, plus 4 drawn at random.
pub fn requests_for(set: &DirectiveSet, rng: &mut Rng) -> Vec<RequestSpec> {
    let mut out = Vec::new();
    for d in set.directives().iter().take(8) {
        let mut spec = RequestSpec::from_json(&generate::request(rng)).expect("generated");
        if let Some(t) = &d.target.tenant {
            spec.tenant = Some(t.clone());
        }
        if let Some(i) = &d.target.index {
            spec.index = i.clone();
        }
        if let Some(p) = &d.target.principal {
            spec.principal = p.clone();
        }
        if let Some(e) = d.target.endpoint {
            spec.endpoint = e.as_str().to_owned();
        }
        out.push(spec);
    }
    for _ in 0..4 {
        out.push(RequestSpec::from_json(&generate::request(rng)).expect("generated"));
    }
    out
}

/// `from` and the instants around every expiry after it, ascending.
pub fn times_around_expiries(set: &DirectiveSet, from: u64) -> Vec<u64> {
    let mut times = vec![from];
    for d in set.directives() {
        let e = d.expires_at_ms;
        times.extend([e.saturating_sub(1), e, e.saturating_add(1)]);
    }
    times.retain(|t| *t >= from);
    times.sort_unstable();
    times.dedup();
    times.truncate(24);
    times
}

/// A manual clock reading `ms` unix milliseconds (and `ms` on its
/// monotonic scale, which starts at 0).
pub fn clock_at(ms: u64) -> ManualClock {
    let clock = ManualClock::new();
    clock.advance(Duration::from_millis(ms));
    debug_assert_eq!(clock.unix_nanos(), ms * 1_000_000);
    clock
}
