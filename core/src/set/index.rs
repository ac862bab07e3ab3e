//! The target index: from a request to the few directives that could apply.
//!
//! Each directive is filed once, under its most selective set field (tenant,
//! then principal, then index, then endpoint; a directive with none is a
//! wildcard). A request looks up its own tenant, principal, index and
//! endpoint and scans only those postings plus the wildcards, so the cost is
//! proportional to the candidates, not to the set. Within each posting list
//! directives are sorted by expiry, latest first, so a scan stops at the first
//! expired entry: expired directives cost nothing.
//!
//! String keys are stored as 64-bit FNV-1a hashes. A collision only adds a
//! candidate, which the full target check then rejects, so correctness never
//! depends on the hash; it saves a copy of every target string.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::sampling::fnv1a64;
use crate::{Directive, EndpointKind};

/// A hasher for keys that are already hashes.
#[derive(Default)]
pub(crate) struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are used; fold anything else for completeness.
        self.0 = fnv1a64(bytes);
    }
    fn write_u64(&mut self, n: u64) {
        // Spread FNV's weaker low bits into the high bits hashbrown uses for its tags.
        self.0 = n ^ (n >> 29) ^ n.rotate_left(31);
    }
}

type Postings = HashMap<u64, (u32, u32), BuildHasherDefault<PreHashed>>;

/// Which posting list a directive is filed under.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Tenant(u64),
    Principal(u64),
    Index(u64),
    Endpoint(usize),
    Wildcard,
}

fn key_of(d: &Directive) -> Key {
    let t = &d.target;
    if let Some(tenant) = &t.tenant {
        Key::Tenant(fnv1a64(tenant.as_bytes()))
    } else if let Some(p) = &t.principal {
        Key::Principal(fnv1a64(p.as_bytes()))
    } else if let Some(i) = &t.index {
        Key::Index(fnv1a64(i.as_bytes()))
    } else if let Some(e) = t.endpoint {
        Key::Endpoint(e.slot())
    } else {
        Key::Wildcard
    }
}

/// Posting lists over one shared array of directive positions.
#[derive(Clone, Debug, Default)]
pub(crate) struct Index {
    /// Directive positions, grouped by posting list, each group latest-expiry first.
    entries: Vec<u32>,
    tenant: Postings,
    principal: Postings,
    index: Postings,
    endpoint: [(u32, u32); 12],
    wildcard: (u32, u32),
}

impl Index {
    pub(crate) fn build(directives: &[Directive]) -> Index {
        let mut keyed: Vec<(Key, std::cmp::Reverse<u64>, u32)> = directives
            .iter()
            .enumerate()
            .map(|(pos, d)| (key_of(d), std::cmp::Reverse(d.expires_at_ms), pos as u32))
            .collect();
        keyed.sort_unstable();
        let mut index = Index {
            entries: keyed.iter().map(|k| k.2).collect(),
            ..Index::default()
        };
        let mut start = 0usize;
        while start < keyed.len() {
            let key = keyed[start].0;
            let end = start + keyed[start..].iter().take_while(|k| k.0 == key).count();
            let range = (start as u32, end as u32);
            match key {
                Key::Tenant(h) => {
                    index.tenant.insert(h, range);
                }
                Key::Principal(h) => {
                    index.principal.insert(h, range);
                }
                Key::Index(h) => {
                    index.index.insert(h, range);
                }
                Key::Endpoint(slot) => index.endpoint[slot] = range,
                Key::Wildcard => index.wildcard = range,
            }
            start = end;
        }
        index
    }

    /// Calls `visit` with each candidate list for a request, in no particular order.
    #[inline]
    pub(crate) fn candidates<'a>(
        &'a self,
        tenant: Option<&str>,
        principal: &str,
        index: &str,
        endpoint: EndpointKind,
        mut visit: impl FnMut(&'a [u32]) -> bool,
    ) {
        let lists = [
            tenant.and_then(|t| lookup(&self.tenant, t)),
            lookup(&self.principal, principal),
            lookup(&self.index, index),
            Some(self.endpoint[endpoint.slot()]),
            Some(self.wildcard),
        ];
        for (start, end) in lists.into_iter().flatten() {
            if start < end && !visit(&self.entries[start as usize..end as usize]) {
                return;
            }
        }
    }
}

#[inline]
fn lookup(postings: &Postings, key: &str) -> Option<(u32, u32)> {
    if postings.is_empty() {
        return None;
    }
    postings.get(&fnv1a64(key.as_bytes())).copied()
}
