//! Properties that hold for every input, checked on random ones.

use directive_core::{
    decode, sampling, DiagLevel, Directive, DirectiveSet, EndpointKind, Event, KeyValue, Limits,
    Reducer, ReducerConfig, Request, Target,
};
use proptest::prelude::*;
use serde_json::{json, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-zA-Z_]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("id"),
            Just("level"),
            Just("ttl_secs"),
            Just("tenant"),
            Just("directives"),
            Just("Shape"),
            Just("Search"),
            Just("published_at")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("directives".to_string()),
                        Just("id".to_string()),
                        Just("level".to_string()),
                        Just("ttl_secs".to_string()),
                        Just("tenant".to_string()),
                        Just("capture".to_string()),
                        "[a-z]{1,6}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const TENANTS: [&str; 4] = ["acme", "globex", "initech", "umbrella"];
const INDEXES: [&str; 3] = ["orders", "logs", "Orders"];
const PRINCIPALS: [&str; 3] = ["alice", "bob", "svc"];

fn arb_directive() -> impl Strategy<Value = Value> {
    (
        0usize..4,
        1u64..100,
        prop::option::of(0usize..4),
        prop::option::of(0usize..3),
        prop::option::of(0usize..3),
        prop::option::of(0usize..12),
        prop::option::of(prop_oneof![Just(0u16), Just(1000u16), 0u16..=1000]),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |(level, ttl, tenant, index, principal, endpoint, sample, ring, capture)| {
                let mut d = serde_json::Map::new();
                d.insert("level".into(), json!(DiagLevel::ALL[level].as_str()));
                d.insert("ttl_secs".into(), json!(ttl));
                if let Some(t) = tenant {
                    d.insert("tenant".into(), json!(TENANTS[t]));
                }
                if let Some(i) = index {
                    d.insert("index".into(), json!(INDEXES[i]));
                }
                if let Some(p) = principal {
                    d.insert("principal".into(), json!(PRINCIPALS[p]));
                }
                if let Some(e) = endpoint {
                    d.insert("endpoint".into(), json!(EndpointKind::ALL[e].as_str()));
                }
                if let Some(s) = sample {
                    d.insert("sample_per_mille".into(), json!(s));
                }
                if let Some(r) = ring {
                    d.insert("ring_buffer".into(), json!(r));
                }
                if let Some(c) = capture {
                    d.insert("capture".into(), json!(c));
                }
                Value::Object(d)
            },
        )
}

fn arb_set_doc() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(arb_directive(), 0..40),
        prop::option::of(0u64..200_000),
    )
        .prop_map(|(mut ds, stamp)| {
            for (i, d) in ds.iter_mut().enumerate() {
                d["id"] = json!(format!("d{i}"));
            }
            let mut doc = json!({ "directives": ds });
            if let Some(s) = stamp {
                doc["published_at"] = json!(s);
            }
            doc.to_string()
        })
}

fn arb_request() -> impl Strategy<Value = (Option<usize>, usize, usize, usize, String)> {
    (
        prop::option::of(0usize..4),
        0usize..3,
        0usize..3,
        0usize..12,
        "[a-z0-9-]{0,12}",
    )
}

/// The upstream's semantics, as a plain scan: the reference the index must equal.
fn linear(set: &DirectiveSet, req: &Request<'_>, now: u64) -> (DiagLevel, bool, bool) {
    set.directives()
        .iter()
        .filter(|d| d.applies(req, now))
        .fold((DiagLevel::Off, false, false), |acc, d| {
            (acc.0.max(d.level), acc.1 | d.ring_buffer, acc.2 | d.capture)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes, 0, &Limits::default());
    }

    #[test]
    fn decode_never_panics_on_json(v in arb_json(), now in any::<u64>()) {
        let text = v.to_string();
        match decode(text.as_bytes(), now, &Limits::default()) {
            Ok(_) => {}
            Err(e) => {
                prop_assert!(!e.errors.is_empty());
                prop_assert!(e.errors.len() <= Limits::default().max_errors + 1);
                for err in &e.errors {
                    prop_assert!(err.path.is_empty() || err.path.starts_with('/'));
                }
            }
        }
    }

    #[test]
    fn encode_then_decode_is_identity(doc in arb_set_doc(), now in 0u64..400_000, later in 0u64..1_000_000) {
        let set = decode(doc.as_bytes(), now, &Limits::default()).expect("generated sets are valid");
        let wire = set.to_wire_json();
        // Never longer than the input plus a `"published_at":<u64>,` stamp, so
        // a publisher's stamped write stays within the size limit.
        prop_assert!(wire.len() <= doc.len() + 36, "{} > {} + 36", wire.len(), doc.len());
        let again = decode(wire.as_bytes(), now + later, &Limits::default()).expect("encoding decodes");
        prop_assert_eq!(&set.directives(), &again.directives());
        prop_assert_eq!(set.anchor_ms(), again.anchor_ms());
        prop_assert_eq!(wire, again.to_wire_json());
    }

    #[test]
    fn indexed_evaluate_equals_linear_scan(
        doc in arb_set_doc(),
        requests in prop::collection::vec(arb_request(), 1..20),
        offsets in prop::collection::vec(0u64..120_000, 1..4),
    ) {
        let set = decode(doc.as_bytes(), 0, &Limits::default()).expect("generated sets are valid");
        for (tenant, index, principal, endpoint, rid) in &requests {
            let req = Request {
                tenant: tenant.map(|t| TENANTS[t]),
                index: INDEXES[*index],
                principal: PRINCIPALS[*principal],
                endpoint: EndpointKind::ALL[*endpoint],
                request_id: rid,
            };
            for now in &offsets {
                let d = set.evaluate(&req, *now);
                prop_assert_eq!((d.level, d.ring_buffer, d.capture), linear(&set, &req, *now));
                let e = set.explain(&req, *now);
                prop_assert_eq!((e.level, e.ring_buffer, e.capture), linear(&set, &req, *now));
                let want: Vec<&str> = set.directives().iter().filter(|x| x.applies(&req, *now)).map(|x| x.id.as_str()).collect();
                prop_assert_eq!(e.matched.iter().map(String::as_str).collect::<Vec<_>>(), want);
            }
        }
    }

    #[test]
    fn reducer_never_regresses(events in prop::collection::vec((0u8..9, 1i64..40, any::<bool>()), 0..60)) {
        let good = br#"{"directives":[{"id":"a","level":"Shape","ttl_secs":60}]}"#;
        let bad = b"{";
        let mut reducer = Reducer::new(ReducerConfig::default());
        let mut observed = 0;
        let mut last_good_revision = None;
        for (i, (kind, rev, valid)) in events.into_iter().enumerate() {
            let value: &[u8] = if valid { good } else { bad };
            let kv = KeyValue { value, mod_revision: rev };
            let event = match kind {
                0 => Event::Read { revision: rev, kv: Some(kv) },
                1 => Event::Read { revision: rev, kv: None },
                2 => Event::Put { kv },
                3 => Event::Delete { revision: rev },
                4 => Event::Progress { revision: rev },
                5 => Event::Compacted { compact_revision: rev },
                6 => Event::Disconnected { cause: "x".into() },
                7 => Event::HistoryRead { kv: Some(kv) },
                _ => Event::WatchCreated,
            };
            let is_delete = matches!(event, Event::Delete { .. }) && rev > observed;
            let out = reducer.handle(event, i as u64);
            let status = reducer.status();
            prop_assert!(status.observed_revision >= observed, "observed revision went back");
            observed = status.observed_revision;
            if let Some(snap) = &out.applied {
                if !valid && !is_delete {
                    // Only an empty set may be applied in place of a malformed value.
                    prop_assert!(snap.set.is_empty());
                }
                last_good_revision = Some(snap.revision);
            }
            if is_delete {
                prop_assert!(reducer.snapshot().set.is_empty(), "a delete always empties");
            }
            if out.rejected.is_some() {
                prop_assert_eq!(Some(reducer.snapshot().revision), last_good_revision.or(Some(0)));
            }
        }
    }
}

#[test]
fn sampling_is_the_upstream_fnv_rule() {
    // bucket = fnv1a64(id) % 1000, computed independently.
    let id = "req-42";
    let mut h: u64 = 0xcbf29ce484222325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    assert_eq!(u64::from(sampling::bucket(id)), h % 1000);
}

#[test]
fn programmatic_sets_evaluate_like_decoded_ones() {
    let d = Directive {
        id: "x".into(),
        level: DiagLevel::ShapeTiming,
        target: Target {
            tenant: Some("acme".into()),
            ..Target::default()
        },
        sample_per_mille: 1000,
        ring_buffer: false,
        capture: true,
        ttl_secs: 10,
        expires_at_ms: 0,
    };
    let set = DirectiveSet::new(vec![d], 1_000, true);
    let req = Request {
        tenant: Some("acme"),
        index: "i",
        principal: "p",
        endpoint: EndpointKind::Search,
        request_id: "r",
    };
    assert_eq!(set.directives()[0].expires_at_ms, 11_000);
    assert_eq!(set.evaluate(&req, 10_999).level, DiagLevel::ShapeTiming);
    assert!(set.evaluate(&req, 11_000).is_off());
    assert!(set
        .evaluate(
            &Request {
                tenant: None,
                ..req
            },
            5_000
        )
        .is_off());
}
