//! `directivectl token`: the admin server's tokens file (ADR 0013), like
//! `htpasswd`: `add` generates a random token, prints it once and stores
//! only its SHA-256 digest; `list` shows names and roles; `remove` revokes.
//! The file is written owner-only and refused when others may read it.

use std::path::PathBuf;

use directive_admin::roles::{Role, TokensFile};

use crate::{EXIT_ERROR, EXIT_OK};

/// Arguments of `token`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(clap::Subcommand)]
enum Verb {
    /// Add a principal with a fresh random token, printed once on stdout.
    #[command(
        after_help = "Example:\n  directivectl token add alice --role operator --file tokens.json\n  \
        directivectl serve --tokens-file tokens.json --endpoints http://127.0.0.1:2379"
    )]
    Add {
        /// The principal's name (what history records as the author).
        name: String,
        /// `viewer` (reads) or `operator` (also publishes and rolls back).
        #[arg(long)]
        role: Role,
        /// The tokens file (created owner-only when absent).
        #[arg(long)]
        file: PathBuf,
    },
    /// List the principals: name and role (never a token or digest).
    #[command(after_help = "Example:\n  directivectl token list --file tokens.json")]
    List {
        /// The tokens file.
        #[arg(long)]
        file: PathBuf,
    },
    /// Remove a principal: its token stops working at the server's next start.
    #[command(after_help = "Example:\n  directivectl token remove alice --file tokens.json")]
    Remove {
        /// The principal's name.
        name: String,
        /// The tokens file.
        #[arg(long)]
        file: PathBuf,
    },
}

/// Runs `token`.
pub fn run(args: Args) -> u8 {
    let outcome = match args.verb {
        Verb::Add { name, role, file } => TokensFile::read(&file).and_then(|mut tokens| {
            let token = tokens.add(&name, role)?;
            tokens.write(&file)?;
            println!("{token}");
            eprintln!(
                "directivectl: added {name} ({}) to {}; the token above is shown only now",
                role.as_str(),
                file.display()
            );
            Ok(())
        }),
        Verb::List { file } => TokensFile::read(&file).map(|tokens| {
            for entry in &tokens.principals {
                println!("{}\t{}", entry.name, entry.role.as_str());
            }
        }),
        Verb::Remove { name, file } => TokensFile::read(&file).and_then(|mut tokens| {
            if !tokens.remove(&name) {
                return Err(format!("no principal {name:?} in {}", file.display()));
            }
            tokens.write(&file)
        }),
    };
    match outcome {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("directivectl: {e}");
            EXIT_ERROR
        }
    }
}
