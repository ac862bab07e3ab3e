//! The simulated etcd: one key's revisions (with the store-wide revision
//! counter that other keys' writes also move), compaction, and the
//! documents a publisher writes.

use directive_core::{decode, Limits};

/// One write of the key: a value, or a delete (`None`).
#[derive(Clone, Debug)]
pub struct Write {
    pub mod_revision: i64,
    pub value: Option<Vec<u8>>,
    /// True time of the write (ms).
    pub at: u64,
}

/// The key's whole history and the store's revision.
#[derive(Debug, Default)]
pub struct Etcd {
    pub revision: i64,
    pub compacted: i64,
    pub writes: Vec<Write>,
}

impl Etcd {
    pub fn put(&mut self, value: Option<Vec<u8>>, at: u64) {
        self.revision += 1;
        self.writes.push(Write {
            mod_revision: self.revision,
            value,
            at,
        });
    }

    /// A write to another key: moves the revision, not the key.
    pub fn other_key(&mut self) {
        self.revision += 1;
    }

    /// Compacts everything below the newest `keep` revisions.
    pub fn compact(&mut self, keep: i64) {
        self.compacted = self.compacted.max(self.revision - keep).max(0);
    }

    /// The key's latest write at or before `revision`.
    pub fn at(&self, revision: i64) -> Option<&Write> {
        self.writes
            .iter()
            .rev()
            .find(|w| w.mod_revision <= revision)
    }

    /// The newest write at or before true time `t` that a store must end
    /// up applying (a valid value or a delete; malformed ones are skipped),
    /// among writes after `floor`.
    pub fn newest_applicable(&self, t: u64, floor: i64) -> Option<&Write> {
        self.writes
            .iter()
            .rev()
            .filter(|w| w.at <= t && w.mod_revision > floor)
            .find(|w| w.value.as_deref().is_none_or(is_valid))
    }

    /// The key's newest mod revision written at or before true time `t`.
    pub fn latest_mod_revision(&self, t: u64) -> i64 {
        self.writes
            .iter()
            .rev()
            .find(|w| w.at <= t)
            .map_or(0, |w| w.mod_revision)
    }
}

pub fn is_valid(value: &[u8]) -> bool {
    decode(value, 0, &Limits::default()).is_ok()
}

/// The documents a simulated publisher writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Doc {
    /// `n` directives, unstamped.
    Valid(u8),
    /// `n` directives, stamped at `published_at` (wall ms).
    Stamped(u8, u64),
    /// A document every instance refuses.
    Malformed(u8),
}

impl Doc {
    pub fn bytes(self) -> Vec<u8> {
        let list = |n: u8| {
            (0..n.max(1))
                .map(|i| {
                    format!(
                        r#"{{"id":"d{i}","level":"Shape","ttl_secs":{}}}"#,
                        60 + u32::from(i) * 30
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Doc::Valid(n) => format!(r#"{{"directives":[{}]}}"#, list(n)).into_bytes(),
            Doc::Stamped(n, at) => {
                format!(r#"{{"directives":[{}],"published_at":{at}}}"#, list(n)).into_bytes()
            }
            Doc::Malformed(kind) => match kind % 3 {
                0 => b"{\"directives\":[".to_vec(),
                1 => br#"{"directives":[{"id":"x","level":"Nope","ttl_secs":60}]}"#.to_vec(),
                _ => br#"{"directives":[],"bogus":true}"#.to_vec(),
            },
        }
    }
}
