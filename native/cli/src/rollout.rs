//! `--wait` for `publish`, `rollback` and `clear`: after the write, wait
//! until the fleet applied it, as its instances report (ADR 0011), the way
//! `kubectl rollout status` waits for a Deployment.
//!
//! Ready means an instance reports an applied revision at or after the
//! written one (`InstanceReport::progress`, the rule every reader shares).
//! The default target is every instance that is live when the wait starts;
//! `--min-ready N` or `P%` lowers it. Exit 0 when satisfied, [`EXIT_TIMEOUT`] naming every straggler, [`crate::EXIT_INVALID`] at once
//! when an instance refused the written revision (only possible when
//! instances run a different decoder version than this CLI).

use std::io::IsTerminal;
use std::time::Duration;

use directive_core::instance::{InstanceReport, Progress, ReportState};
use directive_etcd::Publisher;
use tokio_util::sync::CancellationToken;

use crate::history::iso8601_utc;
use crate::publish::report_publish_error;
use crate::{EXIT_INVALID, EXIT_OK};

/// Exit code: `--wait` timed out before enough instances applied the write.
pub const EXIT_TIMEOUT: u8 = 4;

/// The `--wait` flags.
#[derive(clap::Args, Clone, Debug)]
pub struct WaitArgs {
    /// After the write, wait until the instances applied it, at most this
    /// long (`90s`, `2m`, `500ms`; `--wait` alone: 60s). Exit 4 on timeout.
    #[arg(long, value_name = "DURATION", num_args = 0..=1,
          default_missing_value = "60s", value_parser = parse_duration)]
    wait: Option<Duration>,
    /// With --wait: how many instances must apply it, `N` or `P%` of the
    /// instances live when the wait starts (default: all of them).
    #[arg(long, value_name = "N|P%", requires = "wait", value_parser = parse_min_ready)]
    min_ready: Option<MinReady>,
}

/// `--min-ready`: a count or a percentage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MinReady {
    /// This many instances.
    Count(usize),
    /// This percentage (rounded up) of the live instances.
    Percent(u8),
}

/// Parses `90s`, `2m`, `500ms` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (digits, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |i| text.split_at(i));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration like 90s, 2m or 500ms"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(format!("{text:?}: the unit must be ms, s or m")),
    }
}

impl WaitArgs {
    /// True when `--wait` was not given.
    pub fn is_none(&self) -> bool {
        self.wait.is_none()
    }
}

fn parse_min_ready(text: &str) -> Result<MinReady, String> {
    let bad = || format!("{text:?}: expected a count (3) or a percentage (75%)");
    match text.strip_suffix('%') {
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= 100 => Ok(MinReady::Percent(p)),
            _ => Err(bad()),
        },
        None => text.parse().map(MinReady::Count).map_err(|_| bad()),
    }
}

/// Warns on stderr when no instance reports on `key`: a typo in `--key`
/// (or a fleet that does not report) otherwise looks like success. Reading
/// the reports failing is not worth a warning of its own.
pub async fn warn_if_unwatched(publisher: &Publisher, key: &str) {
    if let Ok(fleet) = publisher.fleet().await {
        if fleet.instances.is_empty() {
            eprintln!("directivectl: warning: no instance reports on {key} (is --key right?)");
        }
    }
}

/// `b: stale since ...Z at r15`, `b: lagging at r15`, ...
fn describe(r: &InstanceReport, revision: i64) -> String {
    match r.progress(revision) {
        Progress::Stale => format!(
            "{}: stale since {} at r{}",
            r.id,
            r.stale_since_ms.map_or_else(|| "?".to_owned(), iso8601_utc),
            r.applied_revision
        ),
        Progress::Initializing => format!("{}: initializing", r.id),
        _ => format!("{}: live at r{}", r.id, r.applied_revision),
    }
}

/// Waits as `args` say for `revision` on `key`; `None` when not asked to.
/// Follows the reports through one watch (no polling): every report write
/// re-evaluates the rollout at once.
pub async fn wait(publisher: &Publisher, key: &str, revision: i64, args: &WaitArgs) -> Option<u8> {
    let timeout = args.wait?;
    let deadline = tokio::time::Instant::now() + timeout;
    let start = match publisher.fleet().await {
        Ok(fleet) => fleet,
        Err(e) => return Some(report_publish_error(&e, false)),
    };
    let targets: std::collections::BTreeSet<String> = start
        .reports()
        .filter(|r| r.state == ReportState::Live)
        .map(|r| r.id.clone())
        .collect();
    if targets.is_empty() {
        eprintln!("directivectl: no live instance reports on {key}: nothing to wait for");
        return Some(EXIT_OK);
    }
    let required = match args.min_ready {
        None => targets.len(),
        Some(MinReady::Count(n)) if n > targets.len() => {
            // Only the instances live now count: asking for more could
            // never be met, so wait for all of them instead.
            eprintln!(
                "directivectl: --min-ready {n}, but only {} instance(s) are live: waiting for all \
                 of them",
                targets.len()
            );
            targets.len()
        }
        Some(MinReady::Count(n)) => n,
        Some(MinReady::Percent(p)) => (targets.len() * usize::from(p)).div_ceil(100),
    };
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let mut updates = publisher.watch_fleet(cancel);
    let terminal = std::io::stderr().is_terminal();
    let mut shown = None;
    let mut now = start;
    loop {
        let rollout = now.rollout(revision);
        if let Some(refusal) = rollout
            .stragglers
            .iter()
            .find(|s| s.progress == Progress::Refused)
        {
            eprintln!(
                "directivectl: instance {} refused revision {revision} ({}): it runs a \
                 different decoder than this CLI",
                refusal.id,
                refusal.codes.join(", ")
            );
            return Some(EXIT_INVALID);
        }
        // Only the targets count: a newcomer does not stand in for one.
        let ready = now
            .reports()
            .filter(|r| targets.contains(&r.id) && r.progress(revision) == Progress::Applied)
            .count();
        if shown != Some(ready) {
            let line = format!("{ready}/{required} applied r{revision}");
            if terminal {
                eprint!("\r{line}");
            } else {
                eprintln!("{line}");
            }
            shown = Some(ready);
        }
        if ready >= required {
            if terminal {
                eprintln!();
            }
            return Some(EXIT_OK);
        }
        let changed = tokio::time::timeout_at(deadline, updates.changed()).await;
        if !matches!(changed, Ok(Ok(()))) {
            if terminal {
                eprintln!();
            }
            eprintln!(
                "directivectl: timed out after {timeout:?}: {ready} of {required} instance(s) \
                 applied r{revision}; waiting on:"
            );
            for r in now
                .reports()
                .filter(|r| targets.contains(&r.id) && r.progress(revision) != Progress::Applied)
            {
                eprintln!("  {}", describe(r, revision));
            }
            for gone in targets
                .iter()
                .filter(|t| !now.reports().any(|r| &r.id == *t))
            {
                eprintln!("  {gone}: no longer reporting");
            }
            return Some(EXIT_TIMEOUT);
        }
        now = updates.borrow_and_update().clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_targets_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("s").is_err());
        assert_eq!(parse_min_ready("3"), Ok(MinReady::Count(3)));
        assert_eq!(parse_min_ready("75%"), Ok(MinReady::Percent(75)));
        assert!(parse_min_ready("101%").is_err());
        assert!(parse_min_ready("x").is_err());
    }
}
