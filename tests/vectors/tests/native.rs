//! The whole corpus against directive-core, natively.

use directive_vectors::{load, run_all, CaseKind, Native};

#[test]
fn corpus_matches_core() {
    let corpus = load().expect("corpus parses");
    let summary = run_all(&corpus, &Native);
    println!("{summary}");
    assert!(summary.failures.is_empty(), "{summary}");
    let upstream_compat = corpus
        .cases
        .iter()
        .filter(|c| matches!(c.kind, CaseKind::UpstreamCompat { .. }))
        .count();
    assert_eq!(
        summary.skipped, upstream_compat,
        "the core runs every case but the upstream-compat ones (they need the upstream's decoder: directive-osproxy and the CLI run them)"
    );
}

#[test]
fn corpus_is_large_and_covers_every_code() {
    let corpus = load().expect("corpus parses");
    assert!(
        corpus.cases.len() >= 150,
        "only {} cases",
        corpus.cases.len()
    );
    let text: String = directive_vectors::FILES.iter().map(|(_, t)| *t).collect();
    for code in directive_core::ErrorCode::ALL {
        assert!(
            text.contains(&format!("\"code\": \"{}\"", code.as_str()))
                || text.contains(&format!("\"code\":\"{}\"", code.as_str())),
            "no case expects {code}"
        );
    }
    let mut names: Vec<&str> = corpus.cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "case names must be unique");
}
