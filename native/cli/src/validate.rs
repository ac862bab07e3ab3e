//! `directivectl validate`: the validation report for a document, and
//! with `--upstream-compat` how the upstream (osproxy) reads it too.

use std::path::PathBuf;

use directive_core::{validate, Limits, ValidationReport};
use directive_osproxy::compat;

use crate::input::{read_document, source_name};
use crate::{EXIT_ERROR, EXIT_INVALID, EXIT_OK};

/// Arguments of `validate`.
#[derive(clap::Args)]
pub struct Args {
    /// The document to check; `-` reads stdin.
    #[arg(default_value = "-")]
    file: PathBuf,
    /// Decode as if it were this instant (unix ms); defaults to now.
    #[arg(long)]
    now_ms: Option<u64>,
    /// Print the validation report as JSON (the shape every surface shares).
    #[arg(long)]
    json: bool,
    /// Also decode with the upstream's (osproxy 1.0) decoder: say whether
    /// each accepts the document and, for every difference, the rule, what
    /// the upstream does and the fix. Exit 0 only when both accept it.
    #[arg(long)]
    upstream_compat: bool,
}

pub fn run(args: &Args) -> u8 {
    let bytes = match read_document(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("directivectl: {e}");
            return EXIT_ERROR;
        }
    };
    let now = args.now_ms.unwrap_or_else(directive_etcd::clock::now_ms);
    if args.upstream_compat {
        let json = args.json.then_some(None);
        return upstream_compat(&source_name(&args.file), &bytes, now, json);
    }
    let report = validate(&bytes, now, &Limits::default());
    if args.json {
        println!("{}", report.to_json());
    } else {
        print_human(&source_name(&args.file), &report, now);
    }
    if report.ok {
        EXIT_OK
    } else {
        EXIT_INVALID
    }
}

/// `file:line:column: path: code: message`, one line per error, or a summary
/// of the accepted set.
fn print_human(source: &str, report: &ValidationReport, now: u64) {
    if report.ok {
        println!("{source}: valid, {} directive(s)", report.directives.len());
        for d in &report.directives {
            if d.expires_at_ms <= now {
                println!("  {} {} expired", d.id, d.level);
            } else {
                // Rounded up: a directive with 300 ms left is not "0s" away.
                let left = (d.expires_at_ms - now).div_ceil(1000);
                println!("  {} {} expires in {}s", d.id, d.level, left);
            }
        }
        return;
    }
    print_errors(source, report);
    eprintln!("{source}: invalid, {} error(s)", report.errors.len());
}

/// `file:line:column: path: code: message`, one line per error.
pub fn print_errors(source: &str, report: &ValidationReport) {
    for e in &report.errors {
        let at = match (e.line, e.column) {
            (Some(l), Some(c)) => format!("{source}:{l}:{c}"),
            _ => source.to_owned(),
        };
        let path = if e.path.is_empty() { "/" } else { &e.path };
        println!("{at}: {path}: {}: {}", e.code, e.message);
    }
}

/// `validate --upstream-compat` (and `get --upstream-compat` on the
/// stored value): both verdicts and every difference; exit 0 only when
/// both accept the document. `json`: print the report as JSON, with the
/// key's `revision` when one is given (`get`).
pub fn upstream_compat(source: &str, bytes: &[u8], now: u64, json: Option<Option<i64>>) -> u8 {
    let report = compat::check(bytes, now);
    if let Some(revision) = json {
        #[derive(serde::Serialize)]
        struct WithRevision<'a> {
            #[serde(flatten)]
            report: &'a compat::CompatReport,
            #[serde(skip_serializing_if = "Option::is_none")]
            revision: Option<i64>,
        }
        let printed = crate::print_json(&WithRevision {
            report: &report,
            revision,
        });
        if printed != EXIT_OK {
            return EXIT_ERROR;
        }
    } else {
        let verdict = |accepts: bool| if accepts { "accepts it" } else { "refuses it" };
        let why = report
            .upstream
            .error
            .map(|slug| format!(" ({slug})"))
            .unwrap_or_default();
        println!(
            "{source}: the upstream (osproxy 1.0) {}{why}; this project {}{}",
            verdict(report.upstream.accepts),
            verdict(report.ours.ok),
            if report.ours.ok {
                String::new()
            } else {
                format!(" ({} error(s))", report.ours.errors.len())
            }
        );
        for d in &report.differences {
            println!("  {}: {}", d.path, d.rule);
            println!("    the upstream {}", d.upstream);
            println!("    fix: {}", d.fix);
        }
        let others: Vec<_> = report
            .ours
            .errors
            .iter()
            .filter(|e| !compat::STRICTER_RULES.contains(&e.code))
            .collect();
        for e in others {
            let path = if e.path.is_empty() { "/" } else { &e.path };
            println!("  {path}: {}: {} (refused by both)", e.code, e.message);
        }
    }
    if report.both_accept() {
        EXIT_OK
    } else {
        EXIT_INVALID
    }
}
