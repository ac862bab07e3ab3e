//! Per-connection bookkeeping: which connections are open, whether each
//! has a request in flight, and since when it has been idle, so that the
//! accept loop can enforce [`ConnectionLimits`] from accept and shed the
//! longest-idle connection at the cap.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tokio_util::sync::CancellationToken;

use crate::limits::ConnectionLimits;

/// What one connection is doing.
pub struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    /// Milliseconds after `opened` of the last request's start or end.
    last_ms: AtomicU64,
    /// Fired to evict this connection.
    pub evict: CancellationToken,
}

impl Activity {
    fn new() -> Self {
        Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            last_ms: AtomicU64::new(0),
            evict: CancellationToken::new(),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn started(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
    }

    fn ended(&self) {
        self.touch();
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// True once a request head has arrived.
    pub fn has_requested(&self) -> bool {
        self.requests.load(Ordering::Relaxed) > 0
    }

    /// When this connection's current bound runs out: the head deadline
    /// before its first request, the idle deadline while nothing is in
    /// flight; `None` while a request is in flight.
    pub fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        if !self.has_requested() {
            return Some(self.opened + limits.head_timeout);
        }
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        Some(self.opened + last + limits.idle_timeout)
    }

    /// The eviction order: never-used connections first, then the longest
    /// idle; `None` for a connection with a request in flight.
    fn idle_rank(&self) -> Option<(bool, Instant)> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let last = self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        Some((self.has_requested(), last))
    }
}

/// The open connections.
pub struct Registry {
    max: usize,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    next_id: AtomicU64,
}

/// A connection's place in the registry, given back on drop.
pub struct Admitted {
    registry: Arc<Registry>,
    id: u64,
    /// The connection's activity record.
    pub activity: Arc<Activity>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.registry
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

impl Registry {
    /// A registry admitting at most `max` connections at once.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Registry {
            max: max.max(1),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        })
    }

    /// Admits a new connection. At the cap, the longest-idle connection is
    /// evicted to make room; when every connection is busy, `None`.
    pub fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.len() >= self.max {
            let victim = open
                .iter()
                .filter_map(|(id, a)| a.idle_rank().map(|rank| (rank, *id)))
                .min()
                .map(|(_, id)| id)?;
            if let Some(evicted) = open.remove(&victim) {
                evicted.evict.cancel();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity::new());
        open.insert(id, Arc::clone(&activity));
        Some(Admitted {
            registry: Arc::clone(self),
            id,
            activity,
        })
    }
}

/// `service` wrapped so that each request's start and the end of its
/// response body are recorded on `activity`.
pub fn tracked<S, B>(service: S, activity: Arc<Activity>) -> Tracked<S>
where
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>>,
{
    Tracked { service, activity }
}

/// See [`tracked`].
#[derive(Clone)]
pub struct Tracked<S> {
    service: S,
    activity: Arc<Activity>,
}

impl<S, B> hyper::service::Service<http::Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Guarded<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        self.activity.started();
        let guard = InFlight(Arc::clone(&self.activity));
        let response = self.service.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| Guarded {
                body,
                _guard: guard,
            }))
        })
    }
}

/// Ends a request's in-flight time when its response body is done.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.ended();
    }
}

/// A response body that holds its request's in-flight mark until dropped.
pub struct Guarded<B> {
    body: B,
    _guard: InFlight,
}

impl<B> http_body::Body for Guarded<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
