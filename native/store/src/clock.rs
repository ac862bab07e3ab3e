//! The one place the native shell reads the wall clock.
//!
//! `directive-core` takes time as a parameter; this module supplies it as
//! unix milliseconds. A clock before 1970 reads as 0 rather than failing: an
//! instance with a broken clock then sees every directive as unexpired for
//! its full TTL from a zero anchor, which (with stamped sets) is still
//! bounded by the stamp.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in unix milliseconds.
pub fn now_ms() -> u64 {
    u64::try_from(now_ns() / 1_000_000).unwrap_or(u64::MAX)
}

/// Now, in unix nanoseconds (for converting expiries to another clock
/// without rounding them later).
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
