//! What changes from one directive set to another, per directive id: the
//! one diff behind `directivectl diff`, the summary `publish` prints before
//! writing, and (through WASM) the admin UI's review step.
//!
//! Directives are matched by id. A directive present in both is compared
//! field by field on what the wire format says (`level`, `ttl_secs`, the
//! four targets, `sample_per_mille`, `ring_buffer`, `capture`), with
//! defaults spelled out (an absent target is `null`, an absent
//! `sample_per_mille` is 1000, an absent flag `false`), so a change of
//! `ttl_secs` from 901 to 902 is a change, never "none". Expiry instants
//! are not compared: every publish restarts every TTL from its own
//! `published_at`.

use serde::Serialize;
use serde_json::{json, Value};

use crate::{Directive, DirectiveSet};

/// One field of one directive, before and after.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    /// The wire field's name.
    pub field: &'static str,
    /// Its value in the first set (defaults spelled out).
    pub before: Value,
    /// Its value in the second set.
    pub after: Value,
}

/// A directive present in both sets whose fields differ.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChangedDirective {
    /// Its id.
    pub id: String,
    /// Every field that differs, in wire order.
    pub fields: Vec<FieldChange>,
}

/// The change from one set to another.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SetDiff {
    /// Directives only in the second set (their wire objects), in its order.
    pub added: Vec<Value>,
    /// Directives only in the first set (their wire objects), in its order.
    pub removed: Vec<Value>,
    /// Directives in both whose fields differ, in the second set's order.
    pub changed: Vec<ChangedDirective>,
    /// How many directives are in both and equal.
    pub unchanged: usize,
}

/// Every compared field of `d`, defaults spelled out, in wire order.
fn fields(d: &Directive) -> [(&'static str, Value); 9] {
    [
        ("level", json!(d.level.as_str())),
        ("ttl_secs", json!(d.ttl_secs)),
        ("tenant", json!(d.target.tenant)),
        ("index", json!(d.target.index)),
        ("principal", json!(d.target.principal)),
        ("endpoint", json!(d.target.endpoint.map(|e| e.as_str()))),
        ("sample_per_mille", json!(d.sample_per_mille)),
        ("ring_buffer", json!(d.ring_buffer)),
        ("capture", json!(d.capture)),
    ]
}

/// `d` as its wire object (defaults left out, as a document holds it).
fn wire(d: &Directive) -> Value {
    serde_json::to_value(crate::set::WireDirective::from(d)).unwrap_or(Value::Null)
}

/// The change from `before` to `after`.
pub fn diff(before: &DirectiveSet, after: &DirectiveSet) -> SetDiff {
    let mut out = SetDiff::default();
    let find = |set: &'_ DirectiveSet, id: &str| -> Option<usize> {
        set.directives().iter().position(|d| d.id == id)
    };
    for d in after.directives() {
        match find(before, &d.id).map(|i| &before.directives()[i]) {
            None => out.added.push(wire(d)),
            Some(old) => {
                let changes: Vec<FieldChange> = fields(old)
                    .into_iter()
                    .zip(fields(d))
                    .filter(|((_, a), (_, b))| a != b)
                    .map(|((field, before), (_, after))| FieldChange {
                        field,
                        before,
                        after,
                    })
                    .collect();
                if changes.is_empty() {
                    out.unchanged += 1;
                } else {
                    out.changed.push(ChangedDirective {
                        id: d.id.clone(),
                        fields: changes,
                    });
                }
            }
        }
    }
    for d in before.directives() {
        if find(after, &d.id).is_none() {
            out.removed.push(wire(d));
        }
    }
    out
}

impl SetDiff {
    /// True when the two sets hold the same directives.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// The diff as compact JSON: `{"added","removed","changed","unchanged"}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The diff for people, one line per change: `+ id {...}`, `- id {...}`,
    /// `~ id: field before -> after, ...`; `no change` when empty.
    pub fn lines(&self) -> Vec<String> {
        if self.is_empty() {
            return vec![format!("no change ({} directive(s))", self.unchanged)];
        }
        let mut lines = Vec::new();
        let describe = |v: &Value| {
            let id = v["id"].as_str().unwrap_or("?").to_owned();
            let mut rest = v.clone();
            if let Some(o) = rest.as_object_mut() {
                o.remove("id");
            }
            (id, rest.to_string())
        };
        for v in &self.added {
            let (id, rest) = describe(v);
            lines.push(format!("+ {id} {rest}"));
        }
        for v in &self.removed {
            let (id, rest) = describe(v);
            lines.push(format!("- {id} {rest}"));
        }
        for c in &self.changed {
            let fields: Vec<String> = c
                .fields
                .iter()
                .map(|f| format!("{} {} -> {}", f.field, f.before, f.after))
                .collect();
            lines.push(format!("~ {}: {}", c.id, fields.join(", ")));
        }
        lines.push(format!(
            "{} added, {} removed, {} changed, {} unchanged",
            self.added.len(),
            self.removed.len(),
            self.changed.len(),
            self.unchanged
        ));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, Limits};

    fn set(doc: &str) -> DirectiveSet {
        decode(doc.as_bytes(), 1_000, &Limits::default()).expect("valid")
    }

    #[test]
    fn a_ttl_change_is_a_change_and_defaults_are_spelled_out() {
        let before = set(r#"{"directives":[{"id":"a","level":"Shape","ttl_secs":901},
                {"id":"b","level":"Shape","ttl_secs":60,"tenant":"acme"}]}"#);
        let after = set(r#"{"directives":[{"id":"a","level":"Shape","ttl_secs":902},
                {"id":"c","level":"ShapeTiming","ttl_secs":60,"sample_per_mille":250}]}"#);
        let d = diff(&before, &after);
        assert!(!d.is_empty());
        assert_eq!(d.changed.len(), 1);
        assert_eq!(
            d.changed[0].fields,
            [FieldChange {
                field: "ttl_secs",
                before: json!(901),
                after: json!(902)
            }]
        );
        assert_eq!(
            d.added,
            [json!({"id":"c","level":"ShapeTiming","ttl_secs":60,"sample_per_mille":250})]
        );
        assert_eq!(
            d.removed,
            [json!({"id":"b","level":"Shape","ttl_secs":60,"tenant":"acme"})]
        );
        assert_eq!(d.unchanged, 0);
        let lines = d.lines();
        assert_eq!(lines[2], "~ a: ttl_secs 901 -> 902");
        assert_eq!(lines[3], "1 added, 1 removed, 1 changed, 0 unchanged");

        // A target dropped is a change to null; a flag set is false -> true.
        let widened =
            set(r#"{"directives":[{"id":"b","level":"Shape","ttl_secs":60,"ring_buffer":true}]}"#);
        let d = diff(&before, &widened);
        let fields: Vec<&str> = d.changed[0].fields.iter().map(|f| f.field).collect();
        assert_eq!(fields, ["tenant", "ring_buffer"]);
        assert_eq!(d.changed[0].fields[0].after, Value::Null);

        assert!(diff(&before, &before).is_empty());
        assert_eq!(
            diff(&before, &before).lines(),
            ["no change (2 directive(s))"]
        );
    }
}
