//! `directivectl`: validate, evaluate, publish and watch fleet diagnostics directives.
//!
//! Exit codes, for every verb: 0 success, 1 invalid input (nothing written),
//! 2 usage, I/O or connection error, 3 revision conflict. Machine output goes
//! to stdout, progress and errors to stderr.

#![forbid(unsafe_code)]

mod eval;
mod input;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: success.
const EXIT_OK: u8 = 0;
/// Exit code: the input is invalid.
const EXIT_INVALID: u8 = 1;
/// Exit code: usage, I/O or connection error.
const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(
    name = "directivectl",
    version,
    about = "Validate, evaluate, publish and watch fleet diagnostics directives",
    after_help = "Exit codes: 0 success, 1 invalid input, 2 usage/I/O/connection error, 3 revision conflict."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a directive-set document exactly as every instance of the fleet would.
    #[command(
        after_help = "Example:\n  directivectl validate directives.json --json\n  cat directives.json | directivectl validate -"
    )]
    Validate(validate::Args),
    /// Show what a directive set decides for one request.
    #[command(
        after_help = "Example:\n  directivectl eval directives.json --tenant acme --index orders \\\n      --principal alice --endpoint Search --request-id req-42 --json"
    )]
    Eval(eval::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Eval(args) => eval::run(&args),
    };
    ExitCode::from(code)
}
