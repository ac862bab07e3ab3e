//! The bounds every decoder in the fleet enforces.
//!
//! One value, one set of defaults, used by the CLI, the HTTP API, the etcd
//! store and the browser alike, so a document that one surface accepts is
//! accepted everywhere. The defaults are chosen for etcd: its default request
//! limit is 1.5 MiB, so a 1 MiB document always fits in one put with room for
//! the key and the transaction around it.

use serde::{Deserialize, Serialize};

/// Decoder limits. Construct with [`Limits::default`] and adjust fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted document, in bytes. Default 1 MiB.
    pub max_bytes: usize,
    /// Most directives in one set. Default 10,000.
    pub max_directives: usize,
    /// Longest `ttl_secs`. Default 604,800 (7 days): a forgotten "on" dies within a week.
    pub max_ttl_secs: u64,
    /// Longest `id`, in bytes. Default 128.
    pub max_id_len: usize,
    /// Longest `tenant`, `index` or `principal`, in bytes. Default 256.
    pub max_target_len: usize,
    /// Most errors listed in one report before `too_many_errors`. Default 100.
    pub max_errors: usize,
}

impl Limits {
    /// The defaults, as a constant.
    pub const DEFAULT: Limits = Limits {
        max_bytes: 1024 * 1024,
        max_directives: 10_000,
        max_ttl_secs: 7 * 24 * 60 * 60,
        max_id_len: 128,
        max_target_len: 256,
        max_errors: 100,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
