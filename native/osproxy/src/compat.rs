//! Would a document mean the same to the upstream and to this project?
//!
//! Before a fleet moves over, an operator checks the documents it runs on
//! (the key's current value first): [`check`] runs the upstream's own
//! decoder (`osproxy_observe::decode_directive_set`, the published crate,
//! not a model of it) and this project's, and explains every difference
//! with the rule, what the upstream did with such a document, and the fix.
//! The differences are exactly the rules where this project is stricter on
//! purpose ([`STRICTER_RULES`]) plus `published_at`, which the upstream does
//! not know; the differential test against the upstream holds this list to
//! account.

use directive_core::{validate, ErrorCode, Limits, ValidationReport};
use serde::Serialize;

/// The rules this project enforces and the upstream does not: a document
/// the upstream applies may be refused here for these, and only these.
/// (`invalid_utf8` and `byte_order_mark` are not among them: the upstream's
/// JSON parser refuses such documents too.)
pub const STRICTER_RULES: &[ErrorCode] = &[
    ErrorCode::BadTarget,
    ErrorCode::EmptyTarget,
    ErrorCode::TargetTooLong,
    ErrorCode::BadFlag,
    ErrorCode::EmptyId,
    ErrorCode::IdTooLong,
    ErrorCode::DuplicateId,
    ErrorCode::TtlTooLong,
    ErrorCode::TooManyDirectives,
    ErrorCode::InputTooLarge,
    ErrorCode::DuplicateKey,
    ErrorCode::TooManyErrors,
];

/// What the upstream's decoder said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UpstreamVerdict {
    /// It would apply the document.
    pub accepts: bool,
    /// Its error slug when it refuses (it reports the first failure only).
    pub error: Option<&'static str>,
}

/// One way the document means something else to the upstream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// Where (a JSON pointer; `/published_at` for the stamp).
    pub path: String,
    /// The rule: one of [`STRICTER_RULES`]' codes, or `published_at`.
    pub rule: &'static str,
    /// What the upstream does with it.
    pub upstream: String,
    /// How to write it so both read it the same way.
    pub fix: String,
}

/// Both verdicts and every difference.
#[derive(Clone, Debug, Serialize)]
pub struct CompatReport {
    /// The upstream's decoder on the document.
    pub upstream: UpstreamVerdict,
    /// This project's validation report (the shape `validate --json` prints).
    pub ours: ValidationReport,
    /// Each stricter rule the document meets, and `published_at`.
    pub differences: Vec<Difference>,
}

impl CompatReport {
    /// Both accept it: safe before, during and after a migration.
    pub fn both_accept(&self) -> bool {
        self.upstream.accepts && self.ours.ok
    }
}

/// Checks `document` with both decoders at `now_ms` (this project's
/// default limits).
pub fn check(document: &[u8], now_ms: u64) -> CompatReport {
    check_with(document, now_ms, &Limits::default())
}

/// As [`check`], with this project's decoder under `limits` (the
/// upstream has none to set).
pub fn check_with(document: &[u8], now_ms: u64, limits: &Limits) -> CompatReport {
    let ours = validate(document, now_ms, limits);
    let clock = osproxy_core::ManualClock::new();
    let upstream = match osproxy_observe::decode_directive_set(document, &clock) {
        Ok(_) => UpstreamVerdict {
            accepts: true,
            error: None,
        },
        Err(slug) => UpstreamVerdict {
            accepts: false,
            error: Some(slug),
        },
    };
    let stamp = carries_stamp(document);
    // A stricter rule is a difference only where the upstream would apply
    // the document: as it is, or once its stamp is left out.
    let upstream_applies = upstream.accepts || (stamp && accepted_without_stamp(document));
    let mut differences: Vec<Difference> = ours
        .errors
        .iter()
        .filter(|e| upstream_applies && STRICTER_RULES.contains(&e.code))
        .map(|e| explain(e.code, &e.path, limits))
        .collect();
    if stamp {
        differences.insert(0, stamp_difference());
    }
    CompatReport {
        upstream,
        ours,
        differences,
    }
}

fn carries_stamp(document: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(document)
        .ok()
        .is_some_and(|v| v.get("published_at").is_some())
}

/// Whether the upstream accepts `document` once `published_at` is removed
/// (what publishing it in the upstream format writes).
fn accepted_without_stamp(document: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(mut top)) = serde_json::from_slice(document) else {
        return false;
    };
    top.remove("published_at");
    let Ok(bytes) = serde_json::to_vec(&top) else {
        return false;
    };
    osproxy_observe::decode_directive_set(&bytes, &osproxy_core::ManualClock::new()).is_ok()
}

fn stamp_difference() -> Difference {
    Difference {
        path: "/published_at".into(),
        rule: "published_at",
        upstream: "refuses the whole document (unknown_field) and keeps its last set; an \
                   upstream instance starting meanwhile applies no directive at all"
            .into(),
        fix: "while upstream instances read the key, publish with `--format upstream` (or \
              DIRECTIVE_FORMAT=upstream): the publisher leaves the stamp out"
            .into(),
    }
}

/// The last segment of a JSON pointer (the field's name), unescaped.
fn field(path: &str) -> String {
    path.rsplit('/')
        .next()
        .unwrap_or_default()
        .replace("~1", "/")
        .replace("~0", "~")
}

fn explain(code: ErrorCode, path: &str, limits: &Limits) -> Difference {
    let name = field(path);
    let (upstream, fix) = match code {
        ErrorCode::BadTarget => (
            format!("ignores a `{name}` that is not a string, so it applies this directive to every {name}"),
            format!("remove `{name}` to keep that meaning, or give the {name} as a string"),
        ),
        ErrorCode::EmptyTarget => (
            format!("matches only requests whose {name} is the empty string (in effect, none)"),
            format!("remove `{name}` to target every {name}, or name one"),
        ),
        ErrorCode::TargetTooLong => (
            "accepts a target of any length".into(),
            format!("shorten it to at most {} bytes", limits.max_target_len),
        ),
        ErrorCode::BadFlag => (
            format!("reads a `{name}` that is not a boolean as false"),
            format!("write `false` (or remove `{name}`) to keep that meaning, or `true`"),
        ),
        ErrorCode::EmptyId => (
            "accepts an empty id".into(),
            "give the directive a non-empty id (ids name it in history, diffs and the fleet view)"
                .into(),
        ),
        ErrorCode::IdTooLong => (
            "accepts an id of any length".into(),
            format!("shorten the id to at most {} bytes", limits.max_id_len),
        ),
        ErrorCode::DuplicateId => (
            "applies both directives (it does not check ids)".into(),
            "give each directive its own id".into(),
        ),
        ErrorCode::TtlTooLong => (
            "accepts any TTL: a huge one makes the directive in effect permanent".into(),
            format!(
                "at most {} seconds; publish again to extend",
                limits.max_ttl_secs
            ),
        ),
        ErrorCode::TooManyDirectives => (
            "accepts any number of directives".into(),
            format!(
                "at most {} directives: merge or remove some",
                limits.max_directives
            ),
        ),
        ErrorCode::InputTooLarge => (
            "accepts a document of any size".into(),
            format!(
                "at most {} bytes: remove directives",
                limits.max_bytes
            ),
        ),
        ErrorCode::DuplicateKey => (
            "uses the last occurrence of a key written twice".into(),
            "keep only the occurrence you mean (the upstream applied the last one)".into(),
        ),
        _ => (
            "reports only its first error".into(),
            "fix the errors listed; more may follow".into(),
        ),
    };
    Difference {
        path: path.to_owned(),
        rule: code.as_str(),
        upstream,
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn a_null_tenant_is_explained_with_the_upstream_meaning_and_the_fix() {
        let doc = br#"{"directives":[{"id":"a","level":"Shape","ttl_secs":60,"tenant":null}]}"#;
        let report = check(doc, 1_000);
        assert!(report.upstream.accepts);
        assert!(!report.ours.ok);
        assert_eq!(report.differences.len(), 1);
        let d = &report.differences[0];
        assert_eq!(
            (d.path.as_str(), d.rule),
            ("/directives/0/tenant", "bad_target")
        );
        assert!(d.upstream.contains("every tenant"), "{d:?}");
        assert!(d.fix.contains("remove `tenant`"), "{d:?}");
    }

    #[test]
    fn a_rule_is_not_a_difference_where_the_upstream_refuses_the_document_anyway() {
        let doc = br#"{"directives":[{"id":"a","level":"Loud","ttl_secs":60,"tenant":null}]}"#;
        let report = check(doc, 1_000);
        assert_eq!(report.upstream.error, Some("unknown_level"));
        assert!(report.differences.is_empty(), "{:?}", report.differences);
        // With a stamp, what matters is the document without it.
        let doc = br#"{"published_at":1,"directives":[{"id":"a","level":"Shape","ttl_secs":60,"tenant":null}]}"#;
        let rules: Vec<&str> = check(doc, 1_000)
            .differences
            .iter()
            .map(|d| d.rule)
            .collect();
        assert_eq!(rules, ["published_at", "bad_target"]);
    }

    #[test]
    fn a_stamped_document_is_refused_upstream_for_the_stamp_alone() {
        let doc = br#"{"published_at":1,"directives":[{"id":"a","level":"Shape","ttl_secs":60}]}"#;
        let report = check(doc, 1_000);
        assert_eq!(report.upstream.error, Some("unknown_field"));
        assert!(report.ours.ok);
        assert_eq!(report.differences.len(), 1);
        assert_eq!(report.differences[0].rule, "published_at");
        assert!(!report.both_accept());
    }
}
