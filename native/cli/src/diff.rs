//! `directivectl diff`: what publishing a document would change, per
//! directive id, against the value the key holds now (like `kubectl
//! diff`). The same diff (`directive_core::diff`) is what `publish` prints
//! before it writes, and what `publish --dry-run` stops at.

use std::path::PathBuf;

use directive_core::diff::{diff, SetDiff};
use directive_core::{decode, DirectiveSet, Limits, WireFormat};
use directive_etcd::Publisher;

use crate::etcd_args::EtcdArgs;
use crate::input::{read_document, source_name};
use crate::publish::{connect_publisher, print_invalid, report_publish_error};
use crate::{EXIT_ERROR, EXIT_INVALID, EXIT_OK};

/// Arguments of `diff`.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  \
    directivectl diff directives.json --endpoints http://127.0.0.1:2379\n  \
    directivectl get --json | jq .document -r | directivectl diff -\n\n\
    One line per change: `+ id {...}` added, `- id {...}` removed, `~ id: field before -> after` \
    changed (every field, ttl_secs and targets included), then a count. Exit codes: 0 no \
    difference, 1 differences, 2 error (an invalid FILE included: its errors are printed).")]
pub struct Args {
    #[command(flatten)]
    etcd: EtcdArgs,
    /// The directive-set document; `-` reads stdin.
    file: PathBuf,
    /// Print `{"stored_revision","added","removed","changed","unchanged"}`.
    #[arg(long)]
    json: bool,
}

/// The diff from the value stored now to `document`, and the stored
/// revision it was computed against (what a publish of it should expect).
/// A stored value that does not decode counts as the empty set, said on
/// stderr.
pub async fn against_stored(
    publisher: &Publisher,
    key: &str,
    document: &DirectiveSet,
) -> Result<(SetDiff, i64), u8> {
    let (stored, revision) = publisher
        .current()
        .await
        .map_err(|e| report_publish_error(&e, false))?;
    let now = directive_etcd::clock::now_ms();
    let before = match stored {
        None => DirectiveSet::empty(),
        Some(bytes) => match decode(&bytes, now, &Limits::default()) {
            Ok(set) => {
                warn_if_migrating(publisher, key, &set);
                set
            }
            Err(e) => {
                eprintln!(
                    "directivectl: the value {key} holds (revision {revision}) is refused by the \
                     fleet ({} error(s)): compared with the empty set",
                    e.errors.len()
                );
                DirectiveSet::empty()
            }
        },
    };
    Ok((diff(&before, document), revision))
}

/// The stored value has no `published_at`, so it was written in the
/// upstream's format (or by hand): upstream instances may still read the
/// key, and they refuse a stamped publish (ADR 0015). Said, not enforced.
fn warn_if_migrating(publisher: &Publisher, key: &str, stored: &DirectiveSet) {
    if !stored.is_stamped() && publisher.options().format() == WireFormat::Stamped {
        eprintln!(
            "directivectl: warning: the value {key} holds has no published_at (upstream format); \
             if osproxy instances still read {key}, they refuse a stamped publish and keep \
             their last set: publish with --format upstream (or DIRECTIVE_FORMAT=upstream) \
             until they are gone"
        );
    }
}

/// Runs `diff`.
pub async fn run(args: Args) -> u8 {
    let bytes = match read_document(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("directivectl: {e}");
            return EXIT_ERROR;
        }
    };
    let set = match decode(&bytes, directive_etcd::clock::now_ms(), &Limits::default()) {
        Ok(set) => set,
        Err(errors) => {
            print_invalid(&source_name(&args.file), &errors, false);
            return EXIT_ERROR;
        }
    };
    let publisher = match connect_publisher(&args.etcd).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (changes, stored_revision) = match against_stored(&publisher, &args.etcd.key, &set).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    if args.json {
        let mut value = serde_json::to_value(&changes).unwrap_or_default();
        if let Some(o) = value.as_object_mut() {
            o.insert("stored_revision".to_owned(), stored_revision.into());
        }
        println!("{value}");
    } else {
        for line in changes.lines() {
            println!("{line}");
        }
    }
    if changes.is_empty() {
        EXIT_OK
    } else {
        EXIT_INVALID
    }
}
