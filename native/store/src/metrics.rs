//! The store's metrics, through the `metrics` facade (ADR 0012): the store
//! records, the embedder chooses the exporter (Prometheus, StatsD, none).
//! Without an installed recorder every call here is a no-op; install it
//! before connecting stores (handles are resolved at connect).
//!
//! Every series is labelled with the directive `key` and, for a reporting
//! store, its `instance` id (several stores in one process, as in the demo,
//! stay apart). Nothing derived from directive values is ever a label:
//! rejection codes are a closed set, restart reasons and cause classes too.
//!
//! The driver calls [`StoreMetrics::record`] with every reducer output (the
//! one place outputs are published), so what the metrics say is what the
//! store did; it decides nothing.

use std::time::Duration;

use directive_core::{Output, Restart, State, Status};
use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram, Label};

/// `directive_store_state{state}`: 1 for the current state, 0 for the others.
pub const STATE: &str = "directive_store_state";
/// The revision of the applied snapshot.
pub const APPLIED_REVISION: &str = "directive_store_applied_revision";
/// The highest etcd revision the store knows it reflects.
pub const OBSERVED_REVISION: &str = "directive_store_observed_revision";
/// When the applied set last changed (unix seconds).
pub const LAST_APPLY: &str = "directive_store_last_apply_timestamp_seconds";
/// Values refused, by error code (one increment per code in the value).
pub const REJECTIONS: &str = "directive_store_rejections_total";
/// Failed attempts to reach etcd, by cause class (`stall`, `unavailable`,
/// `timeout`, `auth`, `other`): one per lost connection, and one per failed
/// retry during an outage.
pub const RECONNECTS: &str = "directive_store_reconnects_total";
/// Times the store gave up a watch (or a read) and started over, by reason
/// (`compaction`, `cancel`, `stall`, `error`), retries during an outage
/// included.
pub const WATCH_RESTARTS: &str = "directive_store_watch_restarts_total";
/// From a stamped set's `published_at` to this store applying it through
/// its watch (seconds; across machines, includes their clock offset).
pub const PROPAGATION: &str = "directive_store_propagation_seconds";
/// Decoding and indexing one value (seconds).
pub const DECODE: &str = "directive_store_decode_seconds";
/// Directives in the applied set.
pub const DIRECTIVES: &str = "directive_store_directives";
/// Size of the applied value as stored (bytes).
pub const SNAPSHOT_BYTES: &str = "directive_store_snapshot_bytes";

/// Histogram buckets (seconds) for the store's histograms, for whoever
/// configures an exporter: `(metric name, upper bounds)`.
pub const HISTOGRAM_BUCKETS: &[(&str, &[f64])] = &[
    (
        PROPAGATION,
        &[
            0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    ),
    (
        DECODE,
        &[
            0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
        ],
    ),
];

/// Registers every series' description and unit with the recorder (call
/// once, after installing it; an exporter then prints `# HELP`).
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!(
        STATE,
        "1 for the store's current state (initializing, live, stale), 0 for the others"
    );
    describe_gauge!(
        APPLIED_REVISION,
        "etcd revision of the applied directive set"
    );
    describe_gauge!(
        OBSERVED_REVISION,
        "highest etcd revision the store knows it reflects"
    );
    describe_gauge!(
        LAST_APPLY,
        Unit::Seconds,
        "unix time the applied directive set last changed"
    );
    describe_counter!(REJECTIONS, "directive values refused, by error code");
    describe_counter!(RECONNECTS, "connections to etcd lost, by cause class");
    describe_counter!(
        WATCH_RESTARTS,
        "watches given up and started over, by reason"
    );
    describe_histogram!(
        PROPAGATION,
        Unit::Seconds,
        "from a set's published_at to this store applying it"
    );
    describe_histogram!(
        DECODE,
        Unit::Seconds,
        "time to decode and index one directive value"
    );
    describe_gauge!(DIRECTIVES, "directives in the applied set");
    describe_gauge!(
        SNAPSHOT_BYTES,
        Unit::Bytes,
        "size of the applied value as stored"
    );
}

/// What the driver measured around one reducer call.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Measured {
    /// The value's size, when the event carried one.
    pub(crate) value_len: Option<usize>,
    /// The reducer call's duration, when it decoded a value.
    pub(crate) decode: Option<Duration>,
    /// True when the event came through the watch (a live change, whose
    /// propagation time means something; a startup read's does not).
    pub(crate) from_watch: bool,
}

/// One store's series, resolved once.
pub(crate) struct StoreMetrics {
    labels: Vec<Label>,
    states: [(State, Gauge); 3],
    applied_revision: Gauge,
    observed_revision: Gauge,
    last_apply: Gauge,
    propagation: Histogram,
    decode: Histogram,
    directives: Gauge,
    snapshot_bytes: Gauge,
    stall_reconnects: Counter,
}

impl StoreMetrics {
    pub(crate) fn new(key: &str, instance: Option<&str>) -> Self {
        let mut labels = vec![Label::new("key", key.to_owned())];
        if let Some(id) = instance {
            labels.push(Label::new("instance", id.to_owned()));
        }
        let state = |name: &'static str| {
            let mut l = labels.clone();
            l.push(Label::new("state", name));
            gauge!(STATE, l)
        };
        let states = [
            (State::Initializing, state("initializing")),
            (State::Live, state("live")),
            (State::Stale { since_ms: 0 }, state("stale")),
        ];
        let mut stall = labels.clone();
        stall.push(Label::new("cause", "stall"));
        let metrics = StoreMetrics {
            states,
            applied_revision: gauge!(APPLIED_REVISION, labels.clone()),
            observed_revision: gauge!(OBSERVED_REVISION, labels.clone()),
            last_apply: gauge!(LAST_APPLY, labels.clone()),
            propagation: histogram!(PROPAGATION, labels.clone()),
            decode: histogram!(DECODE, labels.clone()),
            directives: gauge!(DIRECTIVES, labels.clone()),
            snapshot_bytes: gauge!(SNAPSHOT_BYTES, labels.clone()),
            stall_reconnects: counter!(RECONNECTS, stall),
            labels,
        };
        metrics.set_state(&State::Initializing);
        metrics
    }

    fn set_state(&self, now: &State) {
        for (state, gauge) in &self.states {
            gauge.set(if state.name() == now.name() { 1.0 } else { 0.0 });
        }
    }

    fn with(&self, name: &'static str, value: &'static str) -> Vec<Label> {
        let mut labels = self.labels.clone();
        labels.push(Label::new(name, value));
        labels
    }

    /// A connection lost for `class` (see [`cause_class`]), counted when
    /// the driver feeds the failure.
    pub(crate) fn reconnect(&self, class: &'static str) {
        counter!(RECONNECTS, self.with("cause", class)).increment(1);
    }

    /// Records one reducer output, with `status` after it and `now_ms`.
    pub(crate) fn record(&self, out: &Output, status: &Status, measured: Measured, now_ms: u64) {
        if let Some(decode) = measured.decode {
            self.decode.record(decode.as_secs_f64());
        }
        if let Some(snapshot) = &out.applied {
            self.applied_revision.set(snapshot.revision as f64);
            self.last_apply.set(now_ms as f64 / 1000.0);
            self.directives.set(snapshot.set.len() as f64);
            self.snapshot_bytes
                .set(measured.value_len.unwrap_or(0) as f64);
            if measured.from_watch && snapshot.set.is_stamped() {
                let lag_ms = now_ms.saturating_sub(snapshot.set.anchor_ms());
                self.propagation.record(lag_ms as f64 / 1000.0);
            }
        }
        if let Some(rejection) = &out.rejected {
            for error in &rejection.errors {
                counter!(REJECTIONS, self.with("code", error.code.as_str())).increment(1);
            }
        }
        if let Some(restart) = out.restart {
            counter!(WATCH_RESTARTS, self.with("reason", restart.as_str())).increment(1);
            if restart == Restart::Stall {
                self.stall_reconnects.increment(1);
            }
        }
        if out.status_changed {
            self.set_state(&status.state);
        }
        self.observed_revision.set(status.observed_revision as f64);
    }
}

/// The class of an etcd failure, for [`RECONNECTS`]: a closed set, never
/// the message.
pub(crate) fn cause_class(error: &etcd_client::Error) -> &'static str {
    use etcd_client::Error;
    // gRPC status codes: 4 deadline exceeded, 7 permission denied,
    // 14 unavailable, 16 unauthenticated.
    match error {
        Error::GRpcStatus(status) => match status.code() as i32 {
            14 => "unavailable",
            4 => "timeout",
            7 | 16 => "auth",
            _ => "other",
        },
        Error::TransportError(_) | Error::IoError(_) => "unavailable",
        _ => "other",
    }
}
