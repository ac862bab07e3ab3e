//! The sans-IO reducer: etcd observations and the passing of time in;
//! snapshots, commands and the next timeout out.
//!
//! In the style of `quinn-proto` and `str0m`, this is the whole decision
//! logic of the watch-and-cache store with the I/O taken out. The shell
//! performs the [`Command`]s it is given, reports what etcd said as
//! [`Event`]s (through [`Reducer::handle`]), wakes the reducer at
//! [`Reducer::poll_timeout`] (through [`Reducer::handle_timeout`]), and
//! publishes whatever snapshot comes back. Every timer the store needs lives
//! here: backoff delays, the progress interval, the stall deadline, the
//! fast-retry window and the healthy-reset period. Every invariant of the
//! store lives here too, where it can be tested exhaustively without a
//! network or a real clock:
//!
//! - the observed revision never goes back: watch events at or below it are
//!   duplicates or out of order, and are ignored;
//! - a malformed value keeps the last good snapshot and records a
//!   [`Rejection`]; at startup (nothing applied yet) it walks back through the
//!   key's history to the newest valid version, else applies the empty set;
//! - a delete, or a read that finds the key absent, applies the empty set;
//! - a compaction or a cancel asks for a full re-read, never a jump ahead;
//! - a watch silent for the progress interval is asked for progress; one
//!   that leaves the request unanswered for the progress deadline is checked
//!   with a read of the key beside it (an etcd gRPC proxy does not forward
//!   progress requests), and is declared dead when that read is not answered
//!   within the deadline either, or finds the key past what the watch
//!   delivered and the watch does not deliver it within the deadline; a
//!   watch whose silence was vouched for by a read is checked with reads
//!   from then on (ADR 0016);
//! - every retry waits out the backoff schedule of ADR 0006, except that a
//!   refused connection (nothing listening: etcd down or restarting) always
//!   retries at the first step, whatever the outage's age (ADR 0017);
//! - re-reading a revision already seen, or a re-put of the identical value,
//!   never re-anchors TTLs, so reconnects never extend a directive.

mod config;
mod event;
mod phase;
mod retry;
mod status;

use std::sync::Arc;

pub use config::ReducerConfig;
pub use event::{Command, Event, KeyValue, Retry};
pub use status::{Origin, Rejection, Snapshot, State, Status};

use phase::{Asked, Clock, Phase};
use retry::RetryBudget;

use crate::sampling::fnv1a64;
use crate::{decode, DirectiveSet};

/// What one call changed.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// A new active snapshot to publish.
    pub applied: Option<Arc<Snapshot>>,
    /// A value refused by this event (the last good snapshot stays).
    pub rejected: Option<Rejection>,
    /// What the shell must do now; `None` means carry on.
    pub command: Option<Command>,
    /// True when [`Reducer::status`] changed in a way worth reporting
    /// (state, applied revision, rejection, error).
    pub status_changed: bool,
    /// Why this call left the current watch (or read) for a new one, if it
    /// did: what the shell counts as a watch restart.
    pub restart: Option<Restart>,
}

/// Why the reducer gave up a watch (or a read) and started over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// The watch's start revision was compacted away: re-read.
    Compaction,
    /// etcd cancelled the watch.
    Cancel,
    /// The watch ignored a progress request past its deadline.
    Stall,
    /// The connection or a request failed.
    Error,
}

impl Restart {
    /// `compaction`, `cancel`, `stall` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::Compaction => "compaction",
            Restart::Cancel => "cancel",
            Restart::Stall => "stall",
            Restart::Error => "error",
        }
    }
}

/// What the reducer last learned about the key's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Nothing,
    Value(i64),
    Absent,
}

/// The seed of [`Reducer::new`]; shells pass a random one to
/// [`Reducer::with_seed`] so a fleet's jitter differs per instance.
const DEFAULT_SEED: u64 = 0x5EED_D12E_C71F_E5E7;

/// The pure state machine behind the etcd directive store.
#[derive(Debug)]
pub struct Reducer {
    config: ReducerConfig,
    phase: Phase,
    clock: Clock,
    retry: RetryBudget,
    snapshot: Arc<Snapshot>,
    status: Status,
    seen: Seen,
    /// The failure being handled is a refused connection (ADR 0017).
    refused: bool,
}

impl Reducer {
    /// A reducer holding the empty set, in state `Initializing`, whose first
    /// command is [`Command::Read`]. Its backoff jitter is drawn from a fixed seed.
    pub fn new(config: ReducerConfig) -> Self {
        Reducer::with_seed(config, DEFAULT_SEED)
    }

    /// Like [`Reducer::new`], drawing the backoff jitter from `seed`.
    pub fn with_seed(config: ReducerConfig, seed: u64) -> Self {
        Reducer {
            config,
            phase: Phase::Reading {
                after_compaction: false,
            },
            clock: Clock::default(),
            retry: RetryBudget::new(seed),
            snapshot: Arc::new(Snapshot::default()),
            status: Status::default(),
            seen: Seen::Nothing,
            refused: false,
        }
    }

    /// The first command: read the key.
    pub fn start(&self) -> Command {
        Command::Read
    }

    /// The configuration.
    pub fn config(&self) -> &ReducerConfig {
        &self.config
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// The current status.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// When the reducer must next be woken with [`Reducer::handle_timeout`],
    /// in the caller's clock (unix ms); `None` while it only waits for etcd.
    pub fn poll_timeout(&self) -> Option<u64> {
        let due = match self.phase {
            Phase::BackingOff { until, .. } => until,
            Phase::Watching {
                heard_at,
                asked: Asked::Nothing,
                ..
            } => heard_at.saturating_add(self.config.progress_interval_ms),
            Phase::Watching {
                asked: Asked::Progress(at) | Asked::Probe(at) | Asked::Behind(at),
                ..
            } => at.saturating_add(self.config.progress_deadline_ms),
            Phase::Reading { .. } | Phase::ReadingHistory { .. } => return None,
        };
        Some(self.clock.to_wall(due))
    }

    /// Lets time pass: ends a backoff, asks a silent watch for progress, or
    /// declares a watch that ignored the request dead. Early or repeated
    /// calls are harmless.
    pub fn handle_timeout(&mut self, now_ms: u64) -> Output {
        let now = self.clock.tick(now_ms);
        let mut out = Output::default();
        match self.phase {
            Phase::BackingOff { until, then } if now >= until => {
                match then {
                    Retry::Read => {
                        self.phase = Phase::Reading {
                            after_compaction: false,
                        }
                    }
                    Retry::Watch { .. } => self.phase = Phase::watching(now, false),
                }
                out.command = Some(then.into());
            }
            Phase::Watching {
                heard_at,
                asked: Asked::Nothing,
                probing,
                ..
            } if now >= heard_at.saturating_add(self.config.progress_interval_ms) => {
                out.command = Some(if probing {
                    self.ask(Asked::Probe(now));
                    Command::Probe
                } else {
                    self.ask(Asked::Progress(now));
                    Command::RequestProgress
                });
            }
            Phase::Watching {
                asked: Asked::Progress(at),
                ..
            } if now >= at.saturating_add(self.config.progress_deadline_ms) => {
                self.ask(Asked::Probe(now));
                out.command = Some(Command::Probe);
            }
            Phase::Watching {
                asked: asked @ (Asked::Probe(at) | Asked::Behind(at)),
                ..
            } if now >= at.saturating_add(self.config.progress_deadline_ms) => {
                let cause = match asked {
                    Asked::Behind(_) => format!(
                        "watch stalled: a read found the key past what the watch delivered, \
                         and the watch did not deliver it within {} ms",
                        self.config.progress_deadline_ms
                    ),
                    _ => format!(
                        "watch stalled: a read of the key beside the silent watch was not \
                         answered within {} ms",
                        self.config.progress_deadline_ms
                    ),
                };
                self.on_disconnect(cause, now_ms, now, &mut out);
                out.restart = Some(Restart::Stall);
            }
            _ => {}
        }
        out
    }

    /// Feeds one observation at `now_ms` (unix ms) and returns what changed.
    pub fn handle(&mut self, event: Event<'_>, now_ms: u64) -> Output {
        let now = self.clock.tick(now_ms);
        let mut out = Output::default();
        match event {
            Event::Read { revision, kv } => self.on_read(revision, kv, now_ms, now, &mut out),
            Event::HistoryRead { kv } => self.on_history(kv, now_ms, now, &mut out),
            Event::WatchCreated => {
                if self.heard(now) {
                    self.retry.healthy(now);
                    self.go_live(&mut out);
                }
            }
            Event::Put { kv } => {
                self.heard(now);
                if self.advance(kv.mod_revision) {
                    self.seen = Seen::Value(kv.mod_revision);
                    self.apply_value(kv, now_ms, &mut out);
                }
            }
            Event::Delete { revision } => {
                self.heard(now);
                if self.advance(revision) {
                    self.seen = Seen::Absent;
                    self.apply(Snapshot::absent(revision), now_ms, &mut out);
                }
            }
            Event::Progress { revision } => {
                if self.heard(now) {
                    self.advance(revision);
                    self.go_live(&mut out);
                }
            }
            Event::Heartbeat => {
                if self.heard(now) {
                    self.go_live(&mut out);
                }
            }
            Event::Probed { mod_revision } => self.on_probed(mod_revision, now, &mut out),
            Event::Compacted { .. } => {
                // The watch could not deliver everything since its start:
                // stale until the re-read. A watch compacted again right
                // after a re-read (a member serving reads from below the
                // compaction point) backs off instead of re-reading hot.
                out.restart = Some(Restart::Compaction);
                self.go_stale(now_ms, &mut out);
                if let Phase::Watching {
                    after_compaction: true,
                    ..
                } = self.phase
                {
                    self.back_off(Retry::Read, now_ms, now, &mut out);
                } else {
                    self.phase = Phase::Reading {
                        after_compaction: true,
                    };
                    out.command = Some(Command::Read);
                }
            }
            Event::Canceled { reason } => {
                out.restart = Some(Restart::Cancel);
                self.status.last_error = Some(format!("watch canceled by etcd: {reason}"));
                out.status_changed = true;
                self.go_stale(now_ms, &mut out);
                self.back_off(Retry::Read, now_ms, now, &mut out);
            }
            Event::Disconnected { cause } => self.on_disconnect(cause, now_ms, now, &mut out),
            Event::Refused { cause } => {
                self.refused = true;
                self.on_disconnect(cause, now_ms, now, &mut out);
                self.refused = false;
            }
        }
        out
    }

    fn on_read(
        &mut self,
        revision: i64,
        kv: Option<KeyValue<'_>>,
        now_ms: u64,
        now: u64,
        out: &mut Output,
    ) {
        self.retry.healthy(now);
        if revision < self.status.observed_revision {
            // A read from a member that lags what we already applied: keep
            // everything, resume after what we know.
            self.watch_from(self.status.observed_revision + 1, now, out);
            return;
        }
        self.status.observed_revision = revision;
        // A re-read of what is already applied changes nothing (and never
        // re-anchors TTLs). Until something is applied (a startup history
        // walk cut short by a failure) the same value must be handled again.
        let applied = self.snapshot.origin != Origin::Unread;
        match kv {
            Some(kv) if applied && self.seen == Seen::Value(kv.mod_revision) => {}
            Some(kv) => {
                self.seen = Seen::Value(kv.mod_revision);
                let accepted = self.apply_value(kv, now_ms, out);
                if !accepted && self.snapshot.origin == Origin::Unread {
                    self.phase = Phase::ReadingHistory {
                        resume_from: revision + 1,
                        steps_left: self.config.max_history_steps,
                    };
                    self.history_step(kv.mod_revision, now_ms, now, out);
                    return;
                }
            }
            None if applied && self.seen == Seen::Absent => {}
            None => {
                self.seen = Seen::Absent;
                self.apply(Snapshot::absent(revision), now_ms, out);
            }
        }
        self.watch_from(revision + 1, now, out);
    }

    fn on_history(&mut self, kv: Option<KeyValue<'_>>, now_ms: u64, now: u64, out: &mut Output) {
        let Phase::ReadingHistory { resume_from, .. } = self.phase else {
            return;
        };
        let Some(kv) = kv else {
            self.apply(Snapshot::no_valid_version(), now_ms, out);
            self.watch_from(resume_from, now, out);
            return;
        };
        match decode(kv.value, now_ms, &self.config.limits) {
            Ok(set) => {
                self.apply(Snapshot::of(kv, set, Origin::Recovered), now_ms, out);
                self.watch_from(resume_from, now, out);
            }
            Err(_) => self.history_step(kv.mod_revision, now_ms, now, out),
        }
    }

    /// The next step back through history from a malformed version at
    /// `bad_revision`; gives up (applying the empty set) when out of steps.
    fn history_step(&mut self, bad_revision: i64, now_ms: u64, now: u64, out: &mut Output) {
        let Phase::ReadingHistory {
            resume_from,
            steps_left,
        } = self.phase
        else {
            return;
        };
        if steps_left == 0 || bad_revision <= 1 {
            self.apply(Snapshot::no_valid_version(), now_ms, out);
            self.watch_from(resume_from, now, out);
            return;
        }
        self.phase = Phase::ReadingHistory {
            resume_from,
            steps_left: steps_left - 1,
        };
        out.command = Some(Command::ReadHistory {
            revision: bad_revision - 1,
        });
    }

    fn on_disconnect(&mut self, cause: String, now_ms: u64, now: u64, out: &mut Output) {
        out.restart = Some(Restart::Error);
        self.status.reconnects += 1;
        self.status.last_error = Some(cause);
        self.go_stale(now_ms, out);
        out.status_changed = true;
        let then = match self.phase {
            Phase::Watching { .. }
            | Phase::BackingOff {
                then: Retry::Watch { .. },
                ..
            } => Retry::Watch {
                start_revision: self.status.observed_revision + 1,
            },
            Phase::Reading { .. } | Phase::ReadingHistory { .. } | Phase::BackingOff { .. } => {
                Retry::Read
            }
        };
        self.back_off(then, now_ms, now, out);
    }

    /// Enters the backoff before `then`, drawing the delay from the schedule.
    fn back_off(&mut self, then: Retry, now_ms: u64, now: u64, out: &mut Output) {
        let (attempt, delay) = self.retry.next(now, &self.config, self.refused);
        self.phase = Phase::BackingOff {
            until: now.saturating_add(delay),
            then,
        };
        out.command = Some(Command::BackOff {
            attempt,
            until_ms: now_ms.saturating_add(delay),
            then,
        });
    }

    /// Opens the watch from `start_revision`: the store is live from here.
    fn watch_from(&mut self, start_revision: i64, now: u64, out: &mut Output) {
        let after_compaction = matches!(
            self.phase,
            Phase::Reading {
                after_compaction: true
            }
        );
        self.phase = Phase::watching(now, after_compaction);
        self.go_live(out);
        out.command = Some(Command::Watch { start_revision });
    }

    /// The watch proved alive at `now`; false when no watch is open.
    fn heard(&mut self, now: u64) -> bool {
        match &mut self.phase {
            Phase::Watching {
                heard_at,
                asked,
                after_compaction,
                ..
            } => {
                *heard_at = now;
                *asked = Asked::Nothing;
                *after_compaction = false;
                true
            }
            _ => false,
        }
    }

    /// Records what a silent watch was asked (only while watching).
    fn ask(&mut self, what: Asked) {
        if let Phase::Watching { asked, .. } = &mut self.phase {
            *asked = what;
        }
    }

    /// The answer to a probe: the path to etcd works. A key no further than
    /// what the watch delivered vouches for the silence, and the stream is
    /// checked with reads from now on; a key further on gives the watch one
    /// deadline to deliver it (the read may simply have overtaken it).
    fn on_probed(&mut self, mod_revision: Option<i64>, now: u64, out: &mut Output) {
        let Phase::Watching {
            asked: Asked::Probe(_),
            ..
        } = self.phase
        else {
            return;
        };
        let behind = match mod_revision {
            Some(revision) => revision > self.status.observed_revision,
            // Absent, while the watch last saw a value: a delete not delivered.
            None => matches!(self.seen, Seen::Value(_)),
        };
        if behind {
            self.ask(Asked::Behind(now));
            return;
        }
        if self.heard(now) {
            if let Phase::Watching { probing, .. } = &mut self.phase {
                *probing = true;
            }
            self.go_live(out);
        }
    }

    /// Moves the observed revision forward; false when `revision` is not new.
    fn advance(&mut self, revision: i64) -> bool {
        if revision <= self.status.observed_revision {
            return false;
        }
        self.status.observed_revision = revision;
        true
    }

    /// A live store whose watch is gone is stale from `now_ms`.
    fn go_stale(&mut self, now_ms: u64, out: &mut Output) {
        if self.status.state == State::Live {
            self.status.state = State::Stale { since_ms: now_ms };
            out.status_changed = true;
        }
    }

    fn go_live(&mut self, out: &mut Output) {
        if matches!(self.phase, Phase::Watching { .. }) && self.status.state != State::Live {
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
                self.apply(Snapshot::of(kv, set, Origin::Value), now_ms, out);
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
        self.status.applied_revision = snapshot.revision;
        self.status.last_update_ms = Some(now_ms);
        self.status.recovered_from_history = snapshot.is_recovered();
        self.snapshot = Arc::clone(&snapshot);
        out.applied = Some(snapshot);
        out.status_changed = true;
    }
}

impl Phase {
    /// A freshly opened watch, heard from at `now`.
    fn watching(now: u64, after_compaction: bool) -> Phase {
        Phase::Watching {
            heard_at: now,
            asked: Asked::Nothing,
            after_compaction,
            probing: false,
        }
    }
}

impl Snapshot {
    /// The empty set of an absent key, established at `revision`.
    fn absent(revision: i64) -> Snapshot {
        Snapshot {
            revision,
            origin: Origin::Absent,
            ..Snapshot::default()
        }
    }

    /// The empty set applied when no valid version exists at startup.
    fn no_valid_version() -> Snapshot {
        Snapshot {
            origin: Origin::NoValidVersion,
            ..Snapshot::default()
        }
    }

    fn of(kv: KeyValue<'_>, set: DirectiveSet, origin: Origin) -> Snapshot {
        Snapshot {
            revision: kv.mod_revision,
            set,
            origin,
            digest: Some((fnv1a64(kv.value), kv.value.len())),
        }
    }
}

#[cfg(test)]
mod restart_tests {
    use super::*;

    fn watching() -> Reducer {
        let mut r = Reducer::new(ReducerConfig::default());
        let out = r.handle(
            Event::Read {
                revision: 5,
                kv: None,
            },
            1_000,
        );
        assert!(matches!(out.command, Some(Command::Watch { .. })));
        assert_eq!(out.restart, None, "a first read restarts nothing");
        assert_eq!(r.handle(Event::WatchCreated, 1_001).restart, None);
        r
    }

    #[test]
    fn every_way_of_leaving_a_watch_names_its_reason() {
        let compacted = watching().handle(
            Event::Compacted {
                compact_revision: 9,
            },
            2_000,
        );
        assert_eq!(compacted.restart, Some(Restart::Compaction));
        let canceled = watching().handle(
            Event::Canceled {
                reason: "gone".to_owned(),
            },
            2_000,
        );
        assert_eq!(canceled.restart, Some(Restart::Cancel));
        let failed = watching().handle(
            Event::Disconnected {
                cause: "reset".to_owned(),
            },
            2_000,
        );
        assert_eq!(failed.restart, Some(Restart::Error));
        // Silent past the progress interval, past the deadline of the
        // progress request, then past the deadline of the read: a stall.
        let mut silent = watching();
        let asked = silent.handle_timeout(1_001 + 5_000);
        assert!(matches!(asked.command, Some(Command::RequestProgress)));
        assert_eq!(asked.restart, None);
        let probed = silent.handle_timeout(1_001 + 10_000);
        assert_eq!(probed.command, Some(Command::Probe));
        assert_eq!(probed.restart, None);
        let stalled = silent.handle_timeout(1_001 + 15_000);
        assert_eq!(stalled.restart, Some(Restart::Stall));
        assert_eq!(Restart::Stall.as_str(), "stall");
    }
}

#[cfg(test)]
mod probe_tests {
    use super::*;

    /// Live on a watch from revision 6 with the key at revision 5, heard at 1,001.
    fn watching() -> Reducer {
        let mut r = Reducer::new(ReducerConfig::default());
        let doc = br#"{"directives":[]}"#;
        r.handle(
            Event::Read {
                revision: 5,
                kv: Some(KeyValue {
                    value: doc,
                    mod_revision: 5,
                }),
            },
            1_000,
        );
        r.handle(Event::WatchCreated, 1_001);
        r
    }

    /// Silent until the progress request's deadline: the probe goes out.
    fn probing(r: &mut Reducer) {
        assert_eq!(
            r.handle_timeout(6_001).command,
            Some(Command::RequestProgress)
        );
        assert_eq!(r.handle_timeout(11_001).command, Some(Command::Probe));
    }

    #[test]
    fn a_read_vouches_for_a_watch_whose_progress_requests_go_unanswered() {
        let mut r = watching();
        probing(&mut r);
        let out = r.handle(
            Event::Probed {
                mod_revision: Some(5),
            },
            11_050,
        );
        assert_eq!(out.restart, None);
        assert_eq!(r.status().state, State::Live);
        assert_eq!(
            r.poll_timeout(),
            Some(16_050),
            "one interval after the read"
        );
        // From now on this stream's silences are checked with reads only.
        assert_eq!(r.handle_timeout(16_050).command, Some(Command::Probe));
        let out = r.handle(Event::Probed { mod_revision: None }, 16_060);
        assert_eq!(
            out.restart, None,
            "absent key while a value was seen: behind, not yet a stall"
        );
        assert_eq!(r.poll_timeout(), Some(21_060));
        let stalled = r.handle_timeout(21_060);
        assert_eq!(stalled.restart, Some(Restart::Stall));
        assert!(matches!(
            stalled.command,
            Some(Command::BackOff {
                then: Retry::Watch { start_revision: 6 },
                ..
            })
        ));
    }

    #[test]
    fn a_read_that_finds_the_key_further_gives_the_watch_one_deadline() {
        let mut r = watching();
        probing(&mut r);
        let out = r.handle(
            Event::Probed {
                mod_revision: Some(9),
            },
            11_050,
        );
        assert_eq!(out.restart, None);
        // The watch delivers it in time: no restart, back to normal.
        let doc = br#"{"directives":[]}"#;
        let out = r.handle(
            Event::Put {
                kv: KeyValue {
                    value: doc,
                    mod_revision: 9,
                },
            },
            12_000,
        );
        assert_eq!(out.restart, None);
        assert_eq!(r.poll_timeout(), Some(17_000));
        // Later, the same finding with a silent watch is a stall.
        assert_eq!(
            r.handle_timeout(17_000).command,
            Some(Command::RequestProgress),
            "a watch not vouched for by a read still asks for progress first"
        );
        assert_eq!(r.handle_timeout(22_000).command, Some(Command::Probe));
        r.handle(
            Event::Probed {
                mod_revision: Some(12),
            },
            22_010,
        );
        assert_eq!(r.handle_timeout(27_009).restart, None);
        assert_eq!(r.handle_timeout(27_010).restart, Some(Restart::Stall));
    }

    #[test]
    fn a_late_probe_answer_changes_nothing() {
        let mut r = watching();
        probing(&mut r);
        // The watch speaks before the read answers.
        r.handle(Event::Heartbeat, 11_020);
        let out = r.handle(
            Event::Probed {
                mod_revision: Some(99),
            },
            11_030,
        );
        assert_eq!(out.restart, None);
        assert_eq!(r.poll_timeout(), Some(16_020));
        assert_eq!(
            r.handle_timeout(16_020).command,
            Some(Command::RequestProgress),
            "an unanswered probe never switched the stream to reads"
        );
    }
}
