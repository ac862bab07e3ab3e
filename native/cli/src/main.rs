//! `directivectl`: validate, evaluate, publish and watch fleet diagnostics directives.
//!
//! Exit codes, for every verb: 0 success, 1 invalid input (nothing written),
//! 2 usage, I/O or connection error, 3 revision conflict. Machine output goes
//! to stdout, progress and errors to stderr.

#![forbid(unsafe_code)]

mod attribution;
mod demo;
mod diff;
mod etcd_args;
mod eval;
mod fleet;
mod get;
mod history;
mod input;
mod publish;
mod rollout;
mod schema;
mod serve;
mod token;
mod validate;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: success.
const EXIT_OK: u8 = 0;
/// Exit code: the input is invalid.
const EXIT_INVALID: u8 = 1;
/// Exit code: usage, I/O or connection error.
const EXIT_ERROR: u8 = 2;
/// Exit code: the key changed since the expected revision.
const EXIT_CONFLICT: u8 = 3;
/// Exit code: stdout's reader went away (128 + SIGPIPE).
const EXIT_BROKEN_PIPE: i32 = 141;

/// Prints `value` as one line of JSON: [`EXIT_OK`], or [`EXIT_ERROR`] with
/// the reason when it cannot be serialized.
fn print_json(value: &impl serde::Serialize) -> u8 {
    print_serialized(serde_json::to_string(value))
}

/// Prints serialized JSON: [`EXIT_OK`], or [`EXIT_ERROR`] with the reason
/// when serializing failed.
fn print_serialized(serialized: serde_json::Result<String>) -> u8 {
    match serialized {
        Ok(text) => {
            println!("{text}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("directivectl: {e}");
            EXIT_ERROR
        }
    }
}

#[derive(Parser)]
#[command(
    name = "directivectl",
    version,
    about = "Validate, evaluate, publish and watch fleet diagnostics directives",
    after_help = "Exit codes: 0 success, 1 invalid input, 2 usage/I/O/connection error, 3 revision conflict, 4 --wait timed out."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a directive-set document exactly as every instance of the fleet would.
    #[command(
        after_help = "Example:\n  directivectl validate directives.json --json\n  cat directives.json | directivectl validate -\n  directivectl validate directives.json --upstream-compat"
    )]
    Validate(validate::Args),
    /// Show what a directive set decides for one request.
    #[command(
        after_help = "Example:\n  directivectl eval directives.json --tenant acme --index orders \\\n      --principal alice --endpoint Search --request-id req-42 --json"
    )]
    Eval(eval::Args),
    /// Print the directive set etcd holds now, as a validation report plus its revision.
    Get(get::Args),
    /// Validate, stamp and publish a document with compare-and-swap on the revision.
    Publish(publish::PublishArgs),
    /// Show what publishing a document would change, per directive (exit 1 when it changes something).
    Diff(diff::Args),
    /// Delete the directive set (everything off), with compare-and-swap.
    Clear(publish::ClearArgs),
    /// List earlier versions of the directive set.
    History(history::Args),
    /// Re-publish an earlier version (validated, stamped anew, compare-and-swap).
    Rollback(publish::RollbackArgs),
    /// List the instances watching the key, as they report themselves.
    #[command(
        after_help = "Example:\n  directivectl fleet\n  directivectl fleet --watch --selector zone=eu-1\n  directivectl fleet --json"
    )]
    Fleet(fleet::Args),
    /// Follow the directive set as an instance applies it, one line per event.
    Watch(watch::Args),
    /// Print the JSON Schema of the wire format.
    Schema(schema::Args),
    /// Run the admin HTTP API and UI.
    #[command(
        after_help = "Example:\n  directivectl token add alice --role operator --file tokens.json\n  \
                      directivectl serve --endpoints http://127.0.0.1:2379 --tokens-file tokens.json\n  \
                      DIRECTIVE_ADMIN_TOKEN=$(head -c 24 /dev/urandom | base64) directivectl serve   # in-memory, one token"
    )]
    Serve(serve::Args),
    /// Run everything locally: a private etcd, the admin UI and a simulated fleet.
    #[command(
        after_help = "Example:\n  directivectl demo                  # private etcd, admin UI, 5 instances\n  \
                      directivectl demo --instances 3 --endpoints http://127.0.0.1:2379"
    )]
    Demo(demo::Args),
    /// Manage the admin server's tokens file: named principals with roles.
    #[command(
        after_help = "Example:\n  directivectl token add alice --role operator --file tokens.json\n  \
                      directivectl token list --file tokens.json\n  \
                      directivectl token remove alice --file tokens.json"
    )]
    Token(token::Args),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  directivectl completion bash > /etc/bash_completion.d/directivectl\n  \
                      directivectl completion zsh > \"${fpath[1]}/_directivectl\""
    )]
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Get(args) => block_on(get::run(args)),
        Command::Publish(args) => block_on(publish::run_publish(args)),
        Command::Clear(args) => block_on(publish::run_clear(args)),
        Command::Diff(args) => block_on(diff::run(args)),
        Command::History(args) => block_on(history::run(args)),
        Command::Rollback(args) => block_on(publish::run_rollback(args)),
        Command::Fleet(args) => block_on(fleet::run(args)),
        Command::Watch(args) => block_on(watch::run(args)),
        Command::Serve(args) => block_on(serve::run(args)),
        Command::Demo(args) => block_on(demo::run(args)),
        Command::Token(args) => token::run(args),
        Command::Completion { shell } => {
            use clap::CommandFactory;
            use std::io::Write as _;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "directivectl", &mut script);
            match std::io::stdout().write_all(&script) {
                Ok(()) => EXIT_OK,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 141,
                Err(e) => {
                    eprintln!("directivectl: {e}");
                    EXIT_ERROR
                }
            }
        }
    };
    ExitCode::from(code)
}

/// `directivectl schema | head` closes the pipe early: stop quietly with
/// exit 141 (128 + SIGPIPE, what a shell reports for a process the signal
/// killed, so `set -o pipefail` still sees that the output was cut short)
/// instead of a panic. The standard library ignores SIGPIPE, so a write to
/// a closed pipe fails, and the print macros panic with that failure; this
/// hook recognises that one panic and leaves every other to the default.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(EXIT_BROKEN_PIPE);
        }
        default(info);
    }));
}

/// Runs an async verb on a fresh multi-threaded runtime.
fn block_on(verb: impl std::future::Future<Output = u8>) -> u8 {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => {
            let code = rt.block_on(verb);
            // Don't let a blocking-pool thread (a DNS lookup, a child-process
            // wait) hold the process open after the verb is done: `demo`
            // must exit promptly on Ctrl-C or SIGTERM.
            rt.shutdown_timeout(std::time::Duration::from_millis(500));
            code
        }
        Err(e) => {
            eprintln!("directivectl: cannot start the async runtime: {e}");
            EXIT_ERROR
        }
    }
}
