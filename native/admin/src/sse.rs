//! `GET /api/events`: Server-Sent Events.
//!
//! A client first gets one `state` event with what is applied now (so it
//! never has to race a separate GET against the stream), then one `fleet`
//! event (the body of `GET /api/fleet`), then every store event (`applied`, `rejected`,
//! `status`: the objects of `directivectl watch --json`) and `fleet` change
//! as they happen, each as one `data:` line of JSON. A comment line every
//! 15 s keeps proxies from closing an idle stream. The stream ends when the
//! server shuts down.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde_json::json;
use tokio::sync::{broadcast, OwnedSemaphorePermit};
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::hub::fleet_event_line;
use super::metrics::OpenStream;
use super::state::AppState;

/// The interval of keep-alive comments.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The handler.
pub(crate) async fn events(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let backend = state.ready_backend()?;
    let permit = Arc::clone(&state.event_streams)
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyEventStreams)?;
    // Subscribe before reading the state: an event landing in between is
    // then delivered (possibly twice), never lost.
    let rx = state.hub.subscribe();
    let snapshot = backend.snapshot();
    let status = backend.status();
    let mut initial = VecDeque::new();
    initial.push_back(
        json!({
            "event": "state",
            "revision": snapshot.revision,
            "directives": snapshot.set.len(),
            "ids": snapshot.set.directives().iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            "status": status,
        })
        .to_string(),
    );
    initial.push_back(fleet_event_line(&state.fleet.now()));
    let stream = event_stream(initial, rx, state.cancel.clone(), permit);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

struct Feed {
    initial: VecDeque<String>,
    rx: broadcast::Receiver<Arc<str>>,
    cancel: CancellationToken,
    /// This stream's place under the event-stream cap, freed with the feed.
    _permit: OwnedSemaphorePermit,
    /// Counted in the open-streams gauge while the feed lives.
    _open: OpenStream,
}

fn event_stream(
    initial: VecDeque<String>,
    rx: broadcast::Receiver<Arc<str>>,
    cancel: CancellationToken,
    permit: OwnedSemaphorePermit,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let feed = Feed {
        initial,
        rx,
        cancel,
        _permit: permit,
        _open: OpenStream::new(),
    };
    stream::unfold(feed, |mut feed| async move {
        if let Some(line) = feed.initial.pop_front() {
            return Some((Ok(Event::default().data(line)), feed));
        }
        let received = tokio::select! {
            () = feed.cancel.cancelled() => return None,
            received = feed.rx.recv() => received,
        };
        let line = match received {
            Ok(line) => line.to_string(),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                json!({"event": "lagged", "missed": missed}).to_string()
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(Event::default().data(line)), feed))
    })
}
