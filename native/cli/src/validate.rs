//! `directivectl validate`: the validation report for a document.

use std::path::PathBuf;

use directive_core::{validate, Limits, ValidationReport};

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
            let left = d.expires_at_ms.saturating_sub(now) / 1000;
            println!("  {} {} expires in {}s", d.id, d.level, left);
        }
        return;
    }
    for e in &report.errors {
        let at = match (e.line, e.column) {
            (Some(l), Some(c)) => format!("{source}:{l}:{c}"),
            _ => source.to_owned(),
        };
        let path = if e.path.is_empty() { "/" } else { &e.path };
        println!("{at}: {path}: {}: {}", e.code, e.message);
    }
    eprintln!("{source}: invalid, {} error(s)", report.errors.len());
}
