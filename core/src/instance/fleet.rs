//! The fleet as a reader assembles it from reports, and how far the latest
//! write of the key has rolled out across it.
//!
//! Every reader (the CLI's `fleet` and `--wait`, the admin server's
//! `/api/fleet` and its event stream) builds a [`Fleet`] the same way: one
//! entry per report key, decoded here as untrusted input, and one rule
//! ([`InstanceReport::progress`]) for whether an instance has a revision.
//! A bad report is listed with its reason and counted nowhere else.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{InstanceReport, ReportState};

/// One instance's entry in a listing. It serializes as the report itself
/// (whose `id` is its key's), or as `{"id", "invalid"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedInstance {
    /// The id, from the report's key.
    pub id: String,
    /// The report, or why it was refused (listed, never fatal).
    pub report: Listed,
}

impl Serialize for ListedInstance {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Invalid<'a> {
            id: &'a str,
            invalid: &'a str,
        }
        match &self.report {
            // `put_report` lists a report only under its own id.
            Listed::Report(report) => report.serialize(serializer),
            Listed::Invalid { invalid } => Invalid {
                id: &self.id,
                invalid,
            }
            .serialize(serializer),
        }
    }
}

/// A report as listed: decoded, or refused with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Listed {
    /// A valid report.
    Report(Box<InstanceReport>),
    /// A report that does not decode.
    Invalid {
        /// Why it was refused.
        invalid: String,
    },
}

/// Most lost instances a fleet remembers (the newest).
pub const MAX_LOST: usize = 64;

/// The instances reporting on a key, and the revision of the key's latest
/// write.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Fleet {
    /// The revision of the key's latest write as this reader knows it: its
    /// mod revision, or the revision of the delete that removed it when the
    /// reader saw that delete (0 when absent and not seen deleted).
    pub key_revision: i64,
    /// Every report, ordered by id.
    pub instances: Vec<ListedInstance>,
    /// Instances whose report disappeared without a clean stop while this
    /// reader followed the fleet (their lease expired: killed, or cut off
    /// from etcd, which is also why they could not say so), newest first,
    /// at most [`MAX_LOST`]; one that reports again leaves this list. A
    /// single listing has none.
    pub lost: Vec<Lost>,
}

/// An instance whose report expired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lost {
    /// The instance.
    pub id: String,
    /// When its report disappeared, unix ms (as this reader saw it).
    pub since_ms: u64,
    /// The revision it applied in its last report.
    pub applied_revision: i64,
    /// Its labels in its last report.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Where one instance stands with respect to a revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Progress {
    /// It applies that revision or a later one.
    Applied,
    /// It refused that revision (or a later one) and keeps an older set.
    Refused,
    /// Disconnected from etcd, applying an older set.
    Stale,
    /// Not yet through its first read of the key.
    Initializing,
    /// Connected, not there yet.
    Lagging,
    /// Shutting down cleanly.
    Stopped,
    /// Its report expired (see [`Fleet::lost`]).
    Lost,
}

impl Progress {
    /// The name, as serialized: `applied`, `refused`, `stale`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Progress::Applied => "applied",
            Progress::Refused => "refused",
            Progress::Stale => "stale",
            Progress::Initializing => "initializing",
            Progress::Lagging => "lagging",
            Progress::Stopped => "stopped",
            Progress::Lost => "lost",
        }
    }
}

/// An instance that does not (yet) apply the rolled-out revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Straggler {
    /// The instance.
    pub id: String,
    /// Why it is behind.
    pub progress: Progress,
    /// The revision it applies.
    pub applied_revision: i64,
    /// Since when it is stale or lost, unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
    /// The refused value's error codes (refusals only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
}

/// How far a revision has rolled out: `applied` of `instances` have it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// The revision rolled out.
    pub revision: i64,
    /// Valid reports (invalid ones count nowhere).
    pub instances: usize,
    /// Instances applying `revision` or later.
    pub applied: usize,
    /// Every other instance, with why, ordered by id.
    pub stragglers: Vec<Straggler>,
}

/// A listing with the rollout of the key's latest write: the JSON of
/// `directivectl fleet --json` and of the admin API's `GET /api/fleet`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FleetStatus<'a> {
    /// As [`Fleet::key_revision`].
    pub key_revision: i64,
    /// How far `key_revision` has rolled out.
    pub rollout: Rollout,
    /// Every report (an invalid one is `{"id", "invalid"}`).
    pub instances: &'a [ListedInstance],
    /// As [`Fleet::lost`].
    pub lost: &'a [Lost],
}

impl InstanceReport {
    /// Where this instance stands with respect to `revision`: the one rule
    /// for "has it" used by every reader.
    pub fn progress(&self, revision: i64) -> Progress {
        if self.applied_revision >= revision {
            Progress::Applied
        } else if self
            .rejection
            .as_ref()
            .is_some_and(|r| r.revision >= revision)
        {
            Progress::Refused
        } else {
            match self.state {
                ReportState::Stale => Progress::Stale,
                ReportState::Initializing => Progress::Initializing,
                ReportState::Live => Progress::Lagging,
                ReportState::Stopped => Progress::Stopped,
            }
        }
    }
}

impl Fleet {
    /// An empty fleet at `key_revision`.
    pub fn new(key_revision: i64) -> Self {
        Fleet {
            key_revision,
            instances: Vec::new(),
            lost: Vec::new(),
        }
    }

    /// Inserts or replaces the report stored for `id` (from untrusted
    /// `bytes`: a report that does not decode, or whose id is not its
    /// key's, is listed as invalid). Returns true when the listing changed.
    pub fn put_report(&mut self, id: &str, bytes: &[u8]) -> bool {
        let report = match InstanceReport::decode(bytes) {
            Ok(report) if report.id == id => Listed::Report(Box::new(report)),
            Ok(report) => Listed::Invalid {
                invalid: format!("report names instance {:?}, not its key's", report.id),
            },
            Err(e) => Listed::Invalid {
                invalid: e.to_string(),
            },
        };
        let was_lost = self.lost.len();
        self.lost.retain(|l| l.id != id);
        let found_again = self.lost.len() != was_lost;
        match self.instances.binary_search_by(|i| i.id.as_str().cmp(id)) {
            Ok(at) if self.instances[at].report == report => found_again,
            Ok(at) => {
                self.instances[at].report = report;
                true
            }
            Err(at) => {
                self.instances.insert(
                    at,
                    ListedInstance {
                        id: id.to_owned(),
                        report,
                    },
                );
                true
            }
        }
    }

    /// Carries what a reader knew over to a fresh listing of the same key
    /// (after its watch failed): earlier losses stay lost unless reporting
    /// again, and an instance listed before but missing now, without a
    /// clean stop, was lost in between (at `now_ms`, as seen here).
    pub fn carry_over(&mut self, previous: &Fleet, now_ms: u64) {
        let mut lost: Vec<Lost> = previous
            .instances
            .iter()
            .filter(|p| !self.instances.iter().any(|i| i.id == p.id))
            .filter_map(|p| match &p.report {
                Listed::Report(r) if r.state != ReportState::Stopped => Some(Lost {
                    id: p.id.clone(),
                    since_ms: now_ms,
                    applied_revision: r.applied_revision,
                    labels: r.labels.clone(),
                }),
                _ => None,
            })
            .collect();
        lost.extend(
            previous
                .lost
                .iter()
                .filter(|l| !self.instances.iter().any(|i| i.id == l.id))
                .cloned(),
        );
        lost.truncate(MAX_LOST);
        self.lost = lost;
    }

    /// Removes `id`'s report, deleted at `now_ms`: after a clean stop (its
    /// last report said [`ReportState::Stopped`]) it is simply gone;
    /// otherwise its lease expired and it is remembered in
    /// [`Fleet::lost`]. Returns true when it was listed.
    pub fn remove(&mut self, id: &str, now_ms: u64) -> bool {
        let Ok(at) = self.instances.binary_search_by(|i| i.id.as_str().cmp(id)) else {
            return false;
        };
        let gone = self.instances.remove(at);
        if let Listed::Report(report) = gone.report {
            if report.state != ReportState::Stopped {
                self.lost.insert(
                    0,
                    Lost {
                        id: gone.id,
                        since_ms: now_ms,
                        applied_revision: report.applied_revision,
                        labels: report.labels,
                    },
                );
                self.lost.truncate(MAX_LOST);
            }
        }
        true
    }

    /// The valid reports.
    pub fn reports(&self) -> impl Iterator<Item = &InstanceReport> {
        self.instances.iter().filter_map(|i| match &i.report {
            Listed::Report(r) => Some(r.as_ref()),
            Listed::Invalid { .. } => None,
        })
    }

    /// The listing with the rollout of the key's latest write.
    pub fn status(&self) -> FleetStatus<'_> {
        FleetStatus {
            key_revision: self.key_revision,
            rollout: self.rollout(self.key_revision),
            instances: &self.instances,
            lost: &self.lost,
        }
    }

    /// How far `revision` has rolled out across the valid reports; lost
    /// instances that had not applied it are stragglers too (not counted
    /// in `instances`).
    pub fn rollout(&self, revision: i64) -> Rollout {
        let mut rollout = Rollout {
            revision,
            instances: 0,
            applied: 0,
            stragglers: Vec::new(),
        };
        for report in self.reports() {
            rollout.instances += 1;
            let progress = report.progress(revision);
            if progress == Progress::Applied {
                rollout.applied += 1;
                continue;
            }
            rollout.stragglers.push(Straggler {
                id: report.id.clone(),
                progress,
                applied_revision: report.applied_revision,
                since_ms: report.stale_since_ms,
                codes: match (progress, &report.rejection) {
                    (Progress::Refused, Some(r)) => r.codes.clone(),
                    _ => Vec::new(),
                },
            });
        }
        rollout.stragglers.extend(
            self.lost
                .iter()
                .filter(|l| l.applied_revision < revision)
                .map(|l| Straggler {
                    id: l.id.clone(),
                    progress: Progress::Lost,
                    applied_revision: l.applied_revision,
                    since_ms: Some(l.since_ms),
                    codes: Vec::new(),
                }),
        );
        rollout
    }
}

#[cfg(test)]
mod tests {
    use super::super::ReportedRejection;
    use super::*;

    fn report(id: &str, state: ReportState, applied: i64) -> InstanceReport {
        InstanceReport {
            id: id.to_owned(),
            labels: Default::default(),
            version: "1.0.0".to_owned(),
            state,
            stale_since_ms: (state == ReportState::Stale).then_some(5),
            applied_revision: applied,
            observed_revision: applied,
            applied_at_ms: None,
            rejection: None,
            changed_at_ms: 1,
        }
    }

    #[test]
    fn progress_classifies_each_instance_against_the_revision() {
        assert_eq!(
            report("a", ReportState::Stale, 9).progress(9),
            Progress::Applied
        );
        assert_eq!(
            report("a", ReportState::Live, 8).progress(9),
            Progress::Lagging
        );
        assert_eq!(
            report("a", ReportState::Stale, 8).progress(9),
            Progress::Stale
        );
        assert_eq!(
            report("a", ReportState::Initializing, 0).progress(9),
            Progress::Initializing
        );
        let mut refused = report("a", ReportState::Live, 8);
        refused.rejection = Some(ReportedRejection {
            revision: 9,
            codes: vec!["unknown_field".to_owned()],
        });
        assert_eq!(refused.progress(9), Progress::Refused);
        // A refusal of an older revision says nothing about this one.
        assert_eq!(refused.progress(10), Progress::Lagging);
    }

    #[test]
    fn listing_keeps_ids_ordered_and_lists_bad_reports_as_invalid() {
        let mut fleet = Fleet::new(9);
        assert!(fleet.put_report("b", &report("b", ReportState::Live, 9).encode()));
        assert!(fleet.put_report("a", &report("a", ReportState::Stale, 7).encode()));
        assert!(!fleet.put_report("a", &report("a", ReportState::Stale, 7).encode()));
        assert!(fleet.put_report("c", b"{not json"));
        assert!(fleet.put_report("d", &report("x", ReportState::Live, 9).encode()));
        let ids: Vec<&str> = fleet.instances.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        assert!(matches!(
            &fleet.instances[3].report,
            Listed::Invalid { invalid } if invalid.contains("\"x\"")
        ));
        let rollout = fleet.rollout(9);
        assert_eq!((rollout.instances, rollout.applied), (2, 1));
        assert_eq!(rollout.stragglers.len(), 1);
        assert_eq!(rollout.stragglers[0].id, "a");
        assert_eq!(rollout.stragglers[0].progress, Progress::Stale);
        assert_eq!(rollout.stragglers[0].since_ms, Some(5));
        assert!(fleet.remove("a", 100));
        assert!(!fleet.remove("a", 101));
        assert_eq!(fleet.rollout(9).applied, 1);
        // `a` left without a clean stop: lost, and a straggler of r9.
        assert_eq!(fleet.lost.len(), 1);
        assert_eq!(
            (fleet.lost[0].id.as_str(), fleet.lost[0].since_ms),
            ("a", 100)
        );
        let rollout = fleet.rollout(9);
        assert_eq!(rollout.instances, 1);
        assert_eq!(rollout.stragglers[0].progress, Progress::Lost);
        // A clean stop is not a loss; reporting again ends a loss.
        let b = report("b", ReportState::Live, 9);
        assert!(fleet.put_report("b", &b.stopped().encode()));
        assert_eq!(fleet.rollout(10).stragglers[0].progress, Progress::Stopped);
        assert!(fleet.remove("b", 102));
        assert_eq!(fleet.lost.len(), 1);
        assert!(fleet.put_report("a", &report("a", ReportState::Live, 9).encode()));
        assert!(fleet.lost.is_empty());
    }

    #[test]
    fn progress_names_are_the_serialized_ones() {
        for p in [
            Progress::Applied,
            Progress::Refused,
            Progress::Stale,
            Progress::Initializing,
            Progress::Lagging,
            Progress::Stopped,
            Progress::Lost,
        ] {
            let serialized = serde_json::to_string(&p).expect("json");
            assert_eq!(serialized, format!("\"{}\"", p.as_str()));
        }
    }

    #[test]
    fn a_relisting_keeps_losses_and_finds_the_ones_in_between() {
        let mut before = Fleet::new(9);
        before.put_report("a", &report("a", ReportState::Live, 9).encode());
        before.put_report("b", &report("b", ReportState::Live, 9).encode());
        before.put_report("c", &report("c", ReportState::Live, 9).stopped().encode());
        before.put_report("d", &report("d", ReportState::Live, 8).encode());
        before.remove("d", 50);
        let mut after = Fleet::new(9);
        after.put_report("a", &report("a", ReportState::Live, 9).encode());
        after.carry_over(&before, 60);
        let lost: Vec<(&str, u64)> = after
            .lost
            .iter()
            .map(|l| (l.id.as_str(), l.since_ms))
            .collect();
        // b vanished while nobody watched; c stopped cleanly; d stays lost.
        assert_eq!(lost, [("b", 60), ("d", 50)]);
    }

    #[test]
    fn an_instance_serializes_with_one_id() {
        let mut fleet = Fleet::new(9);
        fleet.put_report("a", &report("a", ReportState::Live, 9).encode());
        fleet.put_report("z", b"junk");
        let text = serde_json::to_string(&fleet.instances).expect("serializes");
        assert_eq!(text.matches("\"id\"").count(), 2, "{text}");
        assert!(text.starts_with("[{\"id\":\"a\",\"labels\""), "{text}");
        assert!(text.contains("{\"id\":\"z\",\"invalid\":"), "{text}");
    }
}
