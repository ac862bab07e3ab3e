//! Reconnect delays: exponential, capped, with full jitter.
//!
//! Pure arithmetic; the caller supplies the randomness, so the schedule is
//! testable and the core stays free of clocks and RNGs. Full jitter (a
//! uniform delay between zero and the exponential ceiling) spreads a fleet's
//! reconnects after an etcd blip instead of having every instance retry in
//! step, which the upstream's fixed one-second delay did.

use serde::{Deserialize, Serialize};

/// A backoff schedule. Defaults follow Kubernetes' informers: 800 ms,
/// doubling, capped at 30 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// Ceiling of the first retry's delay.
    pub initial_ms: u64,
    /// Largest ceiling.
    pub max_ms: u64,
    /// Draw each delay uniformly from `0..=ceiling` instead of using the ceiling.
    pub full_jitter: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_ms: 800,
            max_ms: 30_000,
            full_jitter: true,
        }
    }
}

impl Backoff {
    /// The ceiling for retry number `attempt` (0 for the first retry).
    pub fn ceiling_ms(&self, attempt: u32) -> u64 {
        let factor = 1u64.checked_shl(attempt.min(63)).unwrap_or(u64::MAX);
        self.initial_ms.saturating_mul(factor).min(self.max_ms)
    }

    /// The delay for retry number `attempt`, given any uniformly random `u64`.
    pub fn delay_ms(&self, attempt: u32, random: u64) -> u64 {
        let ceiling = self.ceiling_ms(attempt);
        if self.full_jitter {
            random % ceiling.saturating_add(1)
        } else {
            ceiling
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;

    #[test]
    fn doubles_to_the_cap() {
        let b = Backoff::default();
        let ceilings: Vec<u64> = (0..8).map(|a| b.ceiling_ms(a)).collect();
        assert_eq!(
            ceilings,
            [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
        );
        assert_eq!(b.ceiling_ms(u32::MAX), 30_000);
    }

    #[test]
    fn jitter_stays_within_the_ceiling() {
        let b = Backoff::default();
        for r in [0, 1, 799, 800, 801, u64::MAX] {
            assert!(b.delay_ms(0, r) <= 800);
        }
        let fixed = Backoff {
            full_jitter: false,
            ..b
        };
        assert_eq!(fixed.delay_ms(1, 12345), 1600);
    }
}
