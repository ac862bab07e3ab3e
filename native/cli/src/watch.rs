//! `directivectl watch`: follow the set exactly as an instance applies it.
//!
//! It runs a real [`EtcdDirectiveStore`] (the same read, watch, reconnect and
//! reject logic as a proxy), not a raw etcd watch, so what it prints is what
//! the fleet does: refused values show up as `rejected` while the last good
//! set stays, and connection trouble shows up as `status` changes.
//!
//! Output starts with the state loaded at connect (an `applied` line and a
//! `status` line), then one line per [`StoreEvent`]. With `--json` each line
//! is exactly the event's serialization (NDJSON, the objects the admin SSE
//! stream sends). stdout is locked and flushed per line so a pipe reader sees
//! each event at once. Ctrl-C or SIGTERM stops the store cleanly (exit 0);
//! a failed connect is exit 2 within the connect timeout.

use std::io::Write;

use directive_etcd::{EtcdDirectiveStore, StoreEvent};
use tokio::sync::broadcast::error::RecvError;

use crate::etcd_args::EtcdArgs;
use crate::{EXIT_ERROR, EXIT_OK};

/// Arguments of `watch`.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  directivectl watch --endpoints http://127.0.0.1:2379 --json\n\n\
    Prints the state loaded at connect (applied + status), then one line per event \
    (applied, rejected, status) until Ctrl-C or SIGTERM (exit 0). Exit 2 if the \
    connect fails."
)]
pub struct Args {
    #[command(flatten)]
    etcd: EtcdArgs,
    /// Print NDJSON: one store event object per line, tagged by `event`.
    #[arg(long)]
    json: bool,
}

/// Why the event loop ended.
enum Stop {
    /// Ctrl-C or SIGTERM.
    Signal,
    /// stdout was closed (e.g. `watch | head -1`): a normal end.
    ReaderGone,
    /// A failure worth exit 2.
    Error(String),
}

/// Runs `watch`.
pub async fn run(args: Args) -> u8 {
    let options = match args.etcd.options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("directivectl: {e}");
            return EXIT_ERROR;
        }
    };
    let store = match EtcdDirectiveStore::connect(options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("directivectl: {e}");
            return EXIT_ERROR;
        }
    };
    eprintln!("watching {} (Ctrl-C to stop)", args.etcd.key);
    let stop = follow(&store, args.json).await;
    store.shutdown().await;
    match stop {
        Stop::Signal | Stop::ReaderGone => EXIT_OK,
        Stop::Error(e) => {
            eprintln!("directivectl: {e}");
            EXIT_ERROR
        }
    }
}

/// Prints the initial state, then every event until a signal or an error.
async fn follow(store: &EtcdDirectiveStore, json: bool) -> Stop {
    // Before the first line: whoever reads it may signal at once.
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => return Stop::Error(format!("cannot listen for Ctrl-C/SIGTERM: {e}")),
    };
    // Subscribe before reading the snapshot: an event after this point is
    // either reflected in the snapshot below or delivered later, never lost.
    let mut events = store.events();
    let mut shown = store.snapshot().revision;
    if let Err(stop) = emit_state(store, json) {
        return stop;
    }
    loop {
        let event = tokio::select! {
            () = signals.recv() => return Stop::Signal,
            event = events.recv() => event,
        };
        match event {
            // Already shown as part of the initial state.
            Ok(StoreEvent::Applied { revision, .. }) if revision <= shown => {}
            Ok(event) => {
                if let StoreEvent::Applied { revision, .. } = &event {
                    shown = *revision;
                }
                if let Err(stop) = emit(&event, json) {
                    return stop;
                }
            }
            Err(RecvError::Lagged(missed)) => {
                // Too slow a reader: say so, then resynchronise on the state.
                eprintln!("directivectl: {missed} event(s) missed; current state follows");
                shown = store.snapshot().revision;
                if let Err(stop) = emit_state(store, json) {
                    return stop;
                }
            }
            Err(RecvError::Closed) => return Stop::Error("the store stopped".into()),
        }
    }
}

/// The current snapshot as an `applied` event and the current status.
fn emit_state(store: &EtcdDirectiveStore, json: bool) -> Result<(), Stop> {
    emit(&StoreEvent::applied(&store.snapshot()), json)?;
    emit(&StoreEvent::status(&store.status()), json)
}

/// Writes one line and flushes it.
fn emit(event: &StoreEvent, json: bool) -> Result<(), Stop> {
    let line = if json {
        serde_json::to_string(event).map_err(|e| Stop::Error(e.to_string()))?
    } else {
        human(event)
    };
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Stop::ReaderGone),
        Err(e) => Err(Stop::Error(format!("cannot write to stdout: {e}"))),
    }
}

/// One human line per event.
fn human(event: &StoreEvent) -> String {
    match event {
        StoreEvent::Applied {
            revision,
            directives,
            ids,
            recovered,
        } => format!(
            "applied revision={revision} directives={directives} ids=[{}]{}",
            ids.join(", "),
            if *recovered {
                " (recovered from history: the current value is invalid)"
            } else {
                ""
            }
        ),
        StoreEvent::Rejected { revision, errors } => {
            let errors: Vec<String> = errors
                .iter()
                .map(|e| {
                    let path = if e.path.is_empty() { "/" } else { &e.path };
                    format!("{}@{path}", e.code)
                })
                .collect();
            format!(
                "rejected revision={revision} errors=[{}] (keeping the last good set)",
                errors.join(", ")
            )
        }
        StoreEvent::Status {
            state,
            applied_revision,
            observed_revision,
            reconnects,
            last_error,
        } => {
            let mut line = format!(
                "status state={state} applied_revision={applied_revision} \
                 observed_revision={observed_revision} reconnects={reconnects}"
            );
            if let Some(e) = last_error {
                line.push_str(&format!(" last_error={e}"));
            }
            line
        }
    }
}

/// Ctrl-C (SIGINT) or SIGTERM as one future. The handlers are installed
/// once, before the loop, so a signal between two events is never missed.
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Resolves at the first Ctrl-C or SIGTERM.
    pub(crate) async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
