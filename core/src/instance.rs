//! Instance reports: what one instance of the fleet applied, in the form it
//! publishes it for operators (issue 13's rollout view).
//!
//! Each instance writes one small JSON report under a lease at
//! [`report_key`] (`<key>/instances/<id>`): a watch on the directive key
//! itself never sees these, a watch on [`reports_prefix`] sees them all, and
//! an instance that stops renewing its lease disappears with it. A report
//! carries revisions, states, times and error *codes*, never directive
//! values, so a reader of reports learns no tenant or principal.
//!
//! Every reader (store, CLI, admin server, browser) decodes reports here,
//! as untrusted input: anyone with write access to etcd can put anything
//! under the prefix, so a report is bounded ([`MAX_REPORT_BYTES`]), strict
//! (unknown fields refused) and checked field by field, and a bad one is a
//! [`ReportError`] saying what and where, never a panic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod fleet;

pub use fleet::{
    Fleet, FleetStatus, Listed, ListedInstance, Lost, Progress, Rollout, Straggler, MAX_LOST,
};

use crate::{State, Status};

/// Largest report accepted, in bytes.
pub const MAX_REPORT_BYTES: usize = 4096;
/// Longest instance id, in bytes (visible ASCII, no `/`).
pub const MAX_ID_LEN: usize = 128;
/// Most labels a report may carry.
pub const MAX_LABELS: usize = 16;
/// Longest label name or value, in bytes.
pub const MAX_LABEL_LEN: usize = 64;
/// Most rejection codes a report carries (the first ones, in order).
pub const MAX_CODES: usize = 16;

/// The report of one instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceReport {
    /// The instance's id (unique within the fleet).
    pub id: String,
    /// Operator-chosen labels (host, zone, version, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The version of the store library that wrote the report.
    pub version: String,
    /// `initializing`, `live` or `stale`.
    pub state: ReportState,
    /// When the instance went stale, unix ms (only when stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_since_ms: Option<u64>,
    /// The revision of the snapshot it applies: a value's mod revision, or
    /// for an absent key the revision at which it read the absence (0
    /// before any read).
    pub applied_revision: i64,
    /// The highest revision of the key it knows it reflects.
    pub observed_revision: i64,
    /// When its applied set last changed, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at_ms: Option<u64>,
    /// The last value it refused: revision and error codes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<ReportedRejection>,
    /// When anything in this report last changed, unix ms.
    pub changed_at_ms: u64,
}

/// An instance's connection state, as reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportState {
    /// No read of the key has completed yet.
    Initializing,
    /// Connected; the applied set reflects etcd.
    Live,
    /// Disconnected; applying its last known good set.
    Stale,
    /// Shutting down cleanly: the report's last write, just before its
    /// lease is revoked (so a reader tells a clean stop from a lost
    /// instance, whose report expires with no such write).
    Stopped,
}

impl ReportState {
    /// The state's name, as serialized: `initializing`, `live` or `stale`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportState::Initializing => "initializing",
            ReportState::Live => "live",
            ReportState::Stale => "stale",
            ReportState::Stopped => "stopped",
        }
    }
}

/// The last value an instance refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedRejection {
    /// The refused value's revision.
    pub revision: i64,
    /// Its error codes (at most [`MAX_CODES`], in the decoder's order).
    pub codes: Vec<String>,
}

/// Why a report (or an instance id) was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Larger than [`MAX_REPORT_BYTES`].
    #[error("report is {len} bytes, more than {MAX_REPORT_BYTES}")]
    TooLarge {
        /// Its size.
        len: usize,
    },
    /// Not a report: bad JSON, a missing or unknown field, a wrong type.
    #[error("report does not match the schema: {0}")]
    Schema(String),
    /// A field out of bounds.
    #[error("report field `{field}` {problem}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

fn field(field: &'static str, problem: &'static str) -> ReportError {
    ReportError::Field { field, problem }
}

/// Checks an instance id: 1 to [`MAX_ID_LEN`] bytes of visible ASCII, no
/// `/` (it is one key segment).
pub fn check_id(id: &str) -> Result<(), ReportError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(field("id", "must be 1 to 128 bytes"));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
        return Err(field("id", "must be visible ASCII without `/`"));
    }
    Ok(())
}

/// Checks labels: at most [`MAX_LABELS`], names and values at most
/// [`MAX_LABEL_LEN`] bytes, names non-empty visible ASCII.
pub fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), ReportError> {
    if labels.len() > MAX_LABELS {
        return Err(field("labels", "has more than 16 entries"));
    }
    for (name, value) in labels {
        if name.is_empty()
            || name.len() > MAX_LABEL_LEN
            || !name.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(field(
                "labels",
                "has a name that is not 1 to 64 visible ASCII bytes",
            ));
        }
        if value.len() > MAX_LABEL_LEN || value.chars().any(char::is_control) {
            return Err(field(
                "labels",
                "has a value over 64 bytes or with control characters",
            ));
        }
    }
    Ok(())
}

/// The prefix under which every instance of `key` reports.
pub fn reports_prefix(key: &str) -> String {
    format!("{key}/instances/")
}

/// The key of instance `id`'s report for directive key `key`.
pub fn report_key(key: &str, id: &str) -> Result<String, ReportError> {
    check_id(id)?;
    Ok(format!("{}{id}", reports_prefix(key)))
}

impl InstanceReport {
    /// The report of instance `id` for `status`, stamped `changed_at_ms`.
    pub fn from_status(
        id: &str,
        labels: &BTreeMap<String, String>,
        version: &str,
        status: &Status,
        changed_at_ms: u64,
    ) -> Self {
        let (state, stale_since_ms) = match status.state {
            State::Initializing => (ReportState::Initializing, None),
            State::Live => (ReportState::Live, None),
            State::Stale { since_ms } => (ReportState::Stale, Some(since_ms)),
        };
        InstanceReport {
            id: id.to_owned(),
            labels: labels.clone(),
            version: version.to_owned(),
            state,
            stale_since_ms,
            applied_revision: status.applied_revision,
            observed_revision: status.observed_revision,
            applied_at_ms: status.last_update_ms,
            rejection: status.last_rejection.as_ref().map(|r| ReportedRejection {
                revision: r.revision,
                codes: r
                    .errors
                    .iter()
                    .take(MAX_CODES)
                    .map(|e| e.code.as_str().to_owned())
                    .collect(),
            }),
            changed_at_ms,
        }
    }

    /// True when `other` says the same apart from its time stamp: nothing
    /// to write.
    pub fn same_as(&self, other: &InstanceReport) -> bool {
        InstanceReport {
            changed_at_ms: other.changed_at_ms,
            ..self.clone()
        } == *other
    }

    /// The same report, saying the instance is stopping (its last write).
    pub fn stopped(&self) -> Self {
        InstanceReport {
            state: ReportState::Stopped,
            stale_since_ms: None,
            ..self.clone()
        }
    }

    /// The report as stored (compact JSON).
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain strings, integers and maps cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a report from untrusted bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, ReportError> {
        if bytes.len() > MAX_REPORT_BYTES {
            return Err(ReportError::TooLarge { len: bytes.len() });
        }
        let report: InstanceReport =
            serde_json::from_slice(bytes).map_err(|e| ReportError::Schema(e.to_string()))?;
        check_id(&report.id)?;
        check_labels(&report.labels)?;
        if report.version.is_empty() || report.version.len() > MAX_LABEL_LEN {
            return Err(field("version", "must be 1 to 64 bytes"));
        }
        if report.applied_revision < 0 || report.observed_revision < 0 {
            return Err(field("applied_revision", "must not be negative"));
        }
        if (report.state == ReportState::Stale) != report.stale_since_ms.is_some() {
            return Err(field("stale_since_ms", "is present exactly when stale"));
        }
        if let Some(r) = &report.rejection {
            if r.codes.len() > MAX_CODES
                || r.codes
                    .iter()
                    .any(|c| c.is_empty() || c.len() > MAX_LABEL_LEN)
            {
                return Err(field("rejection", "has more than 16 codes or an odd code"));
            }
        }
        Ok(report)
    }
}

/// When an instance writes its report: only when something other than the
/// time stamp changed, and at most once per `interval_ms` (sans-IO: the
/// shell passes the time in, performs the write it is handed, and says how
/// it went).
#[derive(Clone, Debug)]
pub struct ReportSchedule {
    interval_ms: u64,
    /// The newest report not yet written.
    pending: Option<InstanceReport>,
    /// What etcd holds (as far as we know); `None` after a failure or a new
    /// lease, so the next report is written whatever it says.
    written: Option<InstanceReport>,
    last_write_ms: Option<u64>,
}

impl ReportSchedule {
    /// A schedule writing at most once per `interval_ms`.
    pub fn new(interval_ms: u64) -> Self {
        ReportSchedule {
            interval_ms,
            pending: None,
            written: None,
            last_write_ms: None,
        }
    }

    /// The instance's current report: queued unless etcd already says the same.
    pub fn observe(&mut self, report: InstanceReport) {
        let unchanged = self.written.as_ref().is_some_and(|w| w.same_as(&report));
        self.pending = (!unchanged).then_some(report);
    }

    /// The report to write now, if one is due; the shell writes it and calls
    /// [`Self::written`] or [`Self::failed`].
    pub fn poll_write(&mut self, now_ms: u64) -> Option<InstanceReport> {
        if self.poll_timeout()? > now_ms {
            return None;
        }
        self.pending.take()
    }

    /// When the next write is due (unix ms), if one is pending.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.pending.as_ref()?;
        Some(
            self.last_write_ms
                .map_or(0, |last| last.saturating_add(self.interval_ms)),
        )
    }

    /// `report` was written at `now_ms`.
    pub fn written(&mut self, report: InstanceReport, now_ms: u64) {
        self.written = Some(report);
        self.last_write_ms = Some(now_ms);
    }

    /// Writing `report` failed at `now_ms` (or its lease was lost): it is
    /// written again, whatever it says, after the interval.
    pub fn failed(&mut self, report: InstanceReport, now_ms: u64) {
        self.written = None;
        self.last_write_ms = Some(now_ms);
        if self.pending.is_none() {
            self.pending = Some(report);
        }
    }

    /// A new lease: etcd holds no report of ours any more.
    pub fn lease_lost(&mut self) {
        if let Some(w) = self.written.take() {
            self.pending.get_or_insert(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, Limits, Rejection};

    fn status() -> Status {
        let errors = decode(
            br#"{"directives":[{"id":"x","level":"Loud"}]}"#,
            0,
            &Limits::default(),
        )
        .expect_err("invalid")
        .errors;
        Status {
            state: State::Stale { since_ms: 50 },
            applied_revision: 7,
            observed_revision: 9,
            last_update_ms: Some(40),
            last_rejection: Some(Rejection {
                revision: 9,
                at_ms: 45,
                errors,
            }),
            ..Status::default()
        }
    }

    #[test]
    fn a_report_round_trips_and_carries_codes_not_values() {
        let labels = BTreeMap::from([("zone".to_owned(), "eu-1".to_owned())]);
        let report = InstanceReport::from_status("proxy-1", &labels, "1.2.3", &status(), 60);
        let bytes = report.encode();
        assert_eq!(InstanceReport::decode(&bytes), Ok(report.clone()));
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(
            text.contains(r#""state":"stale","stale_since_ms":50"#),
            "{text}"
        );
        let codes: Vec<String> = status()
            .last_rejection
            .expect("rejection")
            .errors
            .iter()
            .map(|e| e.code.as_str().to_owned())
            .collect();
        assert!(!codes.is_empty());
        assert_eq!(report.rejection.as_ref().map(|r| &r.codes), Some(&codes));
        assert!(!text.contains("Loud"), "no input value leaks: {text}");
        assert_eq!(report.rejection.as_ref().map(|r| r.revision), Some(9));
        for state in [
            ReportState::Initializing,
            ReportState::Live,
            ReportState::Stale,
            ReportState::Stopped,
        ] {
            let serialized = serde_json::to_string(&state).expect("json");
            assert_eq!(serialized, format!("\"{}\"", state.as_str()));
        }
    }

    #[test]
    fn only_a_change_beyond_the_time_stamp_is_a_change() {
        let labels = BTreeMap::new();
        let a = InstanceReport::from_status("p", &labels, "1", &status(), 1);
        let b = InstanceReport::from_status("p", &labels, "1", &status(), 2);
        assert!(a.same_as(&b));
        let mut moved = status();
        moved.applied_revision = 8;
        let c = InstanceReport::from_status("p", &labels, "1", &moved, 2);
        assert!(!a.same_as(&c));
    }

    #[test]
    fn untrusted_reports_are_refused_with_what_is_wrong() {
        let good = InstanceReport::from_status("p", &BTreeMap::new(), "1", &Status::default(), 1);
        let mut v = serde_json::to_value(&good).expect("json");
        assert!(InstanceReport::decode(&serde_json::to_vec(&v).expect("bytes")).is_ok());
        let refused = |v: &serde_json::Value| {
            InstanceReport::decode(&serde_json::to_vec(v).expect("bytes")).expect_err("refused")
        };
        v["extra"] = 1.into();
        assert!(matches!(refused(&v), ReportError::Schema(m) if m.contains("extra")));
        v.as_object_mut().expect("object").remove("extra");
        v["id"] = "a/b".into();
        assert_eq!(
            refused(&v).to_string(),
            "report field `id` must be visible ASCII without `/`"
        );
        v["id"] = "p".into();
        v["state"] = "stale".into();
        assert_eq!(
            refused(&v).to_string(),
            "report field `stale_since_ms` is present exactly when stale"
        );
        v["state"] = "live".into();
        v["applied_revision"] = (-1).into();
        assert!(matches!(
            refused(&v),
            ReportError::Field {
                field: "applied_revision",
                ..
            }
        ));
        assert!(matches!(
            InstanceReport::decode(&vec![b' '; MAX_REPORT_BYTES + 1]),
            Err(ReportError::TooLarge { .. })
        ));
        assert!(matches!(
            InstanceReport::decode(b"\xff{"),
            Err(ReportError::Schema(_))
        ));
    }

    #[test]
    fn the_schedule_writes_changes_only_and_at_most_once_per_interval() {
        let labels = BTreeMap::new();
        let at = |rev: i64, t: u64| {
            let s = Status {
                applied_revision: rev,
                ..Status::default()
            };
            InstanceReport::from_status("p", &labels, "1", &s, t)
        };
        let mut schedule = ReportSchedule::new(1000);
        assert_eq!(schedule.poll_timeout(), None, "nothing to write");
        schedule.observe(at(1, 0));
        let first = schedule
            .poll_write(0)
            .expect("the first report goes at once");
        schedule.written(first, 0);
        schedule.observe(at(1, 500));
        assert_eq!(schedule.poll_timeout(), None, "only the time stamp changed");
        schedule.observe(at(2, 100));
        schedule.observe(at(3, 200));
        assert_eq!(
            schedule.poll_timeout(),
            Some(1000),
            "coalesced until the interval"
        );
        assert!(schedule.poll_write(999).is_none());
        let next = schedule.poll_write(1000).expect("due");
        assert_eq!(next.applied_revision, 3, "the newest wins");
        schedule.failed(next, 1000);
        let again = schedule
            .poll_write(2000)
            .expect("a failed write is retried");
        assert_eq!(again.applied_revision, 3);
        schedule.written(again, 2000);
        schedule.lease_lost();
        assert_eq!(
            schedule.poll_write(3000).map(|r| r.applied_revision),
            Some(3),
            "a new lease gets the report again"
        );
    }

    #[test]
    fn keys_are_one_segment_under_the_directive_key() {
        assert_eq!(
            reports_prefix("osproxy/directives"),
            "osproxy/directives/instances/"
        );
        assert_eq!(
            report_key("osproxy/directives", "host-1:8081").as_deref(),
            Ok("osproxy/directives/instances/host-1:8081")
        );
        assert!(report_key("k", "").is_err());
        assert!(report_key("k", "a/b").is_err());
        assert!(report_key("k", &"x".repeat(MAX_ID_LEN + 1)).is_err());
    }
}
