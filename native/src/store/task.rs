//! The shell loop: perform the reducer's commands against etcd, report what
//! etcd said, publish what the reducer decided.
//!
//! All decisions (revision guard, malformed values, compaction, history walk,
//! TTL anchoring, backoff attempt numbers) live in `directive_core::Reducer`;
//! this file only does I/O and keeps time. The same [`Shell`] runs the
//! startup phase inside `connect` (where any error is returned to the caller:
//! fail fast) and then, moved into the background task, the watch loop
//! (where any error becomes `Event::Disconnected` and a backoff: fail safe).
//!
//! Watch responses are inspected in full (weakness 7 of the upstream):
//! `canceled` with a `compact_revision` is a compaction, otherwise a cancel;
//! `created` confirms the watch; events carry their own mod revisions. A
//! response's header revision is used as progress only for server progress
//! notifications: a `created` response or a catch-up batch carries the
//! store's current revision even when older events are still to come, so
//! trusting it would skip them. A stall (no message for `progress_interval`,
//! then none within `progress_deadline` of a progress request) counts as a
//! disconnect, as does any stream error.

use std::sync::Arc;
use std::time::Duration;

use directive_core::{Action, Command, Event, KeyValue, Reducer};
use etcd_client::{Client, EventType, GetOptions, WatchOptions, WatchResponse, WatchStream};
use tokio_util::sync::CancellationToken;

use super::connect::{describe, is_compacted};
use super::shared::Shared;
use crate::clock::now_ms;

/// What the watch loop needs: the client (reused across reconnects), the
/// reducer, and where to publish.
pub(crate) struct Shell {
    pub(crate) client: Client,
    pub(crate) key: String,
    pub(crate) reducer: Reducer,
    pub(crate) shared: Arc<Shared>,
    pub(crate) backoff: directive_core::Backoff,
    pub(crate) progress_interval: Duration,
    pub(crate) progress_deadline: Duration,
}

impl Shell {
    /// Feeds one event to the reducer at the current time and publishes the output.
    pub(crate) fn feed(&mut self, event: Event<'_>) -> Option<Command> {
        match &event {
            Event::Disconnected { cause } => {
                tracing::warn!(key = %self.key, %cause, "etcd disconnected")
            }
            Event::Compacted { compact_revision } => {
                tracing::info!(key = %self.key, compact_revision, "watch start compacted; re-reading")
            }
            Event::Canceled { reason } => {
                tracing::warn!(key = %self.key, %reason, "watch canceled by etcd")
            }
            Event::WatchCreated => tracing::debug!(key = %self.key, "watch created"),
            _ => {}
        }
        let out = self.reducer.handle(event, now_ms());
        self.shared.publish(&self.key, &out, self.reducer.status());
        out.command
    }

    /// The watch command that resumes after everything known.
    fn resume(&self) -> Command {
        Command {
            action: Action::Watch {
                start_revision: self.reducer.status().observed_revision + 1,
            },
            backoff_attempt: None,
        }
    }

    /// Performs a `Read` or `ReadHistory`, feeding the result. Errors are
    /// returned to the caller (the startup phase fails; the task reports a
    /// disconnect).
    pub(crate) async fn read(
        &mut self,
        action: Action,
    ) -> Result<Option<Command>, etcd_client::Error> {
        let mut kv_client = self.client.kv_client();
        match action {
            Action::Read => {
                let resp = kv_client.get(self.key.as_str(), None).await?;
                let revision = resp.header().map_or(0, |h| h.revision());
                let kv = resp.kvs().first().map(|kv| KeyValue {
                    value: kv.value(),
                    mod_revision: kv.mod_revision(),
                });
                Ok(self.feed(Event::Read { revision, kv }))
            }
            Action::ReadHistory { revision } => {
                tracing::info!(key = %self.key, revision, "reading history for a valid earlier version");
                let opts = GetOptions::new().with_revision(revision);
                match kv_client.get(self.key.as_str(), Some(opts)).await {
                    Ok(resp) => {
                        let kv = resp.kvs().first().map(|kv| KeyValue {
                            value: kv.value(),
                            mod_revision: kv.mod_revision(),
                        });
                        Ok(self.feed(Event::HistoryRead { kv }))
                    }
                    Err(e) if is_compacted(&e) => Ok(self.feed(Event::HistoryRead { kv: None })),
                    Err(e) => Err(e),
                }
            }
            Action::Watch { .. } => Ok(Some(Command {
                action,
                backoff_attempt: None,
            })),
        }
    }

    /// The background loop, from the first command after startup until
    /// `cancel` fires. Every await is abandoned on cancellation, which drops
    /// the watch stream (etcd removes the watcher) and, with the shell, the client.
    pub(crate) async fn run(mut self, first: Command, cancel: CancellationToken) {
        tokio::select! {
            () = cancel.cancelled() => {}
            () = self.run_inner(first) => {}
        }
        tracing::info!(key = %self.key, "etcd directive store stopped");
    }

    async fn run_inner(&mut self, first: Command) {
        let mut next = first;
        loop {
            if let Some(attempt) = next.backoff_attempt {
                let delay = self.backoff.delay_ms(attempt, fastrand::u64(..));
                tracing::info!(key = %self.key, attempt, delay_ms = delay, "backing off before retry");
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            next = match next.action {
                Action::Watch { start_revision } => self.watch(start_revision).await,
                action => match self.read(action).await {
                    Ok(cmd) => cmd.unwrap_or_else(|| self.resume()),
                    Err(e) => self.disconnected(describe(&e)),
                },
            };
        }
    }

    fn disconnected(&mut self, cause: String) -> Command {
        self.feed(Event::Disconnected { cause }).unwrap_or(Command {
            action: Action::Read,
            backoff_attempt: Some(0),
        })
    }

    /// Opens the watch and pumps it until the reducer asks for something else.
    async fn watch(&mut self, start_revision: i64) -> Command {
        let opts = WatchOptions::new()
            .with_start_revision(start_revision)
            .with_progress_notify();
        let mut watch_client = self.client.watch_client();
        let stream = match watch_client.watch(self.key.as_str(), Some(opts)).await {
            Ok(stream) => stream,
            Err(e) => return self.disconnected(describe(&e)),
        };
        tracing::debug!(key = %self.key, start_revision, "watch opened");
        self.pump(stream).await
    }

    async fn pump(&mut self, mut stream: WatchStream) -> Command {
        let mut asked = false;
        loop {
            let wait = if asked {
                self.progress_deadline
            } else {
                self.progress_interval
            };
            match tokio::time::timeout(wait, stream.message()).await {
                Err(_) if !asked => {
                    asked = true;
                    tracing::debug!(key = %self.key, "watch silent; requesting progress");
                    if let Err(e) = stream.request_progress().await {
                        return self.disconnected(describe(&e));
                    }
                }
                Err(_) => {
                    return self.disconnected(format!(
                        "watch stalled: no response within {:?} of a progress request",
                        self.progress_deadline
                    ))
                }
                Ok(Err(e)) => return self.disconnected(describe(&e)),
                Ok(Ok(None)) => return self.disconnected("watch stream closed by etcd".to_owned()),
                Ok(Ok(Some(resp))) => {
                    asked = false;
                    if let Some(cmd) = self.on_response(&resp) {
                        return cmd;
                    }
                }
            }
        }
    }

    /// Feeds one watch response; `Some` when the reducer wants the watch replaced.
    fn on_response(&mut self, resp: &WatchResponse) -> Option<Command> {
        if resp.canceled() {
            let event = if resp.compact_revision() > 0 {
                Event::Compacted {
                    compact_revision: resp.compact_revision(),
                }
            } else {
                Event::Canceled {
                    reason: resp.cancel_reason().to_owned(),
                }
            };
            return Some(self.feed(event).unwrap_or(Command {
                action: Action::Read,
                backoff_attempt: None,
            }));
        }
        if resp.created() {
            if let Some(cmd) = self.feed(Event::WatchCreated) {
                return Some(cmd);
            }
        }
        if resp.events().is_empty() && !resp.created() {
            // A server progress notification (sent only when the watcher is
            // synced) vouches for its header revision; the answer to our own
            // progress request (watch id -1) is, on etcd 3.4, sent even while
            // the watcher catches up, so it only proves the stream is alive.
            let revision = if resp.watch_id() >= 0 {
                resp.header().map_or(0, |h| h.revision())
            } else {
                self.reducer.status().observed_revision
            };
            if let Some(cmd) = self.feed(Event::Progress { revision }) {
                return Some(cmd);
            }
        }
        for ev in resp.events() {
            let Some(kv) = ev.kv() else { continue };
            let event = match ev.event_type() {
                EventType::Put => Event::Put {
                    kv: KeyValue {
                        value: kv.value(),
                        mod_revision: kv.mod_revision(),
                    },
                },
                EventType::Delete => Event::Delete {
                    revision: kv.mod_revision(),
                },
            };
            if let Some(cmd) = self.feed(event) {
                return Some(cmd);
            }
        }
        None
    }
}
