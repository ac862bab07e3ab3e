//! Where the reducer is in its cycle, and the clock its timers run on.
//!
//! One explicit phase replaces what used to be a set of flags (`read_done`,
//! `recovery`, `has_applied`): a history walk outside startup, a watch that
//! is not live yet after a read, or a backoff with a stream still open are
//! unrepresentable.

use super::event::Retry;

/// What the shell is doing on the reducer's behalf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// A full read of the key is outstanding.
    Reading {
        /// The read follows a compaction of the watch's start revision.
        after_compaction: bool,
    },
    /// At startup, the current value was malformed: walking back through the
    /// key's history; a history read is outstanding.
    ReadingHistory {
        /// Where the watch starts once the walk ends (the first read's revision + 1).
        resume_from: i64,
        /// How many more versions may be inspected.
        steps_left: u32,
    },
    /// The watch is open (or opening) after a completed read.
    Watching {
        /// When the stream last proved alive (or was opened), monotonic ms.
        heard_at: u64,
        /// What the silent stream was asked, and when (monotonic ms).
        asked: Asked,
        /// Opened right after a compaction's re-read and not heard from yet.
        after_compaction: bool,
        /// This stream left a progress request unanswered while a read of
        /// the key proved the path alive (a proxy that does not forward
        /// progress requests): its silences are checked with reads only.
        probing: bool,
    },
    /// Waiting out a backoff delay before `then`.
    BackingOff {
        /// When the delay ends, monotonic ms.
        until: u64,
        /// What happens then.
        then: Retry,
    },
}

/// How a silent watch is being checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Asked {
    /// Not at all: it was heard from within the progress interval.
    Nothing,
    /// A progress request went out at this time.
    Progress(u64),
    /// A read of the key went out at this time.
    Probe(u64),
    /// A read found the key past what the watch delivered, at this time:
    /// the watch has until the deadline to deliver it.
    Behind(u64),
}

/// A monotonic clock derived from the wall-clock times the shell passes in.
///
/// Directive TTLs need wall time (unix ms), timers need time that never
/// goes back: a wall clock stepped back by an hour must not delay stall
/// detection by an hour. Elapsed time is counted only forward; a step back
/// counts as no time passing. Deadlines are kept on this clock and turned
/// back into the caller's wall time only when asked.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Clock {
    wall: Option<u64>,
    mono: u64,
}

impl Clock {
    /// Records the caller's `now` and returns the monotonic time.
    pub(super) fn tick(&mut self, wall_ms: u64) -> u64 {
        if let Some(last) = self.wall {
            self.mono = self.mono.saturating_add(wall_ms.saturating_sub(last));
        }
        self.wall = Some(wall_ms);
        self.mono
    }

    /// A monotonic deadline as the caller's wall time (due now if passed).
    pub(super) fn to_wall(self, deadline: u64) -> u64 {
        self.wall
            .unwrap_or(0)
            .saturating_add(deadline.saturating_sub(self.mono))
    }
}
