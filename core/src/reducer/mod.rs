//! The sans-IO reducer: etcd observations in, snapshots and commands out.
//!
//! In the style of `quinn-proto`, this is the whole decision logic of the
//! watch-and-cache store with the I/O taken out. The etcd shell performs the
//! [`Command`]s it is given, reports what happened as [`Event`]s together
//! with the current time, and publishes whatever snapshot comes back. Every
//! invariant of the store lives here, where it can be tested exhaustively
//! without a network:
//!
//! - the observed revision never goes back: watch events at or below it are
//!   duplicates or out of order, and are ignored;
//! - a malformed value keeps the last good snapshot and records a
//!   [`Rejection`]; at startup (nothing applied yet) it walks back through the
//!   key's history to the newest valid version, else applies the empty set;
//! - a delete, or a read that finds the key absent, applies the empty set;
//! - a compaction or a cancel asks for a full re-read, never a jump ahead;
//! - re-reading a revision already seen, or a re-put of the identical value,
//!   never re-anchors TTLs, so reconnects never extend a directive.

mod event;
mod status;

use std::sync::Arc;

pub use event::{Action, Command, Event, KeyValue};
pub use status::{Rejection, Snapshot, State, Status};

use crate::sampling::fnv1a64;
use crate::{decode, DirectiveSet, Limits};

/// Tuning of the reducer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReducerConfig {
    /// Decoder limits.
    pub limits: Limits,
    /// A connection healthy for this long resets the backoff to its first step.
    pub backoff_reset_after_ms: u64,
    /// For this long after an outage begins, every retry uses the first
    /// backoff step: a short etcd blip (a restart, a leader change) is
    /// recovered within one step, however many attempts were refused
    /// meanwhile. Only a longer outage grows the delay (ADR 0006).
    pub fast_retry_ms: u64,
    /// How many earlier versions a startup recovery may inspect.
    pub max_history_steps: u32,
}

impl Default for ReducerConfig {
    fn default() -> Self {
        ReducerConfig {
            limits: Limits::default(),
            backoff_reset_after_ms: 60_000,
            fast_retry_ms: 10_000,
            max_history_steps: 100,
        }
    }
}

/// What one event changed.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// A new active snapshot to publish.
    pub applied: Option<Arc<Snapshot>>,
    /// A value refused by this event (the last good snapshot stays).
    pub rejected: Option<Rejection>,
    /// What the shell must do next; `None` means carry on (keep watching).
    pub command: Option<Command>,
    /// True when [`Reducer::status`] changed in a way worth reporting
    /// (state, applied revision, rejection, error).
    pub status_changed: bool,
}

/// What the reducer last learned about the key's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Nothing,
    Value(i64),
    Absent,
}

#[derive(Clone, Copy, Debug)]
struct Recovery {
    resume_from: i64,
    steps_left: u32,
}

/// The pure state machine behind the etcd directive store.
#[derive(Debug)]
pub struct Reducer {
    config: ReducerConfig,
    snapshot: Arc<Snapshot>,
    status: Status,
    seen: Seen,
    has_applied: bool,
    read_done: bool,
    recovery: Option<Recovery>,
    failures: u32,
    healthy_since_ms: Option<u64>,
    outage_since_ms: Option<u64>,
}

impl Reducer {
    /// A reducer holding the empty set, in state `Initializing`.
    pub fn new(config: ReducerConfig) -> Self {
        Reducer {
            config,
            snapshot: Arc::new(Snapshot::default()),
            status: Status::default(),
            seen: Seen::Nothing,
            has_applied: false,
            read_done: false,
            recovery: None,
            failures: 0,
            healthy_since_ms: None,
            outage_since_ms: None,
        }
    }

    /// The first command: read the key.
    pub fn start(&self) -> Command {
        Command::now(Action::Read)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// The current status.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Feeds one observation at `now_ms` (unix ms) and returns what changed.
    pub fn handle(&mut self, event: Event<'_>, now_ms: u64) -> Output {
        let mut out = Output::default();
        match event {
            Event::Read { revision, kv } => self.on_read(revision, kv, now_ms, &mut out),
            Event::HistoryRead { kv } => self.on_history(kv, now_ms, &mut out),
            Event::WatchCreated => {
                self.healthy_since_ms.get_or_insert(now_ms);
                self.go_live(&mut out);
            }
            Event::Put { kv } => {
                if self.advance(kv.mod_revision) {
                    self.seen = Seen::Value(kv.mod_revision);
                    self.apply_value(kv, now_ms, &mut out);
                }
            }
            Event::Delete { revision } => {
                if self.advance(revision) {
                    self.seen = Seen::Absent;
                    self.apply(Snapshot::at(revision), now_ms, &mut out);
                }
            }
            Event::Progress { revision } => {
                self.advance(revision);
                self.go_live(&mut out);
            }
            Event::Compacted { .. } => {
                out.command = Some(Command::now(Action::Read));
            }
            Event::Canceled { reason } => {
                let attempt = self.next_attempt(now_ms);
                self.status.last_error = Some(format!("watch canceled by etcd: {reason}"));
                out.status_changed = true;
                out.command = Some(Command {
                    action: Action::Read,
                    backoff_attempt: Some(attempt),
                });
            }
            Event::Disconnected { cause } => self.on_disconnect(cause, now_ms, &mut out),
        }
        out
    }

    fn on_read(&mut self, revision: i64, kv: Option<KeyValue<'_>>, now_ms: u64, out: &mut Output) {
        self.read_done = true;
        self.healthy_since_ms.get_or_insert(now_ms);
        if revision < self.status.observed_revision {
            // A read from a member that lags what we already applied: keep
            // everything, resume after what we know.
            out.command = Some(self.resume_watch());
            return;
        }
        self.status.observed_revision = revision;
        match kv {
            Some(kv) if self.seen == Seen::Value(kv.mod_revision) => {}
            Some(kv) => {
                self.seen = Seen::Value(kv.mod_revision);
                let accepted = self.apply_value(kv, now_ms, out);
                if !accepted && !self.has_applied {
                    self.recovery = Some(Recovery {
                        resume_from: revision + 1,
                        steps_left: self.config.max_history_steps,
                    });
                    out.command = Some(self.next_history_step(kv.mod_revision, now_ms, out));
                    return;
                }
            }
            None if self.seen == Seen::Absent => {}
            None => {
                self.seen = Seen::Absent;
                self.apply(Snapshot::at(revision), now_ms, out);
            }
        }
        self.go_live(out);
        out.command = Some(self.resume_watch());
    }

    fn on_history(&mut self, kv: Option<KeyValue<'_>>, now_ms: u64, out: &mut Output) {
        let Some(recovery) = self.recovery else {
            return;
        };
        let done = match kv {
            None => {
                self.apply(Snapshot::at(0), now_ms, out);
                true
            }
            Some(kv) => match decode(kv.value, now_ms, &self.config.limits) {
                Ok(set) => {
                    let mut snap = Snapshot::with(kv, set);
                    snap.recovered = true;
                    self.status.recovered_from_history = true;
                    self.apply(snap, now_ms, out);
                    true
                }
                Err(_) => {
                    out.command = Some(self.next_history_step(kv.mod_revision, now_ms, out));
                    out.command.is_none()
                }
            },
        };
        if done {
            self.recovery = None;
            self.go_live(out);
            out.command = Some(Command::now(Action::Watch {
                start_revision: recovery.resume_from,
            }));
        }
    }

    /// The next step back through history from a malformed version at
    /// `bad_revision`; gives up (applying the empty set) when out of steps.
    fn next_history_step(&mut self, bad_revision: i64, now_ms: u64, out: &mut Output) -> Command {
        let Some(recovery) = self.recovery.as_mut() else {
            return self.resume_watch();
        };
        if recovery.steps_left == 0 || bad_revision <= 1 {
            let resume = recovery.resume_from;
            self.recovery = None;
            self.apply(Snapshot::at(0), now_ms, out);
            self.go_live(out);
            return Command::now(Action::Watch {
                start_revision: resume,
            });
        }
        recovery.steps_left -= 1;
        Command::now(Action::ReadHistory {
            revision: bad_revision - 1,
        })
    }

    /// The backoff attempt for the retry after a failure at `now_ms`: 0 (the
    /// first step) while the outage is younger than `fast_retry_ms`, then
    /// growing by one per failure. An outage ends only after a connection
    /// stayed healthy for `backoff_reset_after_ms`, so a flapping link keeps
    /// growing its delay instead of retrying fast forever.
    fn next_attempt(&mut self, now_ms: u64) -> u32 {
        if let Some(since) = self.healthy_since_ms.take() {
            if now_ms.saturating_sub(since) >= self.config.backoff_reset_after_ms {
                self.failures = 0;
                self.outage_since_ms = None;
            }
        }
        let began = *self.outage_since_ms.get_or_insert(now_ms);
        if now_ms.saturating_sub(began) < self.config.fast_retry_ms {
            return 0;
        }
        self.failures = self.failures.saturating_add(1);
        self.failures
    }

    fn on_disconnect(&mut self, cause: String, now_ms: u64, out: &mut Output) {
        let attempt = self.next_attempt(now_ms);
        self.status.reconnects += 1;
        self.status.last_error = Some(cause);
        if self.status.state == State::Live {
            self.status.state = State::Stale { since_ms: now_ms };
        }
        out.status_changed = true;
        let action = if self.read_done && self.recovery.is_none() {
            self.resume_watch().action
        } else {
            self.recovery = None;
            Action::Read
        };
        out.command = Some(Command {
            action,
            backoff_attempt: Some(attempt),
        });
    }

    fn resume_watch(&self) -> Command {
        Command::now(Action::Watch {
            start_revision: self.status.observed_revision + 1,
        })
    }

    /// Moves the observed revision forward; false when `revision` is not new.
    fn advance(&mut self, revision: i64) -> bool {
        if revision <= self.status.observed_revision {
            return false;
        }
        self.status.observed_revision = revision;
        true
    }

    fn go_live(&mut self, out: &mut Output) {
        if self.read_done && self.recovery.is_none() && self.status.state != State::Live {
            self.status.state = State::Live;
            out.status_changed = true;
        }
    }

    /// Decodes a value and applies it, or records its rejection. The TTL
    /// anchor of an identical re-put is the anchor already in force.
    fn apply_value(&mut self, kv: KeyValue<'_>, now_ms: u64, out: &mut Output) -> bool {
        let digest = (fnv1a64(kv.value), kv.value.len());
        let anchor_now = if self.snapshot.digest == Some(digest) {
            self.snapshot.set.anchor_ms()
        } else {
            now_ms
        };
        match decode(kv.value, anchor_now, &self.config.limits) {
            Ok(set) => {
                self.apply(Snapshot::with(kv, set), now_ms, out);
                true
            }
            Err(errors) => {
                let rejection = Rejection {
                    revision: kv.mod_revision,
                    at_ms: now_ms,
                    errors: errors.errors,
                };
                self.status.last_rejection = Some(rejection.clone());
                out.rejected = Some(rejection);
                out.status_changed = true;
                false
            }
        }
    }

    fn apply(&mut self, snapshot: Snapshot, now_ms: u64, out: &mut Output) {
        let snapshot = Arc::new(snapshot);
        self.has_applied = true;
        self.status.applied_revision = snapshot.revision;
        self.status.last_update_ms = Some(now_ms);
        self.status.recovered_from_history = snapshot.recovered;
        self.snapshot = Arc::clone(&snapshot);
        out.applied = Some(snapshot);
        out.status_changed = true;
    }
}

impl Snapshot {
    /// The empty set, established at `revision`.
    fn at(revision: i64) -> Snapshot {
        Snapshot {
            revision,
            ..Snapshot::default()
        }
    }

    fn with(kv: KeyValue<'_>, set: DirectiveSet) -> Snapshot {
        Snapshot {
            revision: kv.mod_revision,
            set,
            recovered: false,
            digest: Some((fnv1a64(kv.value), kv.value.len())),
        }
    }
}
