//! A seeded scenario: the reducer's configuration, the simulated world's
//! behaviour, and a timeline of writes and faults. Faults come in episodes
//! separated by quiet periods long enough for the store to recover, so that
//! "after every fault heals, the store is live on the newest revision within
//! the bound" can be checked after each one.

use directive_core::{Backoff, ReducerConfig};

use crate::model::Doc;

/// What can go wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing gets through, nothing fails: the watch just goes quiet.
    SilentPartition,
    /// Connections are reset and refused.
    FinPartition,
    /// The member restarts: the stream breaks, requests fail until it is back.
    MemberRestart,
    /// Every answer takes this long (ms).
    SlowLink(u64),
    /// Reads and progress headers come from a member this many revisions behind.
    LaggingMember(i64),
}

/// One timeline entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A publisher writes a document.
    Put(Doc),
    /// A publisher deletes the key.
    Delete,
    /// Someone writes another key (moves the store's revision).
    OtherKey,
    /// etcd compacts all but the newest `n` revisions.
    Compact(i64),
    /// etcd cancels the watch.
    Cancel,
    /// The wall clock is stepped by this many ms.
    ClockJump(i64),
    /// The open watch delivers an earlier write again (a duplicate, or out
    /// of order: `n` writes back).
    Replay(u8),
    /// A fault that heals after `ms`.
    Fault(Fault, u64),
}

/// Everything one run needs, derived from its seed.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub config: ReducerConfig,
    /// Base one-way latency (ms).
    pub latency: u64,
    /// etcd's request timeout in the client (ms): an unanswered read fails.
    pub request_timeout: u64,
    /// HTTP/2 keep-alive notices a silent partition after this long (ms), if at all.
    pub keepalive: Option<u64>,
    /// Interval of server progress notifications (ms), if enabled.
    pub notify_every: Option<u64>,
    /// etcd answers a progress request with a revision (newer etcd) or
    /// only a heartbeat (etcd 3.4 while the watcher catches up).
    pub progress_answer_has_revision: bool,
    /// etcd answers progress requests at all (false: the store talks to it
    /// through a gRPC proxy that drops them, as etcd 3.4's does).
    pub progress_requests_answered: bool,
    /// Writes that exist before the store starts.
    pub initial: Vec<Action>,
    /// The timeline, sorted by time (ms of true time).
    pub timeline: Vec<(u64, Action)>,
}

impl Scenario {
    pub fn generate(seed: u64) -> Scenario {
        let mut rng = fastrand::Rng::with_seed(seed);
        let initial_ms = [100, 200, 400, 800][rng.usize(..4)];
        let config = ReducerConfig {
            backoff: Backoff {
                initial_ms,
                max_ms: initial_ms * [4, 8, 16, 32][rng.usize(..4)],
                full_jitter: rng.bool(),
            },
            backoff_reset_after_ms: rng.u64(5_000..=60_000),
            fast_retry_ms: rng.u64(0..=10_000),
            max_history_steps: rng.u32(0..=6),
            progress_interval_ms: rng.u64(500..=5_000),
            progress_deadline_ms: rng.u64(500..=5_000),
            ..ReducerConfig::default()
        };
        let latency = rng.u64(1..=50);
        let mut s = Scenario {
            seed,
            config,
            latency,
            request_timeout: rng.u64(1_000..=5_000),
            keepalive: rng.bool().then(|| rng.u64(1_000..=5_000)),
            notify_every: rng.bool().then(|| rng.u64(1_000..=20_000)),
            progress_answer_has_revision: rng.bool(),
            progress_requests_answered: rng.u32(0..3) > 0,
            initial: Vec::new(),
            timeline: Vec::new(),
        };
        for _ in 0..rng.usize(0..5) {
            let action = s.write(&mut rng, 0);
            s.initial.push(action);
        }
        if rng.u8(..10) < 3 {
            // A malformed current value: the store starts with a history walk.
            s.initial.push(Action::Put(Doc::Malformed(rng.u8(..3))));
        }
        let quiet = s.recovery_bound();
        let mut t = 0;
        let end = rng.u64(120_000..=600_000);
        // Half the scenarios start with a fault during startup (the first
        // read, a history walk); the rest after the store came up.
        let mut next_fault = if rng.bool() {
            // Often within the first read or the history walk, and then
            // sometimes with no write for a while (a retry then reads the
            // very value the walk started from).
            let within = [200, 5_000][rng.usize(..2)];
            t = rng.u64(0..=30_000);
            rng.u64(0..=within)
        } else {
            quiet + rng.u64(0..=30_000)
        };
        while t < end {
            t += rng.u64(1..=3_000);
            let action = s.write(&mut rng, t);
            s.timeline.push((t, action));
            while t >= next_fault {
                let fault = match rng.u8(..12) {
                    10 => Action::Replay(rng.u8(0..=3)),
                    11 => {
                        Action::Fault(Fault::LaggingMember(rng.i64(1..=4)), rng.u64(100..=20_000))
                    }
                    0..=2 => Action::Fault(Fault::SilentPartition, rng.u64(100..=30_000)),
                    3 | 4 => Action::Fault(Fault::FinPartition, rng.u64(100..=20_000)),
                    5 => Action::Fault(Fault::MemberRestart, rng.u64(100..=10_000)),
                    6 => Action::Fault(
                        Fault::SlowLink(rng.u64(100..=2_000)),
                        rng.u64(1_000..=20_000),
                    ),
                    7 => Action::Cancel,
                    8 => Action::Compact(rng.i64(0..=5)),
                    _ => Action::ClockJump(rng.i64(-3_600_000..=3_600_000)),
                };
                let lasts = match fault {
                    Action::Fault(_, ms) => ms,
                    _ => 0,
                };
                s.timeline.push((next_fault, fault));
                // Strictly after the recovery check of this fault: a new
                // fault at the very instant of the check would be judged
                // by it.
                next_fault += lasts + quiet + rng.u64(1..=20_000);
            }
        }
        s.timeline.sort_by_key(|(t, _)| *t);
        s
    }

    fn write(&self, rng: &mut fastrand::Rng, t: u64) -> Action {
        match rng.u8(..20) {
            0..=9 => Action::Put(Doc::Valid(rng.u8(1..=4))),
            10..=12 => Action::Put(Doc::Stamped(rng.u8(1..=4), 1_700_000_000_000 + t)),
            13..=15 => Action::Put(Doc::Malformed(rng.u8(..3))),
            16 => Action::Delete,
            _ => Action::OtherKey,
        }
    }

    /// How long after a fault heals the store may take to be live on the
    /// newest revision: what the reducer promises (a backoff at its cap,
    /// one silent interval and one deadline), one request timeout for a read
    /// stuck in the partition, one more timer period for a wall clock
    /// stepped back meanwhile, and the link's round trips.
    pub fn recovery_bound(&self) -> u64 {
        let c = &self.config;
        c.recovery_bound_ms()
            + c.progress_interval_ms.max(c.progress_deadline_ms)
            + self.request_timeout
            + 20 * self.latency
            + 2 * 2_000
    }

    /// The same scenario without timeline entry `i` (for shrinking).
    pub fn without(&self, i: usize) -> Scenario {
        let mut s = self.clone();
        s.timeline.remove(i);
        s
    }
}
