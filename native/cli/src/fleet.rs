//! `directivectl fleet`: the instances watching the key, as they report
//! themselves under `<key>/instances/` (ADR 0011): which revision each
//! applies, whether it is current, live or stale and since when, and the
//! last value it refused.

use directive_core::instance::{InstanceReport, ReportState};
use directive_etcd::{Fleet, Listed};

use crate::etcd_args::EtcdArgs;
use crate::history::iso8601_utc;
use crate::publish::{connect_publisher, report_publish_error};
use crate::{print_json, EXIT_ERROR, EXIT_OK};

/// Arguments of `fleet`.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  directivectl fleet --endpoints http://127.0.0.1:2379 --selector zone=eu-1\n\n\
    One line per instance: id, state, applied revision, `current` or `behind` the key's \
    revision, since (UTC), labels, last refused revision and codes; then a summary. \
    Instances report only when their store opts in (StoreOptions::with_instance)."
)]
pub struct Args {
    #[command(flatten)]
    etcd: EtcdArgs,
    /// Only instances with this label (`name=value`, repeatable: all must match).
    #[arg(long = "selector", value_name = "NAME=VALUE")]
    selectors: Vec<String>,
    /// Print `{"key_revision","instances":[...]}` (an invalid report is
    /// `{"id","invalid"}`).
    #[arg(long)]
    json: bool,
}

/// Runs `fleet`.
pub async fn run(args: Args) -> u8 {
    let mut selectors = Vec::new();
    for s in &args.selectors {
        match s.split_once('=') {
            Some((name, value)) if !name.is_empty() => selectors.push((name, value)),
            _ => {
                eprintln!("directivectl: --selector {s:?}: expected NAME=VALUE");
                return EXIT_ERROR;
            }
        }
    }
    let publisher = match connect_publisher(&args.etcd).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut fleet = match publisher.fleet().await {
        Ok(fleet) => fleet,
        Err(e) => return report_publish_error(&e, false),
    };
    if !selectors.is_empty() {
        fleet.instances.retain(|i| match &i.report {
            Listed::Report(r) => selectors
                .iter()
                .all(|(n, v)| r.labels.get(*n).map(String::as_str) == Some(*v)),
            Listed::Invalid { .. } => false,
        });
    }
    if args.json {
        return print_json(&fleet);
    }
    if fleet.instances.is_empty() {
        eprintln!(
            "directivectl: no instance reports on {} (do the stores use StoreOptions::with_instance, \
             and is --key right?)",
            args.etcd.key
        );
    }
    for instance in &fleet.instances {
        match &instance.report {
            Listed::Report(r) => println!("{}", line(r, fleet.key_revision)),
            Listed::Invalid { invalid } => println!("{}\tinvalid report: {invalid}", instance.id),
        }
    }
    println!("{}", summary(&fleet));
    EXIT_OK
}

/// `ID  STATE  rREV  current|behind  SINCE  LABELS  REFUSED`.
fn line(r: &InstanceReport, key_revision: i64) -> String {
    let state = r.state.as_str();
    let position = if r.applied_revision >= key_revision {
        "current"
    } else {
        "behind"
    };
    let since = r
        .stale_since_ms
        .or(r.applied_at_ms)
        .map_or_else(|| "-".to_owned(), iso8601_utc);
    let labels = if r.labels.is_empty() {
        "-".to_owned()
    } else {
        r.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let refused = r.rejection.as_ref().map_or_else(
        || "-".to_owned(),
        |j| format!("r{} {}", j.revision, j.codes.join(",")),
    );
    format!(
        "{}\t{state}\tr{}\t{position}\t{since}\t{labels}\t{refused}",
        r.id, r.applied_revision
    )
}

/// `5 instances, 4 at revision 17 (the key's), 1 stale since ...Z, 0 invalid`.
fn summary(fleet: &Fleet) -> String {
    let reports: Vec<&InstanceReport> = fleet
        .instances
        .iter()
        .filter_map(|i| match &i.report {
            Listed::Report(r) => Some(r.as_ref()),
            Listed::Invalid { .. } => None,
        })
        .collect();
    let current = reports
        .iter()
        .filter(|r| r.state == ReportState::Live && r.applied_revision >= fleet.key_revision)
        .count();
    let stale: Vec<u64> = reports.iter().filter_map(|r| r.stale_since_ms).collect();
    let mut text = format!(
        "{} instance(s), {current} live at the key's revision {}",
        fleet.instances.len(),
        fleet.key_revision
    );
    if let Some(first) = stale.iter().min() {
        text += &format!(", {} stale since {}", stale.len(), iso8601_utc(*first));
    }
    let invalid = fleet.instances.len() - reports.len();
    if invalid > 0 {
        text += &format!(", {invalid} invalid report(s)");
    }
    text
}
