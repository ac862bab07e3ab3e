//! Differential test of the decoder against the published upstream's,
//! `osproxy_observe::decode_directive_set` 1.0.5 (issue 16): over the whole
//! corpus and 100,000 seeded generated documents, every document the
//! upstream accepts and we refuse is refused only for a documented stricter
//! rule, and we never accept a document the upstream refuses unless it
//! carries `published_at` (which the upstream does not know). The counts
//! are printed for the closing note (`cargo test -p directive-vectors
//! --test upstream -- --nocapture`).

use std::collections::BTreeMap;
use std::time::Instant;

use directive_core::{decode, Limits};
use directive_vectors::generate::{self, Rng};
use directive_vectors::{load, CaseKind};

/// The rules where we are stricter than the upstream on purpose (README,
/// "The wire format"; migration guide): a document the upstream applies
/// may be refused by us for these, and only these.
const STRICTER: &[&str] = &[
    "bad_target",
    "empty_target",
    "target_too_long",
    "bad_flag",
    "empty_id",
    "id_too_long",
    "duplicate_id",
    "ttl_too_long",
    "too_many_directives",
    "input_too_large",
    "duplicate_key",
    "invalid_utf8",
    "byte_order_mark",
    "too_many_errors",
];

#[derive(Default, Debug)]
struct Tally {
    documents: usize,
    both_accept: usize,
    both_refuse: usize,
    stricter: BTreeMap<String, usize>,
    published_at_only_ours: usize,
    disagreements: Vec<String>,
}

impl Tally {
    fn check(&mut self, label: &str, input: &[u8], now_ms: u64) {
        self.documents += 1;
        let ours = decode(input, now_ms, &Limits::default());
        // The upstream resolves relative TTLs against its (test) clock.
        let upstream =
            osproxy_observe::decode_directive_set(input, &osproxy_core::ManualClock::new());
        match (ours, upstream) {
            (Ok(set), Ok(up)) => {
                self.both_accept += 1;
                if set.len() != up.len() {
                    self.disagreements.push(format!(
                        "{label}: {} directives here, {} upstream",
                        set.len(),
                        up.len()
                    ));
                }
            }
            (Err(_), Err(_)) => self.both_refuse += 1,
            (Err(errors), Ok(_)) => {
                let codes: Vec<&str> = errors.errors.iter().map(|e| e.code.as_str()).collect();
                match codes.iter().find(|c| !STRICTER.contains(c)) {
                    None => {
                        for code in codes {
                            *self.stricter.entry(code.to_owned()).or_default() += 1;
                        }
                    }
                    Some(other) => self.disagreements.push(format!(
                        "{label}: the upstream accepts it, we refuse it for {other} (not a documented stricter rule)"
                    )),
                }
            }
            (Ok(_), Err(reason)) => {
                let has_stamp = serde_json::from_slice::<serde_json::Value>(input)
                    .ok()
                    .is_some_and(|v| v.get("published_at").is_some());
                if has_stamp && reason == "unknown_field" {
                    self.published_at_only_ours += 1;
                } else {
                    self.disagreements.push(format!(
                        "{label}: we accept it, the upstream refuses it ({reason})"
                    ));
                }
            }
        }
    }
}

#[test]
fn the_upstream_accepts_what_we_accept_and_we_refuse_only_by_stricter_rules() {
    let started = Instant::now();
    let mut tally = Tally::default();
    let corpus = load().expect("corpus parses");
    for case in &corpus.cases {
        if let CaseKind::Decode { now_ms, .. } = &case.kind {
            if let Some(input) = case.input_bytes() {
                tally.check(&case.name, &input, *now_ms);
            }
        }
    }
    let mut rng = Rng(0x5eed_0016);
    for i in 0..100_000 {
        let now_ms = 1_700_000_000_000 + rng.below(200_000_000_000);
        let input = generate::document(&mut rng, i, now_ms);
        tally.check(&format!("generated #{i}"), &input, now_ms);
    }
    eprintln!(
        "upstream differential: {} documents in {:.1?}: {} accepted by both, {} refused by both, \
         {} accepted only here (published_at), stricter here: {:?}",
        tally.documents,
        started.elapsed(),
        tally.both_accept,
        tally.both_refuse,
        tally.published_at_only_ours,
        tally.stricter
    );
    assert!(tally.documents > 100_000);
    assert!(tally.both_accept > 1_000, "{tally:?}");
    assert!(
        tally.disagreements.is_empty(),
        "{} disagreement(s), first: {:?}",
        tally.disagreements.len(),
        tally.disagreements.iter().take(10).collect::<Vec<_>>()
    );
}
