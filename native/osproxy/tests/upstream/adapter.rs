//! The adapter as an osproxy pipeline sees it: an
//! `Arc<dyn osproxy_observe::DirectiveStore>` whose answers are this
//! project's, over every evaluate case of the corpus, and a set built once
//! per applied snapshot, never per request.

use std::sync::Arc;
use std::time::Duration;

use directive_core::{decode, Limits};
use directive_etcd::InMemoryDirectiveStore;
use directive_osproxy::compat;
use directive_osproxy::UpstreamStore;
use directive_vectors::{limits_from, load, run_all, CaseKind, RequestSpec, Surface};
use osproxy_core::Clock;
use serde_json::Value;

use super::{clock_at, our_decision, upstream_decision};

#[test]
fn a_pipeline_on_the_adapter_decides_as_this_project_over_the_corpus() {
    let corpus = load().expect("corpus parses");
    let mut compared = 0;
    for case in &corpus.cases {
        let CaseKind::Evaluate {
            set,
            decoded_at_ms,
            now_ms,
            request,
            ..
        } = &case.kind
        else {
            continue;
        };
        let ours = decode(set.as_bytes(), *decoded_at_ms, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let spec = RequestSpec::from_json(request).expect("corpus request");
        let store = Arc::new(InMemoryDirectiveStore::new().with_directives(ours.clone()));
        // The adapter converts the snapshot at the decode time, on a
        // pipeline clock with its own epoch (3.5 s on its monotonic scale
        // then); the request comes at its own time.
        let clock = Arc::new(clock_at(0));
        clock.advance(Duration::from_micros(3_500_000));
        let decoded_ns = u128::from(*decoded_at_ms) * 1_000_000;
        let adapter = UpstreamStore::from_store_with_wall_clock(
            Arc::clone(&store),
            clock.clone(),
            Arc::new(move || decoded_ns),
        );
        let pipeline: Arc<dyn osproxy_observe::DirectiveStore> = Arc::new(adapter);
        let now = *now_ms.max(decoded_at_ms);
        clock.advance(Duration::from_millis(now - decoded_at_ms));
        let here = our_decision(&ours, &spec, now);
        let there = upstream_decision(&pipeline.load(), &spec, clock.now());
        assert_eq!(here, there, "{}", case.name);
        compared += 1;
    }
    assert!(compared >= 20, "only {compared} evaluate cases");
}

#[test]
fn the_upstream_set_is_built_once_per_snapshot() {
    let store = Arc::new(InMemoryDirectiveStore::new());
    let clock = Arc::new(clock_at(1_000));
    let adapter = UpstreamStore::from_store(Arc::clone(&store), clock);
    assert_eq!(adapter.builds(), 1);
    let first = osproxy_observe::DirectiveStore::load(&adapter);
    let again = osproxy_observe::DirectiveStore::load(&adapter);
    assert!(Arc::ptr_eq(&first, &again), "rebuilt without a change");
    assert!(first.is_empty());

    let doc = br#"{"directives":[{"id":"a","level":"Shape","ttl_secs":60}]}"#;
    let now = directive_etcd::clock::now_ms();
    store.publish(decode(doc, now, &Limits::default()).expect("valid"));
    // Eight threads ask at once after the change: one build.
    let loaded: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| osproxy_observe::DirectiveStore::load(&adapter)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    assert_eq!(adapter.builds(), 2, "one build for the one change");
    let changed = osproxy_observe::DirectiveStore::load(&adapter);
    assert!(loaded.iter().all(|l| Arc::ptr_eq(l, &changed)));
    assert!(!Arc::ptr_eq(&first, &changed), "the change was not applied");
    assert_eq!(changed.len(), 1);
    let applied = directive_etcd::DirectiveStore::load(adapter.clone().store());
    assert_eq!(applied.revision, adapter.snapshot().revision);
    assert!(Arc::ptr_eq(
        &changed,
        &osproxy_observe::DirectiveStore::load(&adapter)
    ));
}

/// The library's side of `validate --upstream-compat`, for the corpus.
struct Compat;

impl Surface for Compat {
    fn name(&self) -> &str {
        "directive-osproxy compat"
    }

    fn validate(&self, _: &[u8], _: u64, _: Option<&Value>) -> Option<String> {
        None
    }

    fn evaluate(&self, _: &str, _: u64, _: u64, _: &Value) -> Option<String> {
        None
    }

    fn upstream_compat(&self, input: &[u8], now_ms: u64, limits: Option<&Value>) -> Option<String> {
        let limits = limits_from(limits).expect("corpus limits");
        serde_json::to_string(&compat::check_with(input, now_ms, &limits)).ok()
    }
}

#[test]
fn upstream_compat_vectors_hold_for_the_library() {
    let corpus = load().expect("corpus parses");
    let summary = run_all(&corpus, &Compat);
    assert!(summary.failures.is_empty(), "{summary}");
    let rules: Vec<String> = corpus
        .cases
        .iter()
        .filter_map(|c| match &c.kind {
            CaseKind::UpstreamCompat { expect, .. } => Some(expect),
            _ => None,
        })
        .flat_map(|e| e["differences"].as_array().cloned().unwrap_or_default())
        .filter_map(|d| d["rule"].as_str().map(str::to_owned))
        .collect();
    assert!(summary.passed >= 17, "{summary}");
    for rule in compat::STRICTER_RULES {
        if *rule != directive_core::ErrorCode::TooManyErrors {
            assert!(
                rules.iter().any(|r| r == rule.as_str()),
                "no vector for {rule}"
            );
        }
    }
    assert!(rules.iter().any(|r| r == "published_at"));
}
