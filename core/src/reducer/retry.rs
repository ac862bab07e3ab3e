//! How long to wait before the next retry: the outage accounting of
//! ADR 0006 (a fast-retry window, then exponential growth, reset only after
//! a healthy period) over the [`Backoff`] arithmetic, with the jitter drawn
//! from a seeded generator so a run is reproducible.

use super::config::ReducerConfig;

/// The retry state that outlives any single connection.
#[derive(Clone, Copy, Debug)]
pub(super) struct RetryBudget {
    failures: u32,
    healthy_since: Option<u64>,
    outage_since: Option<u64>,
    rng: u64,
}

impl RetryBudget {
    pub(super) fn new(seed: u64) -> Self {
        RetryBudget {
            failures: 0,
            healthy_since: None,
            outage_since: None,
            rng: seed,
        }
    }

    /// The connection proved healthy at `now` (monotonic ms); the healthy
    /// period counts from the first such proof after a failure.
    pub(super) fn healthy(&mut self, now: u64) {
        self.healthy_since.get_or_insert(now);
    }

    /// The attempt number and delay (ms) for the retry after a failure at
    /// `now`: attempt 0 (the first step) while the outage is younger than
    /// `fast_retry_ms`, then growing by one per failure. An outage ends only
    /// after a connection stayed healthy for `backoff_reset_after_ms`, so a
    /// flapping link keeps growing its delay instead of retrying fast forever.
    /// A `refused` connection (nothing listens) is retried at the first step
    /// and neither grows the delay nor ages the outage (ADR 0017): a refused
    /// attempt costs the server nothing, and the first attempt after it
    /// listens again should come within one step.
    pub(super) fn next(&mut self, now: u64, config: &ReducerConfig, refused: bool) -> (u32, u64) {
        if let Some(since) = self.healthy_since.take() {
            if now.saturating_sub(since) >= config.backoff_reset_after_ms {
                self.failures = 0;
                self.outage_since = None;
            }
        }
        if refused {
            // Nothing listens: this is not an outage of a server that
            // answers, so the clock for those starts again with the next
            // answered failure (a reset watch, then a minute of refused
            // connects, then a timeout while etcd starts: the first step).
            self.failures = 0;
            self.outage_since = None;
            return (0, config.backoff.delay_ms(0, self.random()));
        }
        let began = *self.outage_since.get_or_insert(now);
        let attempt = if now.saturating_sub(began) < config.fast_retry_ms {
            0
        } else {
            self.failures = self.failures.saturating_add(1);
            self.failures
        };
        (attempt, config.backoff.delay_ms(attempt, self.random()))
    }

    /// SplitMix64: a well-mixed `u64` per call from a 64-bit state.
    fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
