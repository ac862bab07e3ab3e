//! `directivectl fleet`: the instances watching the key, as they report
//! themselves under `<key>/instances/` (ADR 0011): which revision each
//! applies, whether it has the key's latest write and why not, live or
//! stale and since when, and the last value it refused. `--watch` follows
//! the reports through one etcd watch, the way `kubectl get -w` does.

use std::collections::BTreeMap;

use directive_core::instance::{InstanceReport, Progress, Rollout};
use directive_etcd::{Fleet, Listed, ListedInstance};
use tokio_util::sync::CancellationToken;

use crate::etcd_args::EtcdArgs;
use crate::history::iso8601_utc;
use crate::publish::{connect_publisher, report_publish_error};
use crate::watch::Signals;
use crate::{print_json, EXIT_ERROR, EXIT_OK};

/// Arguments of `fleet`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  directivectl fleet --endpoints http://127.0.0.1:2379 --selector zone=eu-1\n  \
    directivectl fleet --watch --json\n\n\
    One line per instance: id, state, applied revision, whether it has the key's latest \
    write (`applied`, or why not: lagging, stale, initializing, refused), since (UTC), labels, \
    last refused revision and codes; then a summary. With --watch, the changed lines and a \
    summary on every change until Ctrl-C; a report that disappears is `ID gone` after a \
    clean stop, `ID lost` when its lease expired (killed, or cut off from etcd). \
    Instances report only when their store opts in (StoreOptions::with_instance)."
)]
pub struct Args {
    #[command(flatten)]
    etcd: EtcdArgs,
    /// Only instances with this label (`name=value`, repeatable: all must match).
    #[arg(long = "selector", value_name = "NAME=VALUE")]
    selectors: Vec<String>,
    /// Print `{"key_revision","rollout","instances":[...]}` (an invalid
    /// report is `{"id","invalid"}`); with --watch, one such line per change.
    #[arg(long)]
    json: bool,
    /// Keep following the reports and print every change.
    #[arg(long)]
    watch: bool,
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
    let select = |mut fleet: Fleet| {
        if !selectors.is_empty() {
            let matches = |labels: &std::collections::BTreeMap<String, String>| {
                selectors
                    .iter()
                    .all(|(n, v)| labels.get(*n).map(String::as_str) == Some(*v))
            };
            fleet.instances.retain(|i| match &i.report {
                Listed::Report(r) => matches(&r.labels),
                Listed::Invalid { .. } => false,
            });
            fleet.lost.retain(|l| matches(&l.labels));
        }
        fleet
    };
    if args.watch {
        return watch(&publisher, &args, select).await;
    }
    let fleet = match publisher.fleet().await {
        Ok(fleet) => select(fleet),
        Err(e) => return report_publish_error(&e, false),
    };
    if args.json {
        return print_json(&fleet.status());
    }
    if fleet.instances.is_empty() {
        eprintln!(
            "directivectl: no instance reports on {} (do the stores use StoreOptions::with_instance, \
             and is --key right?)",
            args.etcd.key
        );
    }
    let rollout = fleet.rollout(fleet.key_revision);
    for instance in &fleet.instances {
        println!("{}", line(instance, fleet.key_revision));
    }
    println!("{}", summary(&fleet, &rollout));
    EXIT_OK
}

/// `--watch`: the listing, then every change, until a signal.
async fn watch(
    publisher: &directive_etcd::Publisher,
    args: &Args,
    select: impl Fn(Fleet) -> Fleet,
) -> u8 {
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("directivectl: cannot handle signals: {e}");
            return EXIT_ERROR;
        }
    };
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let mut updates = publisher.watch_fleet(cancel);
    // The receiver starts empty: wait for the first listing.
    let mut shown: BTreeMap<String, String> = BTreeMap::new();
    let mut first = true;
    loop {
        tokio::select! {
            () = signals.recv() => return EXIT_OK,
            changed = updates.changed() => if changed.is_err() { return EXIT_ERROR },
        }
        let fleet = select(updates.borrow_and_update().clone());
        if args.json {
            let code = print_json(&fleet.status());
            if code != EXIT_OK {
                return code;
            }
            continue;
        }
        let lines: BTreeMap<String, String> = fleet
            .instances
            .iter()
            .map(|i| (i.id.clone(), line(i, fleet.key_revision)))
            .collect();
        for (id, text) in &lines {
            if shown.get(id) != Some(text) {
                println!("{text}");
            }
        }
        for id in shown.keys().filter(|id| !lines.contains_key(*id)) {
            match fleet.lost.iter().find(|l| &l.id == id) {
                Some(lost) => println!(
                    "{id}\tlost\tr{}\treport expired (killed, or cut off from etcd) at {}",
                    lost.applied_revision,
                    iso8601_utc(lost.since_ms)
                ),
                None => println!("{id}\tgone\tstopped cleanly"),
            }
        }
        if first || lines != shown {
            println!("{}", summary(&fleet, &fleet.rollout(fleet.key_revision)));
        }
        shown = lines;
        first = false;
    }
}

/// `ID  STATE  rREV  PROGRESS  SINCE  LABELS  REFUSED`, or the invalid
/// report's reason.
fn line(instance: &ListedInstance, key_revision: i64) -> String {
    let r: &InstanceReport = match &instance.report {
        Listed::Report(r) => r,
        Listed::Invalid { invalid } => {
            return format!("{}\tinvalid report: {invalid}", instance.id)
        }
    };
    let progress = r.progress(key_revision).as_str();
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
        "{}\t{}\tr{}\t{progress}\t{since}\t{labels}\t{refused}",
        r.id,
        r.state.as_str(),
        r.applied_revision
    )
}

/// `5 instance(s), 4 at r17 (the key's latest write), 1 stale since ...Z, 1 invalid report(s)`.
fn summary(fleet: &Fleet, rollout: &Rollout) -> String {
    let mut text = format!(
        "{} instance(s), {} at r{} (the key's latest write)",
        fleet.instances.len(),
        rollout.applied,
        rollout.revision
    );
    for progress in [
        Progress::Refused,
        Progress::Stale,
        Progress::Lagging,
        Progress::Initializing,
        Progress::Stopped,
        Progress::Lost,
    ] {
        let behind: Vec<_> = rollout
            .stragglers
            .iter()
            .filter(|s| s.progress == progress)
            .collect();
        if behind.is_empty() {
            continue;
        }
        text += &format!(", {} {}", behind.len(), progress.as_str());
        if let Some(first) = behind.iter().filter_map(|s| s.since_ms).min() {
            text += &format!(" since {}", iso8601_utc(first));
        }
    }
    let invalid = fleet.instances.len() - rollout.instances;
    if invalid > 0 {
        text += &format!(", {invalid} invalid report(s)");
    }
    text
}
