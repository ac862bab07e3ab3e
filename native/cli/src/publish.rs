//! `directivectl publish`, `clear` and `rollback`: the three writes.
//!
//! All three go through [`Publisher`], so every write is validated by the
//! fleet's decoder, stamped with `published_at`, and a compare-and-swap on
//! the key's mod revision: without `--expect-revision` the publisher compares
//! against the revision it just read, so a concurrent change is never
//! overwritten blindly; with it, a script can make "read, edit, write" safe
//! across minutes. A lost race is exit 3 with the revision to re-base on.
//!
//! `publish` validates the file before it connects, so an invalid document
//! is refused (exit 1) even when etcd is down, and nothing is ever written.
//!
//! Machine output (stdout): the new revision as a bare number, or
//! `{"revision":R}` with `--json`; an invalid document prints the report
//! like `validate`. On conflict, `--json` also prints
//! `{"error":"conflict","current_revision":R}` so scripts need not parse
//! stderr.

use std::path::PathBuf;

use directive_core::{decode, validate, DecodeErrors, Limits, ValidationReport, WireFormat};
use directive_etcd::{PublishError, Published, Publisher};

use crate::attribution::AttributionArgs;
use crate::etcd_args::EtcdArgs;
use crate::input::{read_document, source_name};
use crate::rollout::{wait, warn_if_unwatched, WaitArgs};
use crate::{EXIT_CONFLICT, EXIT_ERROR, EXIT_INVALID, EXIT_OK};
use directive_core::attribution::Operation;

/// Arguments of `publish`.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  \
    directivectl publish directives.json --endpoints http://127.0.0.1:2379\n  \
    rev=$(directivectl get --endpoints http://127.0.0.1:2379 --json | jq .revision)\n  \
    directivectl publish directives.json --endpoints http://127.0.0.1:2379 --expect-revision \"$rev\" --json\n\n\
    directivectl publish directives.json --endpoints http://127.0.0.1:2379 --wait 30s --min-ready 90%\n\n\
    Prints the new revision. Exit codes: 0 published, 1 invalid (nothing written), \
    2 I/O or connection error, 3 the key changed (nothing written), 4 --wait timed out.")]
pub struct PublishArgs {
    #[command(flatten)]
    etcd: EtcdArgs,
    /// The directive-set document; `-` reads stdin.
    file: PathBuf,
    /// Write only if the key is at this mod revision (0: only if absent), as
    /// printed by `get`; default: the revision read just before writing.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..))]
    expect_revision: Option<i64>,
    /// Print `{"revision":R}` (or the validation report) as JSON.
    #[arg(long)]
    json: bool,
    /// Print what the publish would change (as `diff` does) and stop:
    /// nothing is written.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    wait: WaitArgs,
    #[command(flatten)]
    by: AttributionArgs,
}

/// Arguments of `clear`.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  directivectl clear --endpoints http://127.0.0.1:2379 --expect-revision 42\n\n\
    Deletes the key: every instance applies the empty set. Exit codes: 0 cleared, \
    2 connection error, 3 the key changed (nothing deleted)."
)]
pub struct ClearArgs {
    #[command(flatten)]
    etcd: EtcdArgs,
    /// Delete only if the key is at this mod revision; default: the revision
    /// read just before deleting.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..))]
    expect_revision: Option<i64>,
    /// Print `{"revision":R}` as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    wait: WaitArgs,
    #[command(flatten)]
    by: AttributionArgs,
}

/// Arguments of `rollback`.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  directivectl history --endpoints http://127.0.0.1:2379\n  \
    directivectl rollback 17 --endpoints http://127.0.0.1:2379\n\n\
    Re-publishes the set of that revision with a fresh published_at. Exit codes: 0 done, \
    1 that version is invalid, 2 no such version (or compacted) or connection error, \
    3 the key changed."
)]
pub struct RollbackArgs {
    #[command(flatten)]
    etcd: EtcdArgs,
    /// The revision to restore, as listed by `history`.
    #[arg(value_parser = clap::value_parser!(i64).range(1..))]
    revision: i64,
    /// Refuse (exit 3) unless the key is at this mod revision now.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..))]
    expect_revision: Option<i64>,
    /// Print `{"revision":R}` (or the validation report) as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    wait: WaitArgs,
    #[command(flatten)]
    by: AttributionArgs,
}

/// Connects a publisher with the shared flags; on failure prints the cause
/// and returns the exit code to use.
pub async fn connect_publisher(etcd: &EtcdArgs) -> Result<Publisher, u8> {
    let options = etcd.options().map_err(|e| {
        eprintln!("directivectl: {e}");
        EXIT_ERROR
    })?;
    Publisher::connect(options).await.map_err(|e| {
        eprintln!("directivectl: {e}");
        EXIT_ERROR
    })
}

/// Prints a publisher error (stderr; stdout for an invalid set's report and,
/// with `json`, for a conflict) and returns its exit code.
pub fn report_publish_error(e: &PublishError, json: bool) -> u8 {
    match e {
        PublishError::Invalid(errors) => {
            print_invalid("<stored value>", errors, json);
            EXIT_INVALID
        }
        PublishError::Attribution(e) => {
            eprintln!("directivectl: {e}");
            EXIT_ERROR
        }
        PublishError::Unchanged { .. } | PublishError::WrongFormat(_) => {
            eprintln!("directivectl: {e}");
            EXIT_INVALID
        }
        PublishError::Conflict { current_revision } => {
            if json {
                println!("{}", Conflict::json(*current_revision));
            }
            let now = if *current_revision == 0 {
                "absent (revision 0)".to_owned()
            } else {
                format!("at revision {current_revision}")
            };
            eprintln!(
                "directivectl: conflict: the key is {now}, not the expected revision; \
                 nothing was written (re-read with `get`, then retry with \
                 --expect-revision {current_revision})"
            );
            EXIT_CONFLICT
        }
        PublishError::NotFound { .. } | PublishError::Compacted { .. } | PublishError::Etcd(_) => {
            eprintln!("directivectl: {e}");
            EXIT_ERROR
        }
    }
}

/// The report of an invalid document: JSON, or `validate`'s human listing.
pub(crate) fn print_invalid(source: &str, errors: &DecodeErrors, json: bool) {
    print_report(source, &ValidationReport::rejected(errors), json);
}

fn print_report(source: &str, report: &ValidationReport, json: bool) {
    if json {
        println!("{}", report.to_json());
    } else {
        for e in &report.errors {
            let at = match (e.line, e.column) {
                (Some(l), Some(c)) => format!("{source}:{l}:{c}"),
                _ => source.to_owned(),
            };
            let path = if e.path.is_empty() { "/" } else { &e.path };
            println!("{at}: {path}: {}: {}", e.code, e.message);
        }
    }
    eprintln!(
        "{source}: invalid, {} error(s); nothing written",
        report.errors.len()
    );
}

fn print_published(published: Published, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "revision": published.revision }));
    } else {
        println!("{}", published.revision);
    }
}

/// Prints a write and, with `--wait`, waits for the fleet to apply it: the
/// exit code of `publish`, `rollback` and `clear` once the write succeeded.
async fn finish(
    publisher: &Publisher,
    key: &str,
    published: Published,
    json: bool,
    wait_args: &WaitArgs,
) -> u8 {
    print_published(published, json);
    wait(publisher, key, published.revision, wait_args)
        .await
        .unwrap_or(EXIT_OK)
}

/// Runs `publish`.
pub async fn run_publish(args: PublishArgs) -> u8 {
    let bytes = match read_document(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("directivectl: {e}");
            return EXIT_ERROR;
        }
    };
    let source = source_name(&args.file);
    // Refuse before connecting: invalid input is exit 1 even with etcd down.
    let report = validate(&bytes, directive_etcd::clock::now_ms(), &Limits::default());
    if !report.ok {
        print_report(&source, &report, args.json);
        return EXIT_INVALID;
    }
    let by = match args.by.record(&args.etcd, Operation::Publish, None) {
        Ok(by) => by,
        Err(e) => {
            eprintln!("directivectl: {e}");
            return EXIT_ERROR;
        }
    };
    let publisher = match connect_publisher(&args.etcd).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    // What this publish changes, against the value it will replace: shown
    // before writing, and the write expects that very revision (unless
    // --expect-revision says otherwise), so what was shown is what changes.
    let set = match decode(&bytes, directive_etcd::clock::now_ms(), &Limits::default()) {
        Ok(set) => set,
        Err(errors) => {
            print_invalid(&source, &errors, args.json);
            return EXIT_INVALID;
        }
    };
    let (changes, stored_revision) =
        match crate::diff::against_stored(&publisher, &args.etcd.key, &set).await {
            Ok(d) => d,
            Err(code) => return code,
        };
    if args.dry_run {
        for line in changes.lines() {
            println!("{line}");
        }
        eprintln!("{source}: dry run: nothing written (the key is at revision {stored_revision})");
        return EXIT_OK;
    }
    for line in changes.lines() {
        eprintln!("{line}");
    }
    let expected = args.expect_revision.or(Some(stored_revision));
    match publisher.publish_by(&bytes, expected, Some(&by)).await {
        Ok(published) => {
            let format = match args.etcd.format {
                WireFormat::Stamped => "",
                WireFormat::Upstream => " in the upstream format (no published_at)",
            };
            eprintln!(
                "{source}: published {} directive(s) to {} at revision {}{format}",
                report.directives.len(),
                args.etcd.key,
                published.revision
            );
            if args.wait.is_none() {
                warn_if_unwatched(&publisher, &args.etcd.key).await;
            }
            finish(&publisher, &args.etcd.key, published, args.json, &args.wait).await
        }
        Err(PublishError::Invalid(errors)) => {
            print_invalid(&source, &errors, args.json);
            EXIT_INVALID
        }
        Err(e) => report_write_error(&e, args.json, expected),
    }
}

/// As [`report_publish_error`], saying which revision the write expected
/// when it lost a race (`None`: the one it read just before).
fn report_write_error(e: &PublishError, json: bool, expected: Option<i64>) -> u8 {
    if let (PublishError::Conflict { .. }, Some(expected)) = (e, expected) {
        eprintln!("directivectl: this write expected the key at revision {expected}");
    }
    report_publish_error(e, json)
}

/// Runs `clear`.
pub async fn run_clear(args: ClearArgs) -> u8 {
    let by = match args.by.record(&args.etcd, Operation::Clear, None) {
        Ok(by) => by,
        Err(e) => {
            eprintln!("directivectl: {e}");
            return EXIT_ERROR;
        }
    };
    let publisher = match connect_publisher(&args.etcd).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    match publisher.clear_by(args.expect_revision, Some(&by)).await {
        Ok(published) => {
            eprintln!(
                "cleared {} at revision {}: every instance now applies the empty set",
                args.etcd.key, published.revision
            );
            finish(&publisher, &args.etcd.key, published, args.json, &args.wait).await
        }
        Err(e) => report_write_error(&e, args.json, args.expect_revision),
    }
}

/// Runs `rollback`: the earlier version is re-published through the same
/// validated compare-and-swap as `publish`, against `--expect-revision` when
/// given, else against the revision the publisher reads. A revision with no
/// version of the key (another key's write, a delete, the future) or one
/// that does not decode is exit 1, like the HTTP API's 404 / 422; one
/// compacted away, or an etcd failure, is exit 2.
pub async fn run_rollback(args: RollbackArgs) -> u8 {
    let by = match args
        .by
        .record(&args.etcd, Operation::Rollback, Some(args.revision))
    {
        Ok(by) => by,
        Err(e) => {
            eprintln!("directivectl: {e}");
            return EXIT_ERROR;
        }
    };
    let publisher = match connect_publisher(&args.etcd).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    match publisher
        .rollback_by(args.revision, args.expect_revision, Some(&by))
        .await
    {
        Ok(published) => {
            eprintln!(
                "rolled {} back to the set of revision {}, now revision {}",
                args.etcd.key, args.revision, published.revision
            );
            finish(&publisher, &args.etcd.key, published, args.json, &args.wait).await
        }
        Err(PublishError::Invalid(errors)) => {
            print_invalid(&format!("revision {}", args.revision), &errors, args.json);
            EXIT_INVALID
        }
        Err(e @ PublishError::Conflict { .. }) => {
            report_write_error(&e, args.json, args.expect_revision)
        }
        Err(
            e @ (PublishError::NotFound { .. }
            | PublishError::Unchanged { .. }
            | PublishError::WrongFormat(_)),
        ) => {
            eprintln!("directivectl: cannot roll back: {e}");
            EXIT_INVALID
        }
        Err(e) => {
            eprintln!(
                "directivectl: cannot roll back to revision {}: {e}",
                args.revision
            );
            EXIT_ERROR
        }
    }
}

/// `{"error":"conflict","current_revision":R}`, the HTTP API's 409 body.
#[derive(serde::Serialize)]
struct Conflict {
    error: &'static str,
    current_revision: i64,
}

impl Conflict {
    fn json(current_revision: i64) -> String {
        let body = Conflict {
            error: "conflict",
            current_revision,
        };
        // Two plain fields: serialization cannot fail.
        serde_json::to_string(&body).unwrap_or_default()
    }
}
