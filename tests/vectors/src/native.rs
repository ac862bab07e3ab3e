//! The core library as a [`Surface`]: the reference every other surface is
//! compared with, and the host of the reducer scenarios.

use directive_core::{decode, validate, Command, Event, KeyValue, Limits, Reducer, ReducerConfig};
use serde_json::{json, Value};

use crate::{RequestSpec, Surface};

/// directive-core called directly.
pub struct Native;

/// Applies a partial override object to the default limits.
pub fn limits_from(overrides: Option<&Value>) -> Result<Limits, String> {
    let mut base = serde_json::to_value(Limits::default()).map_err(|e| e.to_string())?;
    if let (Some(Value::Object(over)), Value::Object(map)) = (overrides, &mut base) {
        for (k, v) in over {
            map.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(base).map_err(|e| format!("bad limits override: {e}"))
}

/// Parses a request object of the corpus format and evaluates it.
pub fn explain_json(
    set: &str,
    decoded_at_ms: u64,
    now_ms: u64,
    request: &Value,
) -> Result<String, String> {
    let set = decode(set.as_bytes(), decoded_at_ms, &Limits::default())
        .map_err(|e| format!("evaluation set does not decode: {e}"))?;
    let spec = RequestSpec::from_json(request)?;
    let req = spec.as_request()?;
    serde_json::to_string(&set.explain(&req, now_ms)).map_err(|e| e.to_string())
}

impl Surface for Native {
    fn name(&self) -> &str {
        "native"
    }

    fn validate(&self, input: &[u8], now_ms: u64, limits: Option<&Value>) -> Option<String> {
        let limits = match limits_from(limits) {
            Ok(l) => l,
            Err(e) => return Some(json!({ "harness_error": e }).to_string()),
        };
        Some(validate(input, now_ms, &limits).to_json())
    }

    fn evaluate(
        &self,
        set: &str,
        decoded_at_ms: u64,
        now_ms: u64,
        request: &Value,
    ) -> Option<String> {
        Some(
            explain_json(set, decoded_at_ms, now_ms, request)
                .unwrap_or_else(|e| json!({ "harness_error": e }).to_string()),
        )
    }

    fn diff(&self, before: Option<&str>, after: &str, now_ms: u64) -> Option<String> {
        let after = match decode(after.as_bytes(), now_ms, &Limits::default()) {
            Ok(set) => set,
            Err(e) => return Some(directive_core::ValidationReport::rejected(&e).to_json()),
        };
        let before = before
            .and_then(|b| decode(b.as_bytes(), now_ms, &Limits::default()).ok())
            .unwrap_or_else(directive_core::DirectiveSet::empty);
        Some(directive_core::diff::diff(&before, &after).to_json())
    }

    fn reducer(&self, steps: &[Value]) -> Option<Result<(), String>> {
        Some(run_scenario(steps))
    }
}

/// Runs a reducer scenario: each step is `{"now_ms", "event", "expect"}`.
pub fn run_scenario(steps: &[Value]) -> Result<(), String> {
    // Without jitter a backoff ends exactly at its ceiling, so a scenario's
    // `timeout` steps can be placed at known times.
    let mut config = ReducerConfig::default();
    config.backoff.full_jitter = false;
    let mut reducer = Reducer::new(config);
    let first = serde_json::to_value(reducer.start()).map_err(|e| e.to_string())?;
    if first != json!({"action": "read"}) {
        return Err(format!("start command was {first}"));
    }
    for (i, step) in steps.iter().enumerate() {
        let now = step["now_ms"].as_u64().ok_or(format!("step {i}: now_ms"))?;
        let ev = &step["event"];
        let kind = ev["type"].as_str().ok_or(format!("step {i}: event.type"))?;
        let value: Option<&[u8]> = ev["value"].as_str().map(str::as_bytes);
        let kv = match (value, ev["mod_revision"].as_i64()) {
            (Some(value), Some(mod_revision)) => Some(KeyValue {
                value,
                mod_revision,
            }),
            _ => None,
        };
        let rev = ev["revision"].as_i64().unwrap_or_default();
        let event = match kind {
            "timeout" => None,
            "read" => Some(Event::Read { revision: rev, kv }),
            "history_read" => Some(Event::HistoryRead { kv }),
            "watch_created" => Some(Event::WatchCreated),
            "put" => Some(Event::Put {
                kv: kv.ok_or(format!("step {i}: put needs value and mod_revision"))?,
            }),
            "delete" => Some(Event::Delete { revision: rev }),
            "progress" => Some(Event::Progress { revision: rev }),
            "heartbeat" => Some(Event::Heartbeat),
            "probed" => Some(Event::Probed {
                mod_revision: ev["mod_revision"].as_i64(),
            }),
            "compacted" => Some(Event::Compacted {
                compact_revision: rev,
            }),
            "canceled" => Some(Event::Canceled {
                reason: ev["reason"].as_str().unwrap_or_default().to_owned(),
            }),
            "refused" => Some(Event::Refused {
                cause: ev["cause"].as_str().unwrap_or("test").to_owned(),
            }),
            "disconnected" => Some(Event::Disconnected {
                cause: ev["cause"].as_str().unwrap_or("test").to_owned(),
            }),
            other => return Err(format!("step {i}: unknown event type {other}")),
        };
        let out = match event {
            Some(event) => reducer.handle(event, now),
            None => reducer.handle_timeout(now),
        };
        let exp = &step["expect"];
        if let Some(want) = exp.get("next_timeout_ms") {
            let got = json!(reducer.poll_timeout());
            if want != &got {
                return Err(format!(
                    "step {i}: next_timeout_ms expected {want}, got {got}"
                ));
            }
        }
        let got_command = match out.command {
            None => Value::Null,
            Some(c) => comparable_command(c, now, &reducer)?,
        };
        if let Some(want) = exp.get("command") {
            if want != &got_command {
                return Err(format!(
                    "step {i}: command expected {want}, got {got_command}"
                ));
            }
        }
        let status = reducer.status();
        let snap = reducer.snapshot();
        let checks: [(&str, Value); 5] = [
            ("applied_revision", json!(status.applied_revision)),
            ("observed_revision", json!(status.observed_revision)),
            ("state", json!(status.state.name())),
            (
                "directives",
                json!(snap
                    .set
                    .directives()
                    .iter()
                    .map(|d| d.id.as_str())
                    .collect::<Vec<_>>()),
            ),
            (
                "rejected",
                json!(out.rejected.as_ref().map(|r| r
                    .errors
                    .iter()
                    .map(|e| e.code.as_str())
                    .collect::<Vec<_>>())),
            ),
        ];
        for (key, got) in checks {
            if let Some(want) = exp.get(key) {
                if want != &got {
                    return Err(format!("step {i}: {key} expected {want}, got {got}"));
                }
            }
        }
        if let Some(want) = exp.get("expires_at_ms") {
            let got = json!(snap
                .set
                .directives()
                .iter()
                .map(|d| d.expires_at_ms)
                .collect::<Vec<_>>());
            if want != &got {
                return Err(format!(
                    "step {i}: expires_at_ms expected {want}, got {got}"
                ));
            }
        }
        if exp.get("applied").and_then(Value::as_bool) == Some(true) && out.applied.is_none() {
            return Err(format!("step {i}: expected a new snapshot"));
        }
        if exp.get("applied").and_then(Value::as_bool) == Some(false) && out.applied.is_some() {
            return Err(format!("step {i}: expected no new snapshot"));
        }
    }
    Ok(())
}

/// A command as JSON, with a backoff's `until_ms` checked against the
/// schedule's ceiling and then left out (scenarios state the attempt).
fn comparable_command(command: Command, now: u64, reducer: &Reducer) -> Result<Value, String> {
    if let Command::BackOff {
        attempt, until_ms, ..
    } = command
    {
        let ceiling = reducer.config().backoff.ceiling_ms(attempt);
        if until_ms != now + ceiling {
            return Err(format!(
                "back_off until {until_ms}, expected {now} + {ceiling} ms"
            ));
        }
    }
    let mut value = serde_json::to_value(command).map_err(|e| e.to_string())?;
    if let Some(map) = value.as_object_mut() {
        map.remove("until_ms");
    }
    Ok(value)
}
