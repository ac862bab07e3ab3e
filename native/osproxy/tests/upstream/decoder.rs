//! Differential test of the decoder against the published upstream's,
//! `osproxy_observe::decode_directive_set` 1.0.5: over the whole corpus and
//! 100,000 seeded generated documents, every document the upstream accepts
//! and we refuse is refused only for a documented stricter rule, and we
//! never accept a document the upstream refuses unless it carries
//! `published_at` (which the upstream does not know). Where both accept,
//! the two sets give the same decisions (level, ring buffer, capture) for
//! requests aimed at the directives (up to 8 per document, plus 4 drawn at
//! random), at the decode and at up to 24 instants around the expiries.
//! (A document carrying `published_at` is refused there before any
//! directive is read, so decisions are compared for unstamped ones.) The
//! counts are printed for the closing note (`cargo test -p
//! directive-osproxy --test upstream decoder -- --nocapture`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use directive_core::{decode, DirectiveSet, ErrorCode, Limits};
use directive_osproxy::compat::STRICTER_RULES;
use directive_vectors::generate::{self, Rng};
use directive_vectors::{load, CaseKind};
use osproxy_core::{Clock, ManualClock};

use super::{our_decision, requests_for, times_around_expiries, upstream_decision};

#[derive(Default, Debug)]
struct Tally {
    documents: usize,
    both_accept: usize,
    both_refuse: usize,
    stricter: BTreeMap<String, usize>,
    published_at_only_ours: usize,
    decisions_compared: usize,
    disagreements: Vec<String>,
}

impl Tally {
    fn check(&mut self, label: &str, input: &[u8], now_ms: u64, rng: &mut Rng) {
        self.documents += 1;
        let ours = decode(input, now_ms, &Limits::default());
        // The upstream anchors relative TTLs at its clock's reading when it
        // decodes: 0 on a fresh manual clock, which stands for `now_ms`.
        let clock = ManualClock::new();
        let upstream = osproxy_observe::decode_directive_set(input, &clock);
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
                self.compare_decisions(label, &set, &up, now_ms, &clock, rng);
            }
            (Err(_), Err(_)) => self.both_refuse += 1,
            (Err(errors), Ok(_)) => {
                let codes: Vec<ErrorCode> = errors.errors.iter().map(|e| e.code).collect();
                match codes.iter().find(|c| !STRICTER_RULES.contains(c)) {
                    None => {
                        for code in codes {
                            *self.stricter.entry(code.as_str().to_owned()).or_default() += 1;
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

impl Tally {
    /// Same decisions from both sets at `now_ms` and around every expiry.
    fn compare_decisions(
        &mut self,
        label: &str,
        ours: &DirectiveSet,
        upstream: &osproxy_observe::DirectiveSet,
        now_ms: u64,
        clock: &ManualClock,
        rng: &mut Rng,
    ) {
        let requests = requests_for(ours, rng);
        let mut at = now_ms;
        for t in times_around_expiries(ours, now_ms) {
            clock.advance(Duration::from_millis(t - at));
            at = t;
            for spec in &requests {
                self.decisions_compared += 1;
                let here = our_decision(ours, spec, t);
                let there = upstream_decision(upstream, spec, clock.now());
                if here != there {
                    self.disagreements.push(format!(
                        "{label}: at +{} ms, {spec:?}: {here:?} here, {there:?} upstream",
                        t - now_ms
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
    // Requests have a generator of their own, so the documents are the
    // same sequence whatever the requests draw.
    let mut requests = Rng(0x5eed_1016);
    let corpus = load().expect("corpus parses");
    for case in &corpus.cases {
        if let CaseKind::Decode { now_ms, .. } | CaseKind::UpstreamCompat { now_ms, .. } =
            &case.kind
        {
            if let Some(input) = case.input_bytes() {
                tally.check(&case.name, &input, *now_ms, &mut requests);
            }
        }
    }
    let mut rng = Rng(0x5eed_0016);
    for i in 0..100_000 {
        let now_ms = 1_700_000_000_000 + rng.below(200_000_000_000);
        let input = generate::document(&mut rng, i, now_ms);
        tally.check(&format!("generated #{i}"), &input, now_ms, &mut requests);
    }
    eprintln!(
        "upstream differential: {} documents in {:.1?}: {} accepted by both, {} refused by both, \
         {} accepted only here (published_at), stricter here: {:?}; {} decisions compared",
        tally.documents,
        started.elapsed(),
        tally.both_accept,
        tally.both_refuse,
        tally.published_at_only_ours,
        tally.stricter,
        tally.decisions_compared
    );
    assert!(tally.documents > 100_000);
    assert!(tally.both_accept > 1_000, "{tally:?}");
    assert!(tally.decisions_compared > 100_000, "{tally:?}");
    assert!(
        tally.disagreements.is_empty(),
        "{} disagreement(s), first: {:?}",
        tally.disagreements.len(),
        tally.disagreements.iter().take(10).collect::<Vec<_>>()
    );
}
