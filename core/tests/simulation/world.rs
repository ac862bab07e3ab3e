//! The simulated world around one reducer: the shell, the link and etcd,
//! on simulated time. It plays the driver's part exactly (perform the
//! command, wake at `poll_timeout`, feed what etcd said) and checks the
//! store's invariants after every step.

use std::collections::{HashMap, VecDeque};

use directive_core::{Command, Event, KeyValue, Origin, Output, Reducer, Restart, Snapshot, State};

use crate::model::{is_valid, Etcd};
use crate::scenario::{Action, Fault, Scenario};

/// The wall clock at true time 0.
const EPOCH: u64 = 1_700_000_000_000;
const TRACE_LEN: usize = 40;

/// A broken invariant, with the trace that led to it.
#[derive(Debug)]
pub struct Failure {
    pub at: u64,
    pub what: String,
    pub trace: Vec<String>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Stats {
    pub events: u64,
    pub faults: u64,
    pub applied: u64,
}

enum Op {
    Idle,
    Read { issued: u64 },
    History { issued: u64, revision: i64 },
    Watch(WatchOp),
}

struct WatchOp {
    issued: u64,
    created: bool,
    next: i64,
    last_delivery: u64,
    progress_answer_at: Option<u64>,
    /// When the answer to a probe (a read of the key beside the watch) arrives.
    probe_answer_at: Option<u64>,
    next_notify: Option<u64>,
}

/// What happens next, and when.
enum Next {
    Action,
    Timer,
    Op(OpStep),
    Check(u64),
    StallCheck,
    End,
}

enum OpStep {
    /// Nothing can happen before this time (a partition heals).
    Wait,
    Fail(&'static str),
    Complete,
    Created,
    Deliver(usize),
    ProgressAnswer,
    ProbeAnswer,
    Notify,
    CompactedWhileOpen,
}

struct World<'a> {
    s: &'a Scenario,
    t: u64,
    clock_offset: i64,
    etcd: Etcd,
    reducer: Reducer,
    op: Op,
    op_id: u64,
    timer: Option<u64>,
    next_action: usize,
    silent: Option<(u64, u64)>,
    refused_until: u64,
    slow: Option<(u64, u64)>,
    lag: Option<(u64, i64)>,
    checks: Vec<(u64, u64)>,
    stall: Option<(u64, u64)>,
    jumped_back: bool,
    end: u64,
    // Invariant state.
    max_observed: i64,
    max_applied: Option<i64>,
    floor: Option<i64>,
    expiries: HashMap<i64, Vec<u64>>,
    last_applied: Option<Snapshot>,
    trace: VecDeque<String>,
    stats: Stats,
}

/// Runs one scenario to its end; `Err` at the first broken invariant.
pub fn run(s: &Scenario) -> Result<Stats, Failure> {
    let mut etcd = Etcd::default();
    for action in &s.initial {
        apply_write(&mut etcd, *action, 0);
    }
    let end = s
        .timeline
        .iter()
        .map(|(t, action)| match action {
            Action::Fault(_, ms) => t + ms,
            _ => *t,
        })
        .max()
        .unwrap_or(0)
        + s.recovery_bound()
        + 1;
    let mut w = World {
        s,
        t: 0,
        clock_offset: 0,
        etcd,
        reducer: Reducer::with_seed(s.config, s.seed),
        op: Op::Idle,
        op_id: 0,
        timer: None,
        next_action: 0,
        silent: None,
        refused_until: 0,
        slow: None,
        lag: None,
        checks: Vec::new(),
        stall: None,
        jumped_back: false,
        end,
        max_observed: 0,
        max_applied: None,
        floor: None,
        expiries: HashMap::new(),
        last_applied: None,
        trace: VecDeque::new(),
        stats: Stats::default(),
    };
    let first = w.reducer.start();
    w.perform(first);
    // Without an early fault, the store must be up within the bound.
    let bound = w.s.recovery_bound();
    if w.s.timeline.iter().all(|(t, a)| {
        *t >= bound || matches!(a, Action::Put(_) | Action::Delete | Action::OtherKey)
    }) {
        w.checks.push((bound, 0));
    }
    let (mut spins, mut last_timer_at) = (0u32, u64::MAX);
    loop {
        let (at, next) = w.next();
        w.t = w.t.max(at);
        match next {
            Next::End => return Ok(w.stats),
            Next::Action => {
                let (_, action) = w.s.timeline[w.next_action];
                w.next_action += 1;
                w.act(action)?;
            }
            Next::Timer => {
                w.timer = None;
                spins = if w.t == last_timer_at { spins + 1 } else { 0 };
                last_timer_at = w.t;
                if spins > 100 {
                    return Err(w.fail(
                        "busy loop: the reducer keeps asking to be woken now without progress"
                            .to_owned(),
                    ));
                }
                w.log("timeout".to_owned());
                let out = w.reducer.handle_timeout(w.wall());
                w.after(out)?;
            }
            Next::Check(heal) => {
                w.checks.retain(|(_, h)| *h != heal);
                w.recovered(heal)?;
            }
            Next::StallCheck => {
                let Some((_, id)) = w.stall.take() else {
                    continue;
                };
                // Only a silence that lasted the whole deadline must be
                // caught; a partition that healed before it need not be.
                if id == w.op_id && w.is_silent() {
                    return Err(w.fail(format!(
                        "stall not detected: the watch went silent and is still trusted after {} ms",
                        w.s.config.progress_interval_ms + w.s.config.progress_deadline_ms
                    )));
                }
            }
            Next::Op(step) => w.op_step(step)?,
        }
    }
}

fn apply_write(etcd: &mut Etcd, action: Action, t: u64) {
    match action {
        Action::Put(doc) => etcd.put(Some(doc.bytes()), t),
        Action::Delete => etcd.put(None, t),
        Action::OtherKey => etcd.other_key(),
        _ => {}
    }
}

impl World<'_> {
    fn wall(&self) -> u64 {
        (EPOCH + self.t).saturating_add_signed(self.clock_offset)
    }

    fn latency(&self) -> u64 {
        match self.slow {
            Some((until, extra)) if self.t < until => self.s.latency + extra,
            _ => self.s.latency,
        }
    }

    /// The revision a read or a progress header shows (a lagging member
    /// shows an older one).
    fn served_revision(&self) -> i64 {
        match self.lag {
            Some((until, k)) if self.t < until => (self.etcd.revision - k).max(0),
            _ => self.etcd.revision,
        }
    }

    fn is_silent(&self) -> bool {
        self.silent.is_some_and(|(_, until)| self.t < until)
    }

    fn log(&mut self, line: String) {
        if self.trace.len() == TRACE_LEN {
            self.trace.pop_front();
        }
        let status = self.reducer.status();
        self.trace.push_back(format!(
            "t={:>7} {line} -> {} applied={} observed={}",
            self.t,
            status.state.name(),
            status.applied_revision,
            status.observed_revision
        ));
    }

    fn fail(&self, what: String) -> Failure {
        Failure {
            at: self.t,
            what,
            trace: self.trace.iter().cloned().collect(),
        }
    }

    /// The earliest thing that happens next.
    fn next(&self) -> (u64, Next) {
        let mut best = (self.end, Next::End);
        let mut consider = |at: u64, next: Next| {
            if at < best.0 {
                best = (at, next);
            }
        };
        if let Some((at, _)) = self.s.timeline.get(self.next_action) {
            consider(*at, Next::Action);
        }
        if let Some(at) = self.timer {
            consider(at, Next::Timer);
        }
        if let Some((at, step)) = self.op_next() {
            consider(at, Next::Op(step));
        }
        if let Some(&(at, heal)) = self.checks.iter().min() {
            consider(at, Next::Check(heal));
        }
        if let Some((at, _)) = self.stall {
            consider(at, Next::StallCheck);
        }
        best
    }

    /// When the current operation next produces something.
    fn op_next(&self) -> Option<(u64, OpStep)> {
        let lat = self.latency();
        let issued = match &self.op {
            Op::Idle => return None,
            Op::Read { issued } | Op::History { issued, .. } => *issued,
            Op::Watch(w) => w.issued,
        };
        if self.t < self.refused_until {
            return Some((
                (issued + lat).max(self.t),
                OpStep::Fail("connection refused"),
            ));
        }
        let request_deadline = issued + self.s.request_timeout;
        if let Some((since, until)) = self.silent.filter(|_| self.is_silent()) {
            let keepalive = self.s.keepalive.map(|k| since.max(issued) + k);
            let mut wake = (until, OpStep::Wait);
            if let Some(at) = keepalive.filter(|at| *at < wake.0) {
                wake = (at, OpStep::Fail("keep-alive timeout"));
            }
            if !matches!(self.op, Op::Watch(_)) && request_deadline < wake.0 {
                wake = (request_deadline, OpStep::Fail("request timed out"));
            }
            return Some((wake.0.max(self.t), wake.1));
        }
        match &self.op {
            Op::Idle => None,
            Op::Read { .. } | Op::History { .. } => {
                let done = (issued + 2 * lat).max(self.t);
                if done > request_deadline {
                    Some((
                        request_deadline.max(self.t),
                        OpStep::Fail("request timed out"),
                    ))
                } else {
                    Some((done, OpStep::Complete))
                }
            }
            Op::Watch(w) => {
                if !w.created {
                    return Some(((issued + 2 * lat).max(self.t), OpStep::Created));
                }
                let mut best: Option<(u64, OpStep)> = None;
                let mut consider = |at: u64, step: OpStep| {
                    if best.as_ref().is_none_or(|(b, _)| at < *b) {
                        best = Some((at.max(self.t), step));
                    }
                };
                let pending = self
                    .etcd
                    .writes
                    .partition_point(|x| x.mod_revision < w.next);
                if let Some(write) = self.etcd.writes.get(pending) {
                    if write.mod_revision < self.etcd.compacted {
                        consider(self.t, OpStep::CompactedWhileOpen);
                    } else {
                        consider(
                            write.at.max(w.last_delivery) + lat,
                            OpStep::Deliver(pending),
                        );
                    }
                }
                if let Some(at) = w.progress_answer_at {
                    consider(at, OpStep::ProgressAnswer);
                }
                if let Some(at) = w.probe_answer_at {
                    consider(at, OpStep::ProbeAnswer);
                }
                if let Some(at) = w.next_notify {
                    consider(at, OpStep::Notify);
                }
                best
            }
        }
    }

    fn synced(&self, next: i64) -> bool {
        self.etcd
            .writes
            .last()
            .is_none_or(|w| w.mod_revision < next)
    }

    fn op_step(&mut self, step: OpStep) -> Result<(), Failure> {
        let event_owned;
        let event: Event<'_> = match step {
            OpStep::Wait => return Ok(()),
            OpStep::Fail(cause) => {
                self.op = Op::Idle;
                // As the driver: a refused connection is told apart.
                if cause == "connection refused" {
                    Event::Refused {
                        cause: cause.to_owned(),
                    }
                } else {
                    Event::Disconnected {
                        cause: cause.to_owned(),
                    }
                }
            }
            OpStep::Complete => match std::mem::replace(&mut self.op, Op::Idle) {
                Op::Read { .. } => {
                    let revision = self.served_revision();
                    let kv = self
                        .etcd
                        .at(revision)
                        .and_then(|w| w.value.clone().map(|v| (v, w.mod_revision)));
                    event_owned = kv;
                    Event::Read {
                        revision,
                        kv: event_owned.as_ref().map(|(v, m)| KeyValue {
                            value: v,
                            mod_revision: *m,
                        }),
                    }
                }
                Op::History { revision, .. } => {
                    let kv = if revision < self.etcd.compacted {
                        None
                    } else {
                        self.etcd
                            .at(revision)
                            .and_then(|w| w.value.clone().map(|v| (v, w.mod_revision)))
                    };
                    event_owned = kv;
                    Event::HistoryRead {
                        kv: event_owned.as_ref().map(|(v, m)| KeyValue {
                            value: v,
                            mod_revision: *m,
                        }),
                    }
                }
                other => {
                    self.op = other;
                    return Ok(());
                }
            },
            OpStep::Created => {
                let compacted = self.etcd.compacted;
                let Op::Watch(w) = &mut self.op else {
                    return Ok(());
                };
                w.created = true;
                w.last_delivery = self.t;
                w.next_notify = self.s.notify_every.map(|n| self.t + n);
                if w.next < compacted {
                    self.op = Op::Idle;
                    Event::Compacted {
                        compact_revision: compacted,
                    }
                } else {
                    Event::WatchCreated
                }
            }
            OpStep::CompactedWhileOpen => {
                self.op = Op::Idle;
                Event::Compacted {
                    compact_revision: self.etcd.compacted,
                }
            }
            OpStep::Deliver(i) => {
                let Op::Watch(w) = &mut self.op else {
                    return Ok(());
                };
                let write = &self.etcd.writes[i];
                w.next = write.mod_revision + 1;
                w.last_delivery = self.t;
                event_owned = write.value.clone().map(|v| (v, write.mod_revision));
                match &event_owned {
                    Some((v, m)) => Event::Put {
                        kv: KeyValue {
                            value: v,
                            mod_revision: *m,
                        },
                    },
                    None => Event::Delete {
                        revision: write.mod_revision,
                    },
                }
            }
            OpStep::ProbeAnswer => {
                // A linearizable read: the key as of now.
                let mod_revision = self
                    .etcd
                    .writes
                    .iter()
                    .rev()
                    .find(|w| w.at <= self.t)
                    .and_then(|w| w.value.as_ref().map(|_| w.mod_revision));
                let Op::Watch(w) = &mut self.op else {
                    return Ok(());
                };
                w.probe_answer_at = None;
                Event::Probed { mod_revision }
            }
            OpStep::ProgressAnswer | OpStep::Notify => {
                let notify = matches!(step, OpStep::Notify);
                let (next, revision) = (self.watch_next(), self.served_revision());
                let synced = self.synced(next);
                let every = self.s.notify_every;
                let has_revision = self.s.progress_answer_has_revision;
                let t = self.t;
                let Op::Watch(w) = &mut self.op else {
                    return Ok(());
                };
                if notify {
                    w.next_notify = every.map(|n| t + n);
                    if !synced {
                        return Ok(());
                    }
                    Event::Progress { revision }
                } else {
                    w.progress_answer_at = None;
                    if synced && has_revision {
                        Event::Progress { revision }
                    } else {
                        Event::Heartbeat
                    }
                }
            }
        };
        self.feed(event)
    }

    fn watch_next(&self) -> i64 {
        match &self.op {
            Op::Watch(w) => w.next,
            _ => 0,
        }
    }

    fn feed(&mut self, event: Event<'_>) -> Result<(), Failure> {
        self.log(format!("{event:?}").chars().take(120).collect());
        let out = self.reducer.handle(event, self.wall());
        self.after(out)
    }

    /// Checks the invariants after a reducer call, then carries out its command.
    fn after(&mut self, out: Output) -> Result<(), Failure> {
        self.stats.events += 1;
        let status = self.reducer.status().clone();
        if status.observed_revision < self.max_observed {
            return Err(self.fail(format!(
                "observed revision went back: {} -> {}",
                self.max_observed, status.observed_revision
            )));
        }
        self.max_observed = status.observed_revision;
        if status.state == State::Live && self.reducer.snapshot().origin == Origin::Unread {
            return Err(self.fail("live without having applied anything".to_owned()));
        }
        if let Some(snapshot) = &out.applied {
            self.check_applied(snapshot)?;
        }
        if out.restart == Some(Restart::Stall) {
            self.check_stall_is_real()?;
        }
        if let Some(command) = out.command {
            self.log(format!("  command {command:?}"));
            if let Command::Watch { start_revision } = command {
                if start_revision != status.observed_revision + 1 {
                    return Err(self.fail(format!(
                        "watch resumes at {start_revision}, not right after the observed revision {}",
                        status.observed_revision
                    )));
                }
            }
            self.perform(command);
        }
        let wall = self.wall();
        self.timer = self
            .reducer
            .poll_timeout()
            .map(|at| self.t + at.saturating_sub(wall));
        Ok(())
    }

    /// A stall declared on a watch that was never cut off, on a link fast
    /// enough to answer within the deadline, is a false positive: on such
    /// a link every request and read is answered within two latencies.
    fn check_stall_is_real(&mut self) -> Result<(), Failure> {
        let Op::Watch(w) = &self.op else {
            return Ok(());
        };
        let deadline = self.s.config.progress_deadline_ms;
        let cut_off = self
            .silent
            .is_some_and(|(_, until)| until + 2 * self.latency() >= w.issued);
        let too_slow = self.slow.is_some_and(|(until, extra)| {
            2 * (self.s.latency + extra) >= deadline && until + deadline >= w.issued
        });
        if cut_off || too_slow {
            return Ok(());
        }
        Err(self.fail(format!(
            "stall declared on a healthy watch (issued at {}, progress requests answered: {})",
            w.issued, self.s.progress_requests_answered
        )))
    }

    fn check_applied(&mut self, snap: &Snapshot) -> Result<(), Failure> {
        self.stats.applied += 1;
        if let Some(max) = self.max_applied {
            if snap.revision < max {
                return Err(self.fail(format!(
                    "applied revision went back: {max} -> {}",
                    snap.revision
                )));
            }
        }
        self.max_applied = Some(snap.revision);
        self.floor
            .get_or_insert(self.reducer.status().observed_revision);
        let value = self.bytes_at(snap.revision);
        match snap.origin {
            Origin::Value | Origin::Recovered => match &value {
                Some(v) if is_valid(v) => {
                    // A walk visits versions newest first: nothing valid may
                    // lie between the recovered one and what the read saw.
                    let observed = self.reducer.status().observed_revision;
                    let skipped = self.etcd.writes.iter().find(|w| {
                        w.mod_revision > snap.revision
                            && w.mod_revision <= observed
                            && w.value.as_deref().is_some_and(is_valid)
                    });
                    if let (Origin::Recovered, Some(w)) = (snap.origin, skipped) {
                        return Err(self.fail(format!(
                            "recovered revision {} although revision {} is valid",
                            snap.revision, w.mod_revision
                        )));
                    }
                }
                _ => {
                    return Err(self.fail(format!(
                        "applied revision {} is not a valid value of the key",
                        snap.revision
                    )))
                }
            },
            Origin::Absent => {
                if self
                    .etcd
                    .at(snap.revision)
                    .is_some_and(|w| w.value.is_some())
                {
                    return Err(self.fail(format!(
                        "applied 'absent' at {} while the key had a value",
                        snap.revision
                    )));
                }
            }
            Origin::NoValidVersion | Origin::Unread => {
                if !snap.set.is_empty() {
                    return Err(self.fail("a set without a value is not empty".to_owned()));
                }
            }
        }
        let expiries: Vec<u64> = snap
            .set
            .directives()
            .iter()
            .map(|d| d.expires_at_ms)
            .collect();
        let same_bytes = self.last_applied.as_ref().is_some_and(|prev| {
            prev.has_value()
                && snap.has_value()
                && self.bytes_at(prev.revision) == value
                && prev.set.len() == snap.set.len()
        });
        let mut earlier: Vec<&Vec<u64>> = Vec::new();
        if let Some(e) = self.expiries.get(&snap.revision) {
            earlier.push(e);
        }
        let prev_expiries: Vec<u64>;
        if same_bytes {
            prev_expiries = self
                .last_applied
                .as_ref()
                .map(|p| p.set.directives().iter().map(|d| d.expires_at_ms).collect())
                .unwrap_or_default();
            earlier.push(&prev_expiries);
        }
        for before in earlier {
            let mut now_sorted = expiries.clone();
            let mut before_sorted = before.clone();
            now_sorted.sort_unstable();
            before_sorted.sort_unstable();
            if now_sorted.iter().zip(&before_sorted).any(|(n, b)| n > b) {
                return Err(self.fail(format!(
                    "expiry extended at revision {}: {before_sorted:?} -> {now_sorted:?}",
                    snap.revision
                )));
            }
        }
        self.expiries.insert(snap.revision, expiries);
        self.last_applied = Some(snap.clone());
        Ok(())
    }

    fn bytes_at(&self, revision: i64) -> Option<Vec<u8>> {
        self.etcd
            .writes
            .iter()
            .find(|w| w.mod_revision == revision)
            .and_then(|w| w.value.clone())
    }

    fn perform(&mut self, command: Command) {
        let t = self.t;
        if let Command::RequestProgress | Command::Probe = command {
            let lat = self.latency();
            // As the driver: a request is sent only on an open watch, a
            // probe only beside one.
            if let Op::Watch(w) = &mut self.op {
                if w.created {
                    if command == Command::Probe {
                        w.probe_answer_at = Some(t + 2 * lat);
                    } else if self.s.progress_requests_answered {
                        w.progress_answer_at = Some(t + 2 * lat);
                    }
                }
            }
            return;
        }
        self.op_id += 1;
        self.op = match command {
            Command::Read => Op::Read { issued: t },
            Command::ReadHistory { revision } => Op::History {
                issued: t,
                revision,
            },
            Command::Watch { start_revision } => {
                if self.is_silent() {
                    self.arm_stall_check();
                }
                Op::Watch(WatchOp {
                    issued: t,
                    created: false,
                    next: start_revision,
                    last_delivery: t,
                    progress_answer_at: None,
                    probe_answer_at: None,
                    next_notify: None,
                })
            }
            Command::BackOff { .. } | Command::RequestProgress | Command::Probe => Op::Idle,
        };
    }

    fn arm_stall_check(&mut self) {
        let c = &self.s.config;
        // A progress request, then a probe, each with its deadline.
        let at =
            self.t + c.progress_interval_ms + 2 * c.progress_deadline_ms + 6 * self.latency() + 1;
        self.stall = Some((at, self.op_id));
    }

    fn act(&mut self, action: Action) -> Result<(), Failure> {
        self.log(format!("{action:?}"));
        match action {
            Action::Put(_) | Action::Delete | Action::OtherKey => {
                apply_write(&mut self.etcd, action, self.t)
            }
            Action::Compact(keep) => {
                self.etcd.compact(keep);
                self.heal_at(self.t);
            }
            Action::Cancel => {
                if matches!(&self.op, Op::Watch(w) if w.created) && !self.is_silent() {
                    self.op = Op::Idle;
                    self.feed(Event::Canceled {
                        reason: "simulated cancel".to_owned(),
                    })?;
                }
                self.heal_at(self.t);
            }
            Action::Replay(back) => {
                let next = self.watch_next();
                let delivered = self.etcd.writes.partition_point(|x| x.mod_revision < next);
                let open = matches!(&self.op, Op::Watch(w) if w.created);
                if open && !self.is_silent() && delivered > usize::from(back) {
                    let write = self.etcd.writes[delivered - 1 - usize::from(back)].clone();
                    match &write.value {
                        Some(v) => self.feed(Event::Put {
                            kv: KeyValue {
                                value: v,
                                mod_revision: write.mod_revision,
                            },
                        })?,
                        None => self.feed(Event::Delete {
                            revision: write.mod_revision,
                        })?,
                    }
                }
                self.heal_at(self.t);
            }
            Action::ClockJump(ms) => {
                self.clock_offset += ms;
                if ms < 0 {
                    if let Some((at, id)) = self.stall {
                        // A step back counts as no time passing: the reducer
                        // may need one more timer period.
                        let c = &self.s.config;
                        let extra = c.progress_interval_ms.max(c.progress_deadline_ms);
                        self.stall = Some((at + extra, id));
                    }
                    self.jumped_back = true;
                }
                self.heal_at(self.t);
            }
            Action::Fault(fault, ms) => {
                self.stats.faults += 1;
                let until = self.t + ms;
                match fault {
                    Fault::SilentPartition => {
                        self.silent = Some((self.t, until));
                        if matches!(self.op, Op::Watch(_)) {
                            self.arm_stall_check();
                        }
                    }
                    Fault::FinPartition | Fault::MemberRestart => {
                        self.refused_until = until;
                        if !matches!(self.op, Op::Idle) {
                            self.op = Op::Idle;
                            self.feed(Event::Disconnected {
                                cause: "connection reset".to_owned(),
                            })?;
                        }
                    }
                    Fault::SlowLink(extra) => self.slow = Some((until, extra)),
                    Fault::LaggingMember(k) => self.lag = Some((until, k)),
                }
                self.heal_at(until);
            }
        }
        Ok(())
    }

    fn heal_at(&mut self, heal: u64) {
        self.checks.push((heal + self.s.recovery_bound(), heal));
    }

    /// After a heal: live, caught up with everything written before it.
    fn recovered(&self, heal: u64) -> Result<(), Failure> {
        let status = self.reducer.status();
        if status.state != State::Live {
            return Err(self.fail(format!(
                "not live {} ms after the fault healed at t={heal}",
                self.t - heal
            )));
        }
        let latest = self.etcd.latest_mod_revision(heal);
        if status.observed_revision < latest {
            return Err(self.fail(format!(
                "observed revision {} behind the key's revision {latest} written before the heal",
                status.observed_revision
            )));
        }
        if let Some(want) = self
            .etcd
            .newest_applicable(heal, self.floor.unwrap_or(i64::MAX))
        {
            if status.applied_revision < want.mod_revision {
                return Err(self.fail(format!(
                    "applied revision {} behind the newest applicable revision {}",
                    status.applied_revision, want.mod_revision
                )));
            }
        }
        Ok(())
    }
}
