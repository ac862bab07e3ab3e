//! `directivectl get`: what etcd holds now, as the fleet would read it.
//!
//! The output is the shared validation report (so a script that already
//! parses `validate --json` parses this too) plus the key's mod revision,
//! which is exactly what `publish --expect-revision` wants: read, edit,
//! publish against what was read. An absent key reports the empty set at
//! revision 0, because 0 is the revision `--expect-revision` uses for "the
//! key must not exist" (etcd's header revision would be useless there).
//!
//! A stored value that does not decode (written around the publisher) is
//! reported with its errors and exit code 1, like `validate`: instances keep
//! their last good set, and an operator should know the key is poisoned.

use directive_core::{validate, ValidationReport};
use serde::Serialize;

use crate::etcd_args::EtcdArgs;
use crate::publish::{connect_publisher, report_publish_error};
use crate::{EXIT_INVALID, EXIT_OK};

/// Arguments of `get`.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  directivectl get --endpoints http://127.0.0.1:2379 --json\n  \
                  directivectl get -o document > directives.json   # edit, then: \
                  directivectl publish directives.json\n  \
                  directivectl get --endpoints http://127.0.0.1:2379 --upstream-compat\n\n\
                  An absent key is the empty set at revision 0. Exit codes: 0 ok, 1 the stored \
                  value is invalid, 2 connection error."
)]
pub struct Args {
    #[command(flatten)]
    etcd: EtcdArgs,
    /// Print the validation report plus `"revision"` as one JSON object
    /// (the same as `-o json`).
    #[arg(long, conflicts_with = "output")]
    json: bool,
    /// `text` (the default), `json` (as --json), or `document`: the stored
    /// document itself, ready to edit and publish again (`get -o document
    /// | directivectl publish -`; publishing restarts every TTL from then);
    /// the revision goes to stderr.
    #[arg(short = 'o', long, value_enum)]
    output: Option<Output>,
    /// Check the stored value with the upstream's (osproxy 1.0) decoder
    /// too, as `validate --upstream-compat` does: before moving an osproxy
    /// fleet over. Exit 0 only when both accept it.
    #[arg(long)]
    upstream_compat: bool,
}

/// What `get` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// One line per directive.
    Text,
    /// The report plus the revision, as JSON.
    Json,
    /// The stored document, pretty-printed, as the fleet decodes it.
    Document,
}

/// The JSON shape of `get --json`: the report's keys, then `revision`.
#[derive(Serialize)]
struct GetOutput<'a> {
    #[serde(flatten)]
    report: &'a ValidationReport,
    /// The key's mod revision; 0 when the key is absent.
    revision: i64,
}

/// Runs `get`.
pub async fn run(args: Args) -> u8 {
    let publisher = match connect_publisher(&args.etcd).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (value, revision) = match publisher.current().await {
        Ok(current) => current,
        Err(e) => return report_publish_error(&e, false),
    };
    let now = directive_etcd::clock::now_ms();
    let output = match args.output {
        Some(output) => output,
        None if args.json => Output::Json,
        None => Output::Text,
    };
    if args.upstream_compat {
        // An absent key: both apply no directive, as for the empty set.
        let bytes = value.as_deref().unwrap_or(br#"{"directives":[]}"#);
        let source = format!("{}@{revision}", args.etcd.key);
        let json = (output == Output::Json).then_some(Some(revision));
        return crate::validate::upstream_compat(&source, bytes, now, json);
    }
    let report = match &value {
        Some(bytes) => validate(bytes, now, &directive_core::Limits::default()),
        // Absent key: every instance applies the empty set.
        None => ValidationReport {
            ok: true,
            errors: Vec::new(),
            directives: Vec::new(),
        },
    };
    if output == Output::Document {
        return print_document(&args.etcd.key, value.as_deref(), revision, now);
    }
    if output == Output::Json {
        let printed = crate::print_json(&GetOutput {
            report: &report,
            revision,
        });
        if printed != EXIT_OK {
            return printed;
        }
    } else {
        print_human(&args.etcd.key, value.is_some(), &report, revision, now);
    }
    crate::rollout::warn_if_unwatched(&publisher, &args.etcd.key).await;
    if report.ok {
        EXIT_OK
    } else {
        eprintln!(
            "directivectl: the value at revision {revision} is invalid ({} error(s)); \
             instances keep their last good set",
            report.errors.len()
        );
        EXIT_INVALID
    }
}

/// `revision R` then one line per directive (or per error).
fn print_human(key: &str, present: bool, report: &ValidationReport, revision: i64, now: u64) {
    if !present {
        println!("revision 0 (key {key} absent): no directives");
        return;
    }
    if report.ok {
        println!(
            "revision {revision}: {} directive(s)",
            report.directives.len()
        );
    } else {
        println!(
            "revision {revision}: invalid, {} error(s)",
            report.errors.len()
        );
    }
    for d in &report.directives {
        let mut targets = Vec::new();
        if let Some(t) = &d.tenant {
            targets.push(format!("tenant={t}"));
        }
        if let Some(i) = &d.index {
            targets.push(format!("index={i}"));
        }
        if let Some(p) = &d.principal {
            targets.push(format!("principal={p}"));
        }
        if let Some(e) = d.endpoint {
            targets.push(format!("endpoint={e}"));
        }
        if targets.is_empty() {
            targets.push("all".into());
        }
        let state = if d.expires_at_ms <= now {
            "expired".to_owned()
        } else {
            format!("expires in {}s", (d.expires_at_ms - now).div_ceil(1000))
        };
        println!(
            "  {} {} {} sample={}/1000{}{} {state}",
            d.id,
            d.level,
            targets.join(" "),
            d.sample_per_mille,
            if d.ring_buffer { " ring_buffer" } else { "" },
            if d.capture { " capture" } else { "" },
        );
    }
    for e in &report.errors {
        let path = if e.path.is_empty() { "/" } else { &e.path };
        println!("  error {path}: {}: {}", e.code, e.message);
    }
}

/// `get -o document`: the stored document for a get, edit, publish loop;
/// the canonical form of what the fleet applies. Publishing it again
/// stamps it anew, so every TTL counts from that publish.
fn print_document(key: &str, value: Option<&[u8]>, revision: i64, now: u64) -> u8 {
    let Some(bytes) = value else {
        println!(
            "{}",
            directive_core::DirectiveSet::empty().to_upstream_json()
        );
        eprintln!("{key}: absent (revision 0): printed the empty set");
        return EXIT_OK;
    };
    match directive_core::decode(bytes, now, &directive_core::Limits::default()) {
        Ok(set) => {
            println!("{}", set.to_wire_json_pretty());
            eprintln!("{key}: revision {revision}");
            EXIT_OK
        }
        Err(errors) => {
            // An invalid value is printed as stored, so it can be fixed.
            println!("{}", String::from_utf8_lossy(bytes));
            eprintln!(
                "{key}: revision {revision} is invalid ({} error(s)); printed as stored",
                errors.errors.len()
            );
            EXIT_INVALID
        }
    }
}
