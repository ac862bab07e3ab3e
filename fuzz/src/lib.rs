//! The bodies of the fuzz targets, as a library.
//!
//! libFuzzer needs nightly and a sanitizer build, which a fresh CI machine may
//! not have. Keeping every target's body here, in plain stable Rust, lets the
//! same checks run two ways: under `cargo fuzz` (the thin binaries in
//! `fuzz_targets/`) and, on stable, as a replay of the seed corpus plus a few
//! thousand generated inputs (`tests/replay.rs`). A failed check panics, which
//! is what both libFuzzer and the test harness report as a crash.
//!
//! The three targets:
//! - [`decode_bytes`]: arbitrary bytes; the decoder must not panic, and an
//!   accepted set must re-encode (`to_wire_json`) to a document that decodes
//!   to the same directives.
//! - [`structured_set`]: an [`ArbSet`] rendered to JSON. The generator knows
//!   whether what it rendered is valid, so the decoder's verdict is checked
//!   against an oracle, not only for panics.
//! - [`reducer_events`]: [`ArbEvent`] sequences into the reducer, checking
//!   its invariants after every step.

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::sync::Arc;

use arbitrary::Arbitrary;
use directive_core::{decode, validate, DirectiveSet, Event, KeyValue, Limits, Reducer};

/// The decode time used by the byte-level targets (2027-01-15, unix ms).
pub const NOW_MS: u64 = 1_800_000_000_000;

/// Decodes arbitrary bytes; re-encodes and re-decodes an accepted set.
pub fn decode_bytes(data: &[u8]) {
    let limits = Limits::default();
    match decode(data, NOW_MS, &limits) {
        Ok(set) => {
            check_accepted(&set, &limits);
            check_roundtrip(&set, NOW_MS);
        }
        Err(errors) => check_rejected(data, &errors.errors, &limits),
    }
    // The report and the decoder must agree on the verdict.
    let report = validate(data, NOW_MS, &limits);
    assert_eq!(
        report.ok,
        decode(data, NOW_MS, &limits).is_ok(),
        "validate and decode disagree"
    );
}

/// The canonical encoding decodes (at the same `now`) to the same directives.
///
/// The canonical form spells out every default (`sample_per_mille`, both
/// flags, `published_at`), so it can be longer than the input; it is decoded
/// with `max_bytes` raised to its own length so that only the content is
/// compared here (the size question is a separate finding, see
/// `canonical_form_can_exceed_max_bytes` in `tests/replay.rs`).
fn check_roundtrip(set: &DirectiveSet, now_ms: u64) {
    let wire = set.to_wire_json();
    let limits = Limits {
        max_bytes: wire.len().max(Limits::DEFAULT.max_bytes),
        ..Limits::DEFAULT
    };
    match decode(wire.as_bytes(), now_ms, &limits) {
        Ok(again) => {
            assert_eq!(
                again.directives(),
                set.directives(),
                "re-encoded set decodes to different directives"
            );
            assert_eq!(again.anchor_ms(), set.anchor_ms(), "anchor moved");
        }
        Err(e) => panic!("canonical encoding rejected: {:?}", e.errors),
    }
}

/// Invariants of every accepted set.
fn check_accepted(set: &DirectiveSet, limits: &Limits) {
    assert!(set.len() <= limits.max_directives, "too many directives");
    let mut ids = HashSet::new();
    for d in set.directives() {
        assert!(!d.id.is_empty() && d.id.len() <= limits.max_id_len, "id");
        assert!(ids.insert(d.id.as_str()), "duplicate id accepted");
        assert!(d.ttl_secs >= 1 && d.ttl_secs <= limits.max_ttl_secs, "ttl");
        assert!(d.sample_per_mille <= 1000, "sample");
        for t in [&d.target.tenant, &d.target.index, &d.target.principal]
            .into_iter()
            .flatten()
        {
            assert!(!t.is_empty() && t.len() <= limits.max_target_len, "target");
        }
        assert_eq!(
            d.expires_at_ms,
            set.anchor_ms() + d.ttl_secs * 1000,
            "expiry is anchor + ttl"
        );
    }
}

/// Invariants of every rejection: errors present, bounded, never echoing input.
fn check_rejected(input: &[u8], errors: &[directive_core::DecodeError], limits: &Limits) {
    assert!(!errors.is_empty(), "rejection without errors");
    assert!(
        errors.len() <= limits.max_errors + 1,
        "error list unbounded"
    );
    // Messages are built from codes, field names and limits only. Any string
    // the input carries that is long and odd enough not to occur in a fixed
    // message must not appear in one.
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let Ok(serde_json::Value::Object(top)) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let mut strings = Vec::new();
    collect_strings(&serde_json::Value::Object(top), &mut strings);
    for e in errors {
        for s in &strings {
            if s.len() >= 12 && s.contains('~') {
                assert!(!e.message.contains(s.as_str()), "message echoes input");
            }
        }
    }
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            collect_strings(x, out)
        }),
        _ => {}
    }
}

// ------------------------------------------------------------ structured_set

/// A string value: valid ones stay within the limits, invalid ones break one rule.
#[derive(Arbitrary, Debug, Clone)]
pub enum ArbStr {
    /// A short valid string built from a seed (`~` marks it as input).
    Short(u16),
    /// Exactly `n % 300` copies of `x` (may exceed the id or target limit).
    Long(u16),
    /// `""`.
    Empty,
    /// JSON `null`.
    Null,
    /// A number instead of a string.
    Number(i32),
    /// `true`.
    Bool,
    /// A string with escapes and non-ASCII characters.
    Escaped(u8),
}

/// An integer field's value.
#[derive(Arbitrary, Debug, Clone)]
pub enum ArbNum {
    /// A plain non-negative integer.
    Int(u32),
    /// A huge integer (above `u64::MAX`).
    Huge,
    /// A negative integer.
    Negative(u16),
    /// A float with a fraction (`600.5`) or an integral one (`600.0`).
    Float(u16, bool),
    /// A string of digits.
    Quoted(u16),
    /// JSON `null`.
    Null,
}

/// One directive: each field absent (`None`) or some value.
#[derive(Arbitrary, Debug, Clone)]
pub struct ArbDirective {
    /// `id`.
    pub id: Option<ArbStr>,
    /// `level`: index into the valid levels, or past them for an unknown one.
    pub level: Option<Result<u8, ArbStr>>,
    /// `ttl_secs`.
    pub ttl: Option<ArbNum>,
    /// `tenant`, `index`, `principal`.
    pub targets: [Option<ArbStr>; 3],
    /// `endpoint`: index into the twelve kinds, or past them for an unknown one.
    pub endpoint: Option<Result<u8, ArbStr>>,
    /// `sample_per_mille`.
    pub sample: Option<ArbNum>,
    /// `ring_buffer`, `capture`: a bool, or a non-bool value.
    pub flags: [Option<Result<bool, ArbStr>>; 2],
    /// An unknown key.
    pub unknown_key: bool,
    /// Repeat the `level` key.
    pub duplicate_key: bool,
    /// Render as a non-object (an array) instead.
    pub not_an_object: bool,
}

/// A directive set document.
#[derive(Arbitrary, Debug, Clone)]
pub struct ArbSet {
    /// `published_at`.
    pub published_at: Option<ArbNum>,
    /// The directives (`None`: the key is absent).
    pub directives: Option<Vec<ArbDirective>>,
    /// An unknown top-level key.
    pub unknown_key: bool,
    /// Limit on the number of directives for this document (small, so the
    /// `too_many_directives` rule is reachable).
    pub max_directives: u8,
    /// Pretty-print with newlines (positions must still be computed).
    pub pretty: bool,
}

const LEVELS: [&str; 4] = ["Off", "Shape", "ShapeTiming", "ShapeRewriteDiff"];

/// Renders `s`; returns the JSON text and the string value if it is a valid one.
fn render_str(s: &ArbStr) -> (String, Option<String>) {
    let quoted = |v: &str| serde_json::Value::String(v.to_owned()).to_string();
    match s {
        ArbStr::Short(n) => {
            let v = format!("v~{n:x}");
            (quoted(&v), Some(v))
        }
        ArbStr::Long(n) => {
            let v = "x".repeat(usize::from(*n) % 300);
            (quoted(&v), Some(v))
        }
        ArbStr::Empty => (quoted(""), Some(String::new())),
        ArbStr::Null => ("null".into(), None),
        ArbStr::Number(n) => (n.to_string(), None),
        ArbStr::Bool => ("true".into(), None),
        ArbStr::Escaped(n) => {
            let v = format!("é\u{1F600}\"\\\n~{n}");
            (quoted(&v), Some(v))
        }
    }
}

/// Renders `n`; returns the JSON text and the value if it is a u64.
fn render_num(n: &ArbNum) -> (String, Option<u64>) {
    match n {
        ArbNum::Int(v) => (v.to_string(), Some(u64::from(*v))),
        ArbNum::Huge => ("18446744073709551616".into(), None),
        ArbNum::Negative(v) => (format!("-{}", u32::from(*v) + 1), None),
        ArbNum::Float(v, true) => (format!("{v}.0"), None),
        ArbNum::Float(v, false) => (format!("{v}.5"), None),
        ArbNum::Quoted(v) => (format!("\"{v}\""), None),
        ArbNum::Null => ("null".into(), None),
    }
}

/// Renders one directive; returns its text and whether it is valid (given the ids seen).
fn render_directive(
    d: &ArbDirective,
    limits: &Limits,
    ids: &mut HashSet<String>,
) -> (String, bool) {
    if d.not_an_object {
        return ("[]".into(), false);
    }
    let mut ok = true;
    let mut fields: Vec<String> = Vec::new();
    match &d.id {
        None => ok = false,
        Some(s) => {
            let (text, v) = render_str(s);
            match v {
                Some(v) if !v.is_empty() && v.len() <= limits.max_id_len => {
                    ok &= ids.insert(v);
                }
                _ => ok = false,
            }
            fields.push(format!("\"id\":{text}"));
        }
    }
    match &d.level {
        None => ok = false,
        Some(Ok(i)) => {
            let name = LEVELS.get(usize::from(*i)).copied();
            ok &= name.is_some();
            fields.push(format!("\"level\":\"{}\"", name.unwrap_or("Verbose")));
        }
        Some(Err(s)) => {
            ok = false;
            fields.push(format!("\"level\":{}", render_str(s).0));
        }
    }
    match &d.ttl {
        None => ok = false,
        Some(n) => {
            let (text, v) = render_num(n);
            ok &= v.is_some_and(|v| v >= 1 && v <= limits.max_ttl_secs);
            fields.push(format!("\"ttl_secs\":{text}"));
        }
    }
    for (key, t) in ["tenant", "index", "principal"].iter().zip(&d.targets) {
        if let Some(s) = t {
            let (text, v) = render_str(s);
            ok &= v.is_some_and(|v| !v.is_empty() && v.len() <= limits.max_target_len);
            fields.push(format!("\"{key}\":{text}"));
        }
    }
    match &d.endpoint {
        None => {}
        Some(Ok(i)) => {
            let kind = directive_core::EndpointKind::ALL
                .get(usize::from(*i))
                .copied();
            ok &= kind.is_some();
            let name = kind.map_or("NoSuchEndpoint", |k| k.as_str());
            fields.push(format!("\"endpoint\":\"{name}\""));
        }
        Some(Err(s)) => {
            ok = false;
            fields.push(format!("\"endpoint\":{}", render_str(s).0));
        }
    }
    if let Some(n) = &d.sample {
        let (text, v) = render_num(n);
        ok &= v.is_some_and(|v| v <= 1000);
        fields.push(format!("\"sample_per_mille\":{text}"));
    }
    for (key, f) in ["ring_buffer", "capture"].iter().zip(&d.flags) {
        match f {
            None => {}
            Some(Ok(b)) => fields.push(format!("\"{key}\":{b}")),
            Some(Err(s)) => {
                // A generated non-flag value, except that `ArbStr::Bool`
                // renders `true`, which is a valid flag.
                ok &= matches!(s, ArbStr::Bool);
                fields.push(format!("\"{key}\":{}", render_str(s).0));
            }
        }
    }
    if d.unknown_key {
        ok = false;
        fields.push("\"tennant\":\"acme\"".into());
    }
    if d.duplicate_key {
        ok = false;
        fields.push("\"level\":\"Shape\"".into());
    }
    (format!("{{{}}}", fields.join(",")), ok)
}

/// Renders the set; returns its text and whether it is valid.
pub fn render_set(set: &ArbSet, limits: &Limits) -> (String, bool) {
    let mut ok = true;
    let mut fields = Vec::new();
    if let Some(n) = &set.published_at {
        let (text, v) = render_num(n);
        ok &= v.is_some();
        fields.push(format!("\"published_at\":{text}"));
    }
    match &set.directives {
        None => ok = false,
        Some(ds) => {
            ok &= ds.len() <= limits.max_directives;
            let mut ids = HashSet::new();
            let sep = if set.pretty { ",\n  " } else { "," };
            let items: Vec<String> = ds
                .iter()
                .map(|d| {
                    let (text, valid) = render_directive(d, limits, &mut ids);
                    ok &= valid;
                    text
                })
                .collect();
            fields.push(format!("\"directives\":[{}]", items.join(sep)));
        }
    }
    if set.unknown_key {
        ok = false;
        fields.push("\"extra\":1".into());
    }
    let sep = if set.pretty { ",\n" } else { "," };
    (format!("{{{}}}", fields.join(sep)), ok)
}

/// Renders an [`ArbSet`] and checks the decoder's verdict against the generator's.
pub fn structured_set(set: &ArbSet) {
    let limits = Limits {
        max_directives: usize::from(set.max_directives % 16) + 1,
        ..Limits::DEFAULT
    };
    let (text, valid) = render_set(set, &limits);
    let now = NOW_MS;
    match decode(text.as_bytes(), now, &limits) {
        Ok(decoded) => {
            // Only the generator's "valid" verdict is an oracle: its model of
            // invalidity over-approximates (twice it called a valid document
            // invalid), and the must-reject rules are pinned by the vector
            // corpus. An accepted document must still hold every invariant.
            check_accepted(&decoded, &limits);
            check_roundtrip(&decoded, now);
            if !valid {
                return;
            }
            let expected = set.directives.as_ref().map_or(0, Vec::len);
            assert_eq!(decoded.len(), expected, "directive count");
        }
        Err(errors) => {
            assert!(
                !valid,
                "rejected a valid document: {text}: {:?}",
                errors.codes()
            );
            check_rejected(text.as_bytes(), &errors.errors, &limits);
            for e in &errors.errors {
                assert!(
                    e.path.is_empty() || e.path.starts_with('/'),
                    "path {}",
                    e.path
                );
            }
        }
    }
}

// ------------------------------------------------------------ reducer_events

/// A value the fuzzer can put into the key.
#[derive(Arbitrary, Debug, Clone)]
pub enum ArbValue {
    /// A valid document with `n % 4` directives (ids from `n`), TTL from `ttl`.
    Valid(u8, u16),
    /// A valid document with a `published_at` stamp.
    Stamped(u8, u32),
    /// A malformed value.
    Malformed(u8),
    /// Raw bytes.
    Raw(Vec<u8>),
}

impl ArbValue {
    /// The value's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let doc = |n: u8, ttl: u64, stamp: Option<u64>| {
            let ds: Vec<String> = (0..n % 4)
                .map(|i| format!(r#"{{"id":"d{n}_{i}","level":"Shape","ttl_secs":{ttl}}}"#))
                .collect();
            let stamp = stamp.map_or(String::new(), |s| format!("\"published_at\":{s},"));
            format!("{{{stamp}\"directives\":[{}]}}", ds.join(",")).into_bytes()
        };
        match self {
            ArbValue::Valid(n, ttl) => doc(*n, u64::from(*ttl % 600) + 1, None),
            ArbValue::Stamped(n, stamp) => doc(*n, 60, Some(u64::from(*stamp))),
            ArbValue::Malformed(n) => match n % 4 {
                0 => b"not json".to_vec(),
                1 => br#"{"directives":[{"id":"a","level":"Shape","ttl_secs":60,"tenant":null}]}"#
                    .to_vec(),
                2 => br#"{"directives":[{"id":"a","level":"Shape","ttl_secs":99999999}]}"#.to_vec(),
                _ => Vec::new(),
            },
            ArbValue::Raw(b) => b.clone(),
        }
    }
}

/// An etcd observation, with small revisions so that duplicates and
/// out-of-order events are frequent.
#[derive(Arbitrary, Debug, Clone)]
pub enum ArbEventKind {
    /// [`Event::Read`].
    Read(u8, Option<(ArbValue, u8)>),
    /// [`Event::HistoryRead`].
    HistoryRead(Option<(ArbValue, u8)>),
    /// [`Event::WatchCreated`].
    WatchCreated,
    /// [`Event::Put`].
    Put(ArbValue, u8),
    /// [`Event::Delete`].
    Delete(u8),
    /// [`Event::Progress`].
    Progress(u8),
    /// [`Event::Compacted`].
    Compacted(u8),
    /// [`Event::Canceled`].
    Canceled,
    /// [`Event::Disconnected`].
    Disconnected,
    /// [`Event::Refused`].
    Refused,
    /// [`Event::Probed`] (the key's mod revision, or absent).
    Probed(Option<u8>),
}

/// One step: an event and a clock move (which may jump back or forward).
#[derive(Arbitrary, Debug, Clone)]
pub struct ArbEvent {
    /// What etcd said.
    pub kind: ArbEventKind,
    /// Signed clock step in ms: jumps back as well as forward.
    pub clock_step_ms: i32,
}

/// Feeds the events to a fresh reducer and checks its invariants after each.
pub fn reducer_events(events: &[ArbEvent]) {
    let mut reducer = Reducer::new(directive_core::ReducerConfig::default());
    let mut now: u64 = 1_000_000;
    let mut max_now = now;
    for step in events {
        now = now.saturating_add_signed(i64::from(step.clock_step_ms));
        max_now = max_now.max(now);
        let before_observed = reducer.status().observed_revision;
        let before = Arc::clone(reducer.snapshot());
        let first_apply = reducer.status().last_update_ms.is_none();
        let bytes: Vec<u8> = match &step.kind {
            ArbEventKind::Read(_, Some((v, _)))
            | ArbEventKind::HistoryRead(Some((v, _)))
            | ArbEventKind::Put(v, _) => v.bytes(),
            _ => Vec::new(),
        };
        // etcd revisions start at 1.
        let rev = |r: &u8| i64::from(*r) + 1;
        let (event, delete_rev) = match &step.kind {
            ArbEventKind::Read(r, kv) => {
                let kv = kv.as_ref().map(|(_, m)| KeyValue {
                    value: &bytes,
                    // A read's kv was written at or before the read's revision.
                    mod_revision: rev(m).min(rev(r)),
                });
                (
                    Event::Read {
                        revision: rev(r),
                        kv,
                    },
                    None,
                )
            }
            ArbEventKind::HistoryRead(kv) => {
                let kv = kv.as_ref().map(|(_, m)| KeyValue {
                    value: &bytes,
                    mod_revision: rev(m),
                });
                (Event::HistoryRead { kv }, None)
            }
            ArbEventKind::WatchCreated => (Event::WatchCreated, None),
            ArbEventKind::Put(_, m) => {
                let kv = KeyValue {
                    value: &bytes,
                    mod_revision: rev(m),
                };
                (Event::Put { kv }, None)
            }
            ArbEventKind::Delete(r) => (Event::Delete { revision: rev(r) }, Some(rev(r))),
            ArbEventKind::Progress(r) => (Event::Progress { revision: rev(r) }, None),
            ArbEventKind::Compacted(r) => (
                Event::Compacted {
                    compact_revision: rev(r),
                },
                None,
            ),
            ArbEventKind::Canceled => (
                Event::Canceled {
                    reason: "fuzz".into(),
                },
                None,
            ),
            ArbEventKind::Disconnected => (
                Event::Disconnected {
                    cause: "fuzz".into(),
                },
                None,
            ),
            ArbEventKind::Refused => (
                Event::Refused {
                    cause: "fuzz".into(),
                },
                None,
            ),
            ArbEventKind::Probed(revision) => (
                Event::Probed {
                    mod_revision: revision.as_ref().map(rev),
                },
                None,
            ),
        };
        let out = reducer.handle(event, now);
        let status = reducer.status();
        // 1. The observed revision never regresses.
        assert!(
            status.observed_revision >= before_observed,
            "observed revision went back: {before_observed} -> {}",
            status.observed_revision
        );
        // 2. A rejected value never replaces the snapshot. The one snapshot
        // a rejection may bring is the startup fallback (nothing applied yet,
        // history walk given up at once): the empty set, never the value.
        if let Some(rejection) = &out.rejected {
            match &out.applied {
                None => assert!(
                    Arc::ptr_eq(&before, reducer.snapshot()),
                    "snapshot changed on a rejection"
                ),
                Some(s) => {
                    assert!(first_apply, "rejection replaced an applied snapshot");
                    assert!(
                        s.set.is_empty() && s.revision != rejection.revision,
                        "rejected value applied"
                    );
                }
            }
        }
        // 3. A delete at a new revision always empties.
        if let Some(rev) = delete_rev {
            if rev > before_observed {
                let snap = reducer.snapshot();
                assert!(snap.set.is_empty(), "delete did not empty");
                assert_eq!(snap.revision, rev, "delete revision");
            } else {
                assert!(out.applied.is_none(), "stale delete applied");
            }
        }
        // 4. The published snapshot is the reducer's, and only changes with `applied`.
        match &out.applied {
            Some(s) => assert!(Arc::ptr_eq(s, reducer.snapshot()), "applied != snapshot"),
            None => assert!(Arc::ptr_eq(&before, reducer.snapshot()), "silent change"),
        }
        // 5. Expiry is never extended past the latest clock reading + TTL.
        for d in reducer.snapshot().set.directives() {
            assert!(
                d.expires_at_ms <= max_now + d.ttl_secs * 1000,
                "expiry beyond now + ttl"
            );
        }
    }
}

/// Extraction of decoder inputs from the shared vector corpus.
pub mod seed {
    use serde_json::Value;

    /// Every decoder input a corpus case holds: a decode case's `input` (or
    /// `input_hex`), an evaluate case's `set`, each reducer step's `value`.
    pub fn case_inputs(case: &Value) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(s) = case["input"].as_str() {
            out.push(s.as_bytes().to_vec());
        }
        if let Some(h) = case["input_hex"].as_str() {
            if let Some(bytes) = from_hex(h) {
                out.push(bytes);
            }
        }
        if let Some(s) = case["set"].as_str() {
            out.push(s.as_bytes().to_vec());
        }
        for step in case["steps"].as_array().into_iter().flatten() {
            if let Some(s) = step["event"]["value"].as_str() {
                out.push(s.as_bytes().to_vec());
            }
        }
        out
    }

    fn from_hex(h: &str) -> Option<Vec<u8>> {
        if !h.len().is_multiple_of(2) {
            return None;
        }
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
            .collect()
    }
}
