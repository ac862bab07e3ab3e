//! `directivectl eval`: the decision a directive set makes for one request.

use std::path::PathBuf;

use directive_core::{decode, EndpointKind, Limits, Request, ValidationReport};

use crate::input::{read_document, source_name};
use crate::{print_json, EXIT_ERROR, EXIT_INVALID, EXIT_OK};

/// Arguments of `eval`.
#[derive(clap::Args)]
pub struct Args {
    /// The directive-set document; `-` reads stdin.
    file: PathBuf,
    /// The request's resolved tenant; omit for an unresolved tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// The request's logical index.
    #[arg(long)]
    index: String,
    /// The request's principal.
    #[arg(long)]
    principal: String,
    /// The request's endpoint class (e.g. Search, IngestDoc).
    #[arg(long, value_parser = parse_endpoint)]
    endpoint: EndpointKind,
    /// The request id (decides sampling).
    #[arg(long)]
    request_id: String,
    /// Decode the set and evaluate at this instant (unix ms); defaults to now.
    #[arg(long)]
    now_ms: Option<u64>,
    /// Print the decision as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_endpoint(s: &str) -> Result<EndpointKind, String> {
    EndpointKind::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = EndpointKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown endpoint; one of {}", names.join(", "))
    })
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
    let set = match decode(&bytes, now, &Limits::default()) {
        Ok(set) => set,
        Err(errors) => {
            let source = source_name(&args.file);
            let report = ValidationReport::rejected(&errors);
            if args.json {
                println!("{}", report.to_json());
            } else {
                crate::validate::print_errors(&source, &report);
            }
            eprintln!(
                "{source}: invalid directive set, {} error(s)",
                errors.errors.len()
            );
            return EXIT_INVALID;
        }
    };
    let request = Request {
        tenant: args.tenant.as_deref(),
        index: &args.index,
        principal: &args.principal,
        endpoint: args.endpoint,
        request_id: &args.request_id,
    };
    let explanation = set.explain(&request, now);
    if args.json {
        return print_json(&explanation);
    }
    println!(
        "level={} ring_buffer={} capture={} matched=[{}]",
        explanation.level,
        explanation.ring_buffer,
        explanation.capture,
        explanation.matched.join(", ")
    );
    EXIT_OK
}
