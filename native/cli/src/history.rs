//! `directivectl history`: the key's earlier versions, for audit and rollback.
//!
//! The history is etcd's own MVCC history of the key (no extra storage):
//! newest first, every write and every delete (`clear`, or a raw delete)
//! since etcd's last compaction, so a version cannot be hidden by deleting
//! the key and publishing again. Each write's line gives the revision to
//! pass to `rollback`.

use directive_core::diff::{diff, SetDiff};
use directive_core::{decode, DirectiveSet, Limits};
use directive_etcd::{Change, HistoryEntry, Publisher};

use crate::etcd_args::EtcdArgs;
use crate::publish::{connect_publisher, report_publish_error};
use crate::{print_json, EXIT_OK};

/// Arguments of `history`.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  directivectl history --endpoints http://127.0.0.1:2379 --limit 5\n\n\
    One line per write or delete, newest first: revision, published_at (UTC), directive \
    count, `invalid` or `deleted`, then the author, the source, the operation and the \
    message when the change was recorded with one (`-` for a write made around the \
    publisher, e.g. with etcdctl). Deletes are listed too; the listing reaches back to \
    etcd's last compaction."
)]
pub struct Args {
    #[command(flatten)]
    etcd: EtcdArgs,
    /// List at most this many entries (1 to 1000).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    limit: u32,
    /// Under each version, what it changed from the version before it (the
    /// diff of `directivectl diff`); with --json, a `diff` field per entry.
    #[arg(long)]
    diff: bool,
    /// Print a JSON array of `{"revision","kind","published_at","directives",
    /// "attribution"?}` (`kind` is `put` or `delete`; `null` when absent or
    /// invalid; `attribution` is `{"author","source","op","message"?,
    /// "restored_revision"?,"at_ms"}`), newest first.
    #[arg(long)]
    json: bool,
}

/// Runs `history`.
pub async fn run(args: Args) -> u8 {
    let publisher = match connect_publisher(&args.etcd).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    // One more than shown: the version before the oldest one shown is what
    // that one changed.
    let listed = if args.diff { limit + 1 } else { limit };
    let mut entries = match publisher.history(listed).await {
        Ok(entries) => entries,
        Err(e) => return report_publish_error(&e, false),
    };
    let diffs = if args.diff {
        match changes(&publisher, &entries).await {
            Ok(diffs) => diffs,
            Err(code) => return code,
        }
    } else {
        Vec::new()
    };
    entries.truncate(limit);
    if args.json {
        if !args.diff {
            return print_json(&entries);
        }
        let with_diffs: Vec<serde_json::Value> = entries
            .iter()
            .zip(&diffs)
            .map(|(entry, diff)| {
                let mut value = serde_json::to_value(entry).unwrap_or_default();
                if let Some(o) = value.as_object_mut() {
                    o.insert(
                        "diff".to_owned(),
                        serde_json::to_value(diff).unwrap_or_default(),
                    );
                }
                value
            })
            .collect();
        return print_json(&with_diffs);
    }
    if entries.is_empty() {
        eprintln!(
            "no versions of {} (never written, or compacted away)",
            args.etcd.key
        );
    }
    if !entries.is_empty() {
        println!("REVISION\tPUBLISHED_AT\tCONTENT\tBY");
    }
    for (i, entry) in entries.iter().enumerate() {
        println!("{}", human_line(entry));
        if let Some(diff) = diffs.get(i) {
            for line in diff.lines() {
                println!("    {line}");
            }
        }
    }
    EXIT_OK
}

/// For each entry, what it changed from the next (older) one; the oldest
/// listed one from nothing. A delete is the empty set; a value that does
/// not decode counts as the empty set too (the fleet applied nothing of it).
async fn changes(publisher: &Publisher, entries: &[HistoryEntry]) -> Result<Vec<SetDiff>, u8> {
    let now = directive_etcd::clock::now_ms();
    let mut sets = Vec::with_capacity(entries.len());
    for entry in entries {
        let set = match entry.kind {
            Change::Delete => DirectiveSet::empty(),
            Change::Put => {
                let value = publisher
                    .version(entry.revision)
                    .await
                    .map_err(|e| report_publish_error(&e, false))?;
                decode(&value, now, &Limits::default()).unwrap_or_else(|_| DirectiveSet::empty())
            }
        };
        sets.push(set);
    }
    let empty = DirectiveSet::empty();
    Ok((0..sets.len())
        .map(|i| diff(sets.get(i + 1).unwrap_or(&empty), &sets[i]))
        .collect())
}

/// `REVISION  PUBLISHED_AT  N directive(s)`, `invalid` or `deleted`.
fn human_line(entry: &HistoryEntry) -> String {
    let published = entry
        .published_at
        .map_or_else(|| "-".to_owned(), iso8601_utc);
    let content = match (entry.kind, entry.directives) {
        (Change::Delete, _) => "deleted".to_owned(),
        (Change::Put, Some(n)) => format!("{n} directive(s)"),
        (Change::Put, None) => "invalid".to_owned(),
    };
    let by = entry.attribution.as_ref().map_or_else(
        || "-".to_owned(),
        |a| {
            let mut by = format!("{} ({}, {})", a.author, a.source.as_str(), a.op.as_str());
            if let Some(r) = a.restored_revision {
                by += &format!(" of r{r}");
            }
            if let Some(m) = &a.message {
                by += &format!(": {}", m.replace(['\n', '\t'], " "));
            }
            by
        },
    );
    format!("{}\t{published}\t{content}\t{by}", entry.revision)
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian,
/// UTC). Written out rather than pulling in a date crate for one format.
pub fn iso8601_utc(unix_ms: u64) -> String {
    let millis = unix_ms % 1000;
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's
/// `civil_from_days`, for non-negative day counts.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::iso8601_utc;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601_utc(1_800_000_000_123), "2027-01-15T08:00:00.123Z");
        assert_eq!(iso8601_utc(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }
}
