//! A decoded directive set: the directives in publish order, their common
//! anchor, and the target index that makes evaluation cheap.
//!
//! A set is immutable once built; the fleet swaps whole sets atomically, so a
//! request sees either the old set or the new one, never a mix.

mod encode;
pub(crate) use encode::WireDirective;
mod index;

use crate::{Decision, Directive, Explanation, Request};
use index::Index;

/// An immutable, indexed set of directives.
#[derive(Clone, Debug, Default)]
pub struct DirectiveSet {
    directives: Vec<Directive>,
    anchor_ms: u64,
    stamped: bool,
    index: Index,
}

impl PartialEq for DirectiveSet {
    fn eq(&self, other: &Self) -> bool {
        // The index is derived from the directives.
        self.directives == other.directives
            && self.anchor_ms == other.anchor_ms
            && self.stamped == other.stamped
    }
}

impl Eq for DirectiveSet {}

impl DirectiveSet {
    /// The empty set: nothing applies to anything.
    pub fn empty() -> Self {
        DirectiveSet::default()
    }

    /// Builds a set from directives whose `ttl_secs` count from `anchor_ms`;
    /// each directive's `expires_at_ms` is recomputed from them.
    ///
    /// `stamped` records whether the anchor came from a `published_at` stamp.
    /// Ids are expected to be unique (the decoder guarantees it); a set with
    /// duplicate ids still evaluates correctly but does not re-decode.
    pub fn new(mut directives: Vec<Directive>, anchor_ms: u64, stamped: bool) -> Self {
        // The decoder grows the vector by doubling; a set lives long, so give
        // back the slack (up to half its size) once.
        directives.shrink_to_fit();
        for d in &mut directives {
            d.expires_at_ms = anchor_ms.saturating_add(d.ttl_secs.saturating_mul(1000));
        }
        let index = Index::build(&directives);
        DirectiveSet {
            directives,
            anchor_ms,
            stamped,
            index,
        }
    }

    /// The directives, in the order they were published (expired ones included).
    pub fn directives(&self) -> &[Directive] {
        &self.directives
    }

    /// Number of directives held, expired ones included.
    pub fn len(&self) -> usize {
        self.directives.len()
    }

    /// True when the set holds no directive.
    pub fn is_empty(&self) -> bool {
        self.directives.is_empty()
    }

    /// The instant (unix ms) every `ttl_secs` counts from.
    pub fn anchor_ms(&self) -> u64 {
        self.anchor_ms
    }

    /// True when the document carried a `published_at` stamp.
    pub fn is_stamped(&self) -> bool {
        self.stamped
    }

    /// Number of directives still in force at `now_ms`.
    pub fn active_count(&self, now_ms: u64) -> usize {
        self.directives
            .iter()
            .filter(|d| now_ms < d.expires_at_ms)
            .count()
    }

    /// The earliest expiry still ahead of `now_ms`, if any: when the decision
    /// for some request may next change without a publish.
    pub fn next_expiry_ms(&self, now_ms: u64) -> Option<u64> {
        self.directives
            .iter()
            .map(|d| d.expires_at_ms)
            .filter(|&e| e > now_ms)
            .min()
    }

    /// What applies to `request` at `now_ms`: the highest applying level and
    /// the union of the applying directives' flags. Cost is proportional to
    /// the directives filed under the request's tenant, principal, index and
    /// endpoint, plus the wildcards, and expired ones are never visited.
    #[inline]
    pub fn evaluate(&self, request: &Request<'_>, now_ms: u64) -> Decision {
        let mut decision = Decision::default();
        let mut bucket = None;
        if self.directives.len() <= LINEAR_MAX {
            for d in &self.directives {
                if now_ms < d.expires_at_ms
                    && d.target.matches(request)
                    && sampled(d.sample_per_mille, request.request_id, &mut bucket)
                {
                    decision.level = decision.level.max(d.level);
                    decision.ring_buffer |= d.ring_buffer;
                    decision.capture |= d.capture;
                }
            }
            return decision;
        }
        self.for_each_applying(request, now_ms, &mut bucket, |d| {
            decision.level = decision.level.max(d.level);
            decision.ring_buffer |= d.ring_buffer;
            decision.capture |= d.capture;
            // Nothing can raise a saturated decision: stop scanning.
            !(decision.level == crate::DiagLevel::ShapeRewriteDiff
                && decision.ring_buffer
                && decision.capture)
        });
        decision
    }

    /// Like [`DirectiveSet::evaluate`], and also names the applying
    /// directives (in set order). Allocates; meant for tools, not the hot path.
    pub fn explain(&self, request: &Request<'_>, now_ms: u64) -> Explanation {
        let mut positions = Vec::new();
        let mut bucket = None;
        self.for_each_applying_pos(request, now_ms, &mut bucket, |pos| {
            positions.push(pos);
            true
        });
        positions.sort_unstable();
        let mut out = Explanation::default();
        for pos in positions {
            let d = &self.directives[pos as usize];
            out.level = out.level.max(d.level);
            out.ring_buffer |= d.ring_buffer;
            out.capture |= d.capture;
            out.matched.push(d.id.clone());
        }
        out
    }

    fn for_each_applying(
        &self,
        request: &Request<'_>,
        now_ms: u64,
        bucket: &mut Option<u16>,
        mut f: impl FnMut(&Directive) -> bool,
    ) {
        self.for_each_applying_pos(request, now_ms, bucket, |pos| {
            f(&self.directives[pos as usize])
        });
    }

    fn for_each_applying_pos(
        &self,
        request: &Request<'_>,
        now_ms: u64,
        bucket: &mut Option<u16>,
        mut f: impl FnMut(u32) -> bool,
    ) {
        let directives = &self.directives;
        if directives.len() <= LINEAR_MAX {
            // A handful of directives: scanning them beats hashing three keys.
            for (pos, d) in directives.iter().enumerate() {
                if now_ms < d.expires_at_ms
                    && d.target.matches(request)
                    && sampled(d.sample_per_mille, request.request_id, bucket)
                    && !f(pos as u32)
                {
                    return;
                }
            }
            return;
        }
        self.index.candidates(
            request.tenant,
            request.principal,
            request.index,
            request.endpoint,
            |list| {
                for &pos in list {
                    let d = &directives[pos as usize];
                    if now_ms >= d.expires_at_ms {
                        // Sorted latest expiry first: the rest are expired too.
                        break;
                    }
                    if d.target.matches(request)
                        && sampled(d.sample_per_mille, request.request_id, bucket)
                        && !f(pos)
                    {
                        return false;
                    }
                }
                true
            },
        );
    }
}

/// Up to this many directives, evaluation scans instead of using the index.
const LINEAR_MAX: usize = 16;

/// Sampling with the request's bucket hashed at most once per evaluation.
#[inline]
fn sampled(per_mille: u16, request_id: &str, bucket: &mut Option<u16>) -> bool {
    match per_mille {
        0 => false,
        p if p >= 1000 => true,
        p => *bucket.get_or_insert_with(|| crate::sampling::bucket(request_id)) < p,
    }
}
