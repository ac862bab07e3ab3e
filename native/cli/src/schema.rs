//! `directivectl schema`: prints `directive_core::schema()`, the JSON Schema
//! of the wire format.

use directive_core::schema;

use crate::print_serialized;

/// Arguments of `schema`.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  directivectl schema > directive-set.schema.json\n\n\
    JSON Schema draft 2020-12 of the wire format at the default limits."
)]
pub struct Args {
    /// Print on one line instead of pretty-printed.
    #[arg(long)]
    compact: bool,
}

/// Runs `schema`.
pub fn run(args: &Args) -> u8 {
    let schema = schema();
    let text = if args.compact {
        serde_json::to_string(&schema)
    } else {
        serde_json::to_string_pretty(&schema)
    };
    print_serialized(text)
}
