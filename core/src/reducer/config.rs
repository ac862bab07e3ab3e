//! The reducer's tuning: every number that shapes when the store reads,
//! retries and declares a watch dead, in one place.
//!
//! The shell (and `StoreOptions`, which only forwards to this) owns none of
//! these: a timer the store needs is one the reducer asks for.

use crate::{Backoff, Limits};

/// Tuning of the reducer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReducerConfig {
    /// Decoder limits.
    pub limits: Limits,
    /// The reconnect schedule (ceilings and jitter).
    pub backoff: Backoff,
    /// A connection healthy for this long resets the backoff to its first step.
    pub backoff_reset_after_ms: u64,
    /// For this long after an outage begins, every retry uses the first
    /// backoff step: a short etcd blip (a restart, a leader change) is
    /// recovered within one step, however many attempts were refused
    /// meanwhile. Only a longer outage grows the delay (ADR 0006).
    pub fast_retry_ms: u64,
    /// How many earlier versions a startup recovery may inspect.
    pub max_history_steps: u32,
    /// After this long without any watch message, ask etcd for progress.
    pub progress_interval_ms: u64,
    /// A progress request unanswered for this long is followed by a read
    /// of the key beside the watch; a read unanswered for this long too (a
    /// silent partition), or one that found the key past what the watch
    /// delivered, followed by this long without the watch delivering it,
    /// declares the watch dead, and it is replaced (ADR 0016).
    pub progress_deadline_ms: u64,
}

impl Default for ReducerConfig {
    fn default() -> Self {
        ReducerConfig {
            limits: Limits::default(),
            backoff: Backoff::default(),
            backoff_reset_after_ms: 60_000,
            fast_retry_ms: 10_000,
            max_history_steps: 100,
            progress_interval_ms: 5_000,
            progress_deadline_ms: 5_000,
        }
    }
}

impl ReducerConfig {
    /// The longest a healed fault can keep the store from being live on the
    /// newest revision, not counting the link's own latency: a pending
    /// backoff delay at its cap, plus one silent interval and two deadlines
    /// (the progress request's, then the read's) for a stream that died
    /// silently just before the heal.
    pub fn recovery_bound_ms(&self) -> u64 {
        self.backoff
            .max_ms
            .saturating_add(self.progress_interval_ms)
            .saturating_add(self.progress_deadline_ms.saturating_mul(2))
    }
}
