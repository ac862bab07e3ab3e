//! `directivectl validate` and `eval` as a user runs them: the shared corpus
//! through the real binary, and every exit code.

use std::io::Write;
use std::process::{Command, Stdio};

use directive_vectors::{load, run_all, Surface};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_directivectl");

fn run(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("directivectl starts");
    // A verb that fails before reading stdin closes the pipe early; that is fine.
    let _ = child.stdin.take().expect("stdin is piped").write_all(stdin);
    let out = child.wait_with_output().expect("directivectl finishes");
    (
        out.status.code().expect("exited normally"),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    )
}

/// The CLI as a corpus surface: reports must equal the library's exactly.
struct Cli;

impl Surface for Cli {
    fn name(&self) -> &str {
        "cli"
    }

    fn validate(&self, input: &[u8], now_ms: u64, limits: Option<&Value>) -> Option<String> {
        if limits.is_some() {
            return None;
        }
        let now = now_ms.to_string();
        let (code, stdout, _) = run(&["validate", "-", "--json", "--now-ms", &now], input);
        let report: Value = serde_json::from_str(&stdout).ok()?;
        let want_code = if report["ok"] == Value::Bool(true) {
            0
        } else {
            1
        };
        assert_eq!(code, want_code, "exit code must follow the report");
        let native = directive_core::validate(input, now_ms, &directive_core::Limits::default());
        assert_eq!(
            stdout.trim_end(),
            native.to_json(),
            "CLI report must be byte-identical"
        );
        Some(stdout)
    }

    fn evaluate(
        &self,
        set: &str,
        decoded_at_ms: u64,
        now_ms: u64,
        request: &Value,
    ) -> Option<String> {
        if decoded_at_ms != now_ms {
            // The CLI decodes and evaluates at one instant.
            return None;
        }
        let now = now_ms.to_string();
        let field = |k: &str| request[k].as_str().unwrap_or_default().to_owned();
        let mut args: Vec<String> = vec![
            "eval".into(),
            "-".into(),
            "--json".into(),
            "--now-ms".into(),
            now,
            "--index".into(),
            field("index"),
            "--principal".into(),
            field("principal"),
            "--endpoint".into(),
            field("endpoint"),
            "--request-id".into(),
            field("request_id"),
        ];
        if let Some(t) = request["tenant"].as_str() {
            args.push("--tenant".into());
            args.push(t.into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, _) = run(&args, set.as_bytes());
        assert_eq!(code, 0);
        Some(stdout)
    }
}

#[test]
fn corpus_through_the_cli_matches_the_library() {
    let corpus = load().expect("corpus parses");
    let summary = run_all(&corpus, &Cli);
    println!("{summary}");
    assert!(summary.failures.is_empty(), "{summary}");
    assert!(
        summary.passed >= 100,
        "too few cases ran through the CLI: {summary}"
    );
}

#[test]
fn exit_codes() {
    let good = br#"{"directives":[{"id":"a","level":"Shape","ttl_secs":60}]}"#;
    assert_eq!(run(&["validate", "-"], good).0, 0);
    let (code, stdout, stderr) = run(&["validate", "-"], br#"{"directives":[{"id":"a"}]}"#);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("<stdin>:1:16: /directives/0/level: missing_level:"),
        "{stdout}"
    );
    assert!(stderr.contains("invalid, 2 error(s)"), "{stderr}");
    assert_eq!(run(&["validate", "/no/such/file"], b"").0, 2);
    assert_eq!(run(&["validate", "--no-such-flag"], b"").0, 2);
    assert_eq!(
        run(
            &[
                "eval",
                "-",
                "--index",
                "i",
                "--principal",
                "p",
                "--endpoint",
                "Nope",
                "--request-id",
                "r"
            ],
            good
        )
        .0,
        2
    );
    let (code, stdout, _) = run(
        &[
            "eval",
            "-",
            "--index",
            "i",
            "--principal",
            "p",
            "--endpoint",
            "Search",
            "--request-id",
            "r",
            "--json",
        ],
        br#"{"directives":[{"id":"a"}]}"#,
    );
    assert_eq!(code, 1);
    assert!(stdout.starts_with(r#"{"ok":false"#), "{stdout}");
}

#[test]
fn eval_prints_the_decision() {
    let set = br#"{"published_at":1000,"directives":[{"id":"t","level":"ShapeTiming","ttl_secs":60,"tenant":"acme","capture":true}]}"#;
    let args = |tenant: Option<&str>, now: &str| {
        let mut a = vec![
            "eval",
            "-",
            "--index",
            "orders",
            "--principal",
            "p",
            "--endpoint",
            "Search",
            "--request-id",
            "r",
            "--now-ms",
        ];
        a.push(Box::leak(now.to_owned().into_boxed_str()));
        if let Some(t) = tenant {
            a.push("--tenant");
            a.push(Box::leak(t.to_owned().into_boxed_str()));
        }
        a
    };
    let (code, stdout, _) = run(&args(Some("acme"), "2000"), set);
    assert_eq!(
        (code, stdout.trim()),
        (
            0,
            "level=ShapeTiming ring_buffer=false capture=true matched=[t]"
        )
    );
    let (_, stdout, _) = run(&args(None, "2000"), set);
    assert_eq!(
        stdout.trim(),
        "level=Off ring_buffer=false capture=false matched=[]"
    );
    let (_, stdout, _) = run(&args(Some("acme"), "61000"), set);
    assert_eq!(
        stdout.trim(),
        "level=Off ring_buffer=false capture=false matched=[]",
        "expired at 1000 + 60 s"
    );
}

// ---------------------------------------------------------------------------
// The etcd verbs (get, publish, clear, history, rollback, watch) against a
// real etcd, and `schema`. One etcd is shared by the tests that overlap in
// time (each uses its own key); it is killed when the last of them drops it,
// so no process outlives the test binary. Every wait is bounded.
// ---------------------------------------------------------------------------

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::process::Child;
use std::sync::{mpsc, Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

use directive_tests::etcd_client::Client;
use directive_tests::EtcdCluster;

/// Upper bound for one directivectl run (normally well under a second).
const DEADLINE: Duration = Duration::from_secs(30);

static ETCD: tokio::sync::Mutex<Weak<EtcdCluster>> = tokio::sync::Mutex::const_new(Weak::new());

/// The shared etcd, started if no running test holds it.
async fn etcd() -> Arc<EtcdCluster> {
    let mut slot = ETCD.lock().await;
    if let Some(cluster) = slot.upgrade() {
        return cluster;
    }
    let cluster = Arc::new(
        EtcdCluster::start(1)
            .await
            .expect("etcd starts (Debian package etcd-server)"),
    );
    *slot = Arc::downgrade(&cluster);
    cluster
}

/// What one bounded run printed.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Kills and reaps a child on drop, so a failing test leaves nothing behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directivectl command with no connection settings from the environment.
fn command<S: AsRef<OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("DIRECTIVE_ETCD_ENDPOINTS")
        .env_remove("DIRECTIVE_ETCD_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn read_all(mut r: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// Runs directivectl to completion within [`DEADLINE`].
fn ctl<S: AsRef<OsStr>>(args: &[S], stdin: &[u8]) -> Out {
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_owned()).collect();
    let mut child = Reaped(command(args).spawn().expect("directivectl starts"));
    // A verb that fails before reading stdin closes the pipe early; fine.
    let _ = child
        .0
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin);
    let stdout = read_all(child.0.stdout.take().expect("stdout is piped"));
    let stderr = read_all(child.0.stderr.take().expect("stderr is piped"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait for directivectl") {
            break status;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "directivectl {shown:?} still running after {DEADLINE:?}"
        );
        thread::sleep(Duration::from_millis(5));
    };
    Out {
        code: status.code().expect("exited normally"),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// `verb...` plus the cluster's endpoints and `key`.
fn on(cluster: &EtcdCluster, key: &str, verb: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = verb.iter().map(|s| (*s).to_owned()).collect();
    args.extend([
        "--endpoints".to_owned(),
        cluster.endpoints().join(","),
        "--key".to_owned(),
        key.to_owned(),
    ]);
    args
}

/// The key's mod revision (0 when absent), read with a client no CLI code shares.
async fn mod_revision(client: &mut Client, key: &str) -> i64 {
    let resp = client.get(key, None).await.expect("etcd get");
    resp.kvs().first().map_or(0, |kv| kv.mod_revision())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

fn sample_path() -> String {
    format!("{}/../../examples/sample.json", env!("CARGO_MANIFEST_DIR"))
}

const ONE: &[u8] = br#"{"directives":[{"id":"one","level":"Shape","ttl_secs":600}]}"#;
const TWO: &[u8] = br#"{"directives":[{"id":"two-a","level":"ShapeTiming","ttl_secs":600,"tenant":"acme"},{"id":"two-b","level":"Shape","ttl_secs":60}]}"#;
const INVALID: &[u8] = br#"{"directives":[{"id":"bad","level":"Nope","ttl_secs":60}]}"#;

/// Publishes `doc` from stdin and returns the printed revision.
fn publish_ok(cluster: &EtcdCluster, key: &str, doc: &[u8]) -> i64 {
    let out = ctl(&on(cluster, key, &["publish", "-"]), doc);
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("publish prints the revision ({e}): {out:?}"))
}

fn get_json(cluster: &EtcdCluster, key: &str) -> Value {
    let out = ctl(&on(cluster, key, &["get", "--json"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    json(&out.stdout)
}

fn ids(report: &Value) -> Vec<String> {
    report["directives"]
        .as_array()
        .expect("directives array")
        .iter()
        .map(|d| d["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn get_on_an_absent_key_is_the_empty_set_at_revision_0() {
    let cluster = etcd().await;
    let out = ctl(&on(&cluster, "cli/get-absent", &["get", "--json"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout.trim(),
        r#"{"ok":true,"errors":[],"directives":[],"revision":0}"#
    );
    let out = ctl(&on(&cluster, "cli/get-absent", &["get"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("revision 0 "), "{out:?}");
}

#[tokio::test]
async fn publish_stamps_writes_and_get_shows_it() {
    let cluster = etcd().await;
    let key = "cli/publish";
    let mut client = cluster.client().await.expect("client");
    let before = directive_etcd::clock::now_ms();
    let file = sample_path();
    let out = ctl(&on(&cluster, key, &["publish", &file, "--json"]), b"");
    let after = directive_etcd::clock::now_ms();
    assert_eq!(out.code, 0, "{out:?}");
    let revision = json(&out.stdout)["revision"]
        .as_i64()
        .expect("{\"revision\":R}");
    assert_eq!(out.stdout.trim(), format!(r#"{{"revision":{revision}}}"#));
    assert!(out.stderr.contains("published 4 directive(s)"), "{out:?}");

    let resp = client.get(key, None).await.expect("etcd get");
    let kv = resp.kvs().first().expect("the key exists");
    assert_eq!(kv.mod_revision(), revision);
    let stored = json(std::str::from_utf8(kv.value()).expect("UTF-8"));
    let stamp = stored["published_at"]
        .as_u64()
        .expect("published_at stamped");
    assert!(
        (before..=after).contains(&stamp),
        "{before} <= {stamp} <= {after}"
    );

    let got = get_json(&cluster, key);
    assert_eq!(got["revision"], revision);
    assert_eq!(got["ok"], true);
    assert_eq!(
        ids(&got),
        [
            "acme-timing",
            "orders-search-diff",
            "svc-breakglass",
            "bulk-capture"
        ]
    );
    let keys: Vec<&String> = got.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 4, "ok, errors, directives, revision: {got}");

    let out = ctl(&on(&cluster, key, &["get"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], format!("revision {revision}: 4 directive(s)"));
    assert_eq!(lines.len(), 5, "{out:?}");
    assert!(
        lines[1]
            .trim_start()
            .starts_with("acme-timing ShapeTiming tenant=acme sample=250/1000"),
        "{out:?}"
    );
}

#[tokio::test]
async fn publish_invalid_exits_1_and_writes_nothing() {
    let cluster = etcd().await;
    let key = "cli/publish-invalid";
    let mut client = cluster.client().await.expect("client");
    let revision = publish_ok(&cluster, key, ONE);

    let out = ctl(&on(&cluster, key, &["publish", "-"]), INVALID);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout
            .starts_with("<stdin>:1:36: /directives/0/level: unknown_level:"),
        "{out:?}"
    );
    assert!(out.stderr.contains("nothing written"), "{out:?}");

    let out = ctl(&on(&cluster, key, &["publish", "-", "--json"]), INVALID);
    assert_eq!(out.code, 1, "{out:?}");
    let now = directive_etcd::clock::now_ms();
    let report = directive_core::validate(INVALID, now, &directive_core::Limits::default());
    assert_eq!(out.stdout.trim(), report.to_json(), "the shared report");

    assert_eq!(
        mod_revision(&mut client, key).await,
        revision,
        "not written"
    );
    assert_eq!(get_json(&cluster, key)["revision"], revision);

    // Usage and I/O errors are 2.
    let out = ctl(&on(&cluster, key, &["publish", "/no/such/file.json"]), b"");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("/no/such/file.json"), "{out:?}");
    let out = ctl(
        &on(&cluster, key, &["publish", "-", "--expect-revision", "-1"]),
        ONE,
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(mod_revision(&mut client, key).await, revision);
}

#[tokio::test]
async fn publish_with_a_stale_expected_revision_exits_3() {
    let cluster = etcd().await;
    let key = "cli/conflict";
    let mut client = cluster.client().await.expect("client");
    let first = publish_ok(&cluster, key, ONE);
    let second = publish_ok(&cluster, key, TWO);
    assert!(second > first);

    let stale = first.to_string();
    let out = ctl(
        &on(
            &cluster,
            key,
            &["publish", "-", "--expect-revision", &stale],
        ),
        ONE,
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr.contains(&format!("at revision {second}")),
        "{out:?}"
    );
    let out = ctl(
        &on(
            &cluster,
            key,
            &["publish", "-", "--expect-revision", "0", "--json"],
        ),
        ONE,
    );
    assert_eq!(out.code, 3, "must not exist: {out:?}");
    assert_eq!(
        json(&out.stdout),
        serde_json::json!({"error": "conflict", "current_revision": second})
    );
    assert_eq!(mod_revision(&mut client, key).await, second, "not written");

    let current = second.to_string();
    let out = ctl(
        &on(
            &cluster,
            key,
            &["publish", "-", "--expect-revision", &current],
        ),
        ONE,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.trim().parse::<i64>().expect("revision") > second);
}

#[tokio::test]
async fn clear_deletes_with_compare_and_swap() {
    let cluster = etcd().await;
    let key = "cli/clear";
    let mut client = cluster.client().await.expect("client");
    let first = publish_ok(&cluster, key, ONE);
    let second = publish_ok(&cluster, key, TWO);

    let stale = first.to_string();
    let out = ctl(
        &on(&cluster, key, &["clear", "--expect-revision", &stale]),
        b"",
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(mod_revision(&mut client, key).await, second, "not deleted");

    let current = second.to_string();
    let out = ctl(
        &on(
            &cluster,
            key,
            &["clear", "--expect-revision", &current, "--json"],
        ),
        b"",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(json(&out.stdout)["revision"].as_i64().expect("revision") > second);
    assert_eq!(mod_revision(&mut client, key).await, 0, "deleted");
    assert_eq!(
        get_json(&cluster, key),
        serde_json::json!({"ok": true, "errors": [], "directives": [], "revision": 0})
    );
    // Clearing an absent key is a no-op success.
    let out = ctl(&on(&cluster, key, &["clear"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
}

#[tokio::test]
async fn history_lists_versions_newest_first() {
    let cluster = etcd().await;
    let key = "cli/history";
    let mut client = cluster.client().await.expect("client");
    let one = publish_ok(&cluster, key, ONE);
    let two = publish_ok(&cluster, key, TWO);
    // Written around the publisher: an invalid version.
    let bad = client
        .put(key, INVALID, None)
        .await
        .expect("etcd put")
        .header()
        .expect("header")
        .revision();

    let out = ctl(&on(&cluster, key, &["history", "--json"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    let entries = json(&out.stdout);
    let entries = entries.as_array().expect("array");
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert_eq!(
        entries[0],
        serde_json::json!({"revision": bad, "published_at": null, "directives": null})
    );
    assert_eq!(entries[1]["revision"], two);
    assert_eq!(entries[1]["directives"], 2);
    assert_eq!(entries[2]["revision"], one);
    assert_eq!(entries[2]["directives"], 1);
    assert!(entries[2]["published_at"].as_u64().is_some());

    let out = ctl(&on(&cluster, key, &["history", "--limit", "2"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert_eq!(lines[0], [bad.to_string().as_str(), "-", "invalid"]);
    assert_eq!(lines[1][0], two.to_string());
    assert_eq!(lines[1][2], "2 directive(s)");
    let stamp = lines[1][1];
    assert!(
        stamp.len() == 24 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "ISO-8601 UTC: {stamp}"
    );
}

#[tokio::test]
async fn rollback_restores_an_earlier_set() {
    let cluster = etcd().await;
    let key = "cli/rollback";
    let mut client = cluster.client().await.expect("client");
    let one = publish_ok(&cluster, key, ONE);
    let two = publish_ok(&cluster, key, TWO);
    assert_eq!(ids(&get_json(&cluster, key)), ["two-a", "two-b"]);

    let target = one.to_string();
    let stale = one.to_string();
    let out = ctl(
        &on(
            &cluster,
            key,
            &["rollback", &target, "--expect-revision", &stale],
        ),
        b"",
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(mod_revision(&mut client, key).await, two, "not written");

    let current = two.to_string();
    let out = ctl(
        &on(
            &cluster,
            key,
            &["rollback", &target, "--expect-revision", &current],
        ),
        b"",
    );
    assert_eq!(out.code, 0, "{out:?}");
    let restored: i64 = out.stdout.trim().parse().expect("revision");
    assert!(restored > two);
    let got = get_json(&cluster, key);
    assert_eq!(got["revision"], restored);
    assert_eq!(ids(&got), ["one"]);

    // A revision with no version of this key (another key's write, or the
    // future): exit 1 with the HTTP API's answer, nothing written.
    let elsewhere = publish_ok(&cluster, "cli/rollback-other", ONE).to_string();
    for revision in [elsewhere.as_str(), "999999999"] {
        let out = ctl(&on(&cluster, key, &["rollback", revision]), b"");
        assert_eq!(out.code, 1, "{out:?}");
        assert!(
            out.stderr
                .contains(&format!("revision {revision} not found")),
            "{out:?}"
        );
    }
    assert_eq!(mod_revision(&mut client, key).await, restored);
}

#[tokio::test]
async fn watch_json_prints_the_state_then_each_event() {
    let cluster = etcd().await;
    let key = "cli/watch";
    let mut client = cluster.client().await.expect("client");
    let mut child = Reaped(
        command(&on(&cluster, key, &["watch", "--json"]))
            .stdin(Stdio::null())
            .spawn()
            .expect("watch starts"),
    );
    let stderr = read_all(child.0.stderr.take().expect("stderr is piped"));
    let (tx, lines) = mpsc::channel();
    let stdout = child.0.stdout.take().expect("stdout is piped");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + DEADLINE;
    let next = || -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .expect("a line from watch before the deadline")
            .expect("stdout is UTF-8");
        json(&line)
    };

    let initial = next();
    assert_eq!(initial["event"], "applied", "{initial}");
    assert_eq!(initial["directives"], 0, "{initial}");
    let status = next();
    assert_eq!(status["event"], "status", "{status}");
    assert_eq!(status["state"], "live", "{status}");

    // A publish made with etcd-client directly, not through directivectl.
    let put = client
        .put(key, ONE, None)
        .await
        .expect("etcd put")
        .header()
        .expect("header")
        .revision();
    assert_eq!(
        next(),
        serde_json::json!({
            "event": "applied", "revision": put, "directives": 1,
            "ids": ["one"], "recovered": false
        })
    );
    let bad = client
        .put(key, INVALID, None)
        .await
        .expect("etcd put")
        .header()
        .expect("header")
        .revision();
    assert_eq!(
        next(),
        serde_json::json!({
            "event": "rejected", "revision": bad,
            "errors": [{"code": "unknown_level", "path": "/directives/0/level"}]
        })
    );

    // SIGTERM stops it cleanly.
    let pid = child.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait for watch") {
            break status;
        }
        assert!(start.elapsed() < DEADLINE, "watch ignored SIGTERM");
        thread::sleep(Duration::from_millis(5));
    };
    let stderr = stderr.join().expect("stderr reader");
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn unreachable_etcd_exits_2_with_the_cause_within_the_connect_timeout() {
    let port = directive_tests::free_port().expect("a free port");
    let endpoint = format!("http://127.0.0.1:{port}");
    let timeout = Duration::from_millis(1500);
    let ms = timeout.as_millis().to_string();
    for verb in [
        &["get"][..],
        &["publish", "-"],
        &["clear"],
        &["history"],
        &["rollback", "5"],
        &["watch", "--json"],
    ] {
        let mut args: Vec<&str> = verb.to_vec();
        args.extend(["--endpoints", &endpoint, "--connect-timeout-ms", &ms]);
        let start = Instant::now();
        let out = ctl(&args, ONE);
        let took = start.elapsed();
        assert_eq!(out.code, 2, "{verb:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{verb:?}: {out:?}");
        assert!(
            out.stderr.contains("etcd connect") && out.stderr.contains(&endpoint),
            "{verb:?}: the cause and the endpoint: {out:?}"
        );
        assert!(
            took < timeout + Duration::from_secs(3),
            "{verb:?} took {took:?}"
        );
    }
    // Invalid input is refused before connecting: 1 even with etcd down.
    let out = ctl(
        &[
            "publish",
            "-",
            "--endpoints",
            &endpoint,
            "--connect-timeout-ms",
            &ms,
        ],
        INVALID,
    );
    assert_eq!(out.code, 1, "{out:?}");
}

#[test]
fn every_verb_has_help_with_an_example() {
    for verb in [
        "validate", "eval", "get", "publish", "clear", "history", "rollback", "watch", "schema",
    ] {
        let out = ctl(&[verb, "--help"], b"");
        assert_eq!(out.code, 0, "{verb}: {out:?}");
        assert!(out.stdout.contains("Example:"), "{verb}: {out:?}");
    }
}

// --- schema ---------------------------------------------------------------

/// A deliberately small JSON Schema checker: exactly the keywords `schema`
/// emits, and a failure for any other, so the check cannot silently pass.
fn schema_errors(root: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let schema = match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/$defs/").expect("local $ref");
            &root["$defs"][name]
        }
        None => schema,
    };
    for (keyword, rule) in schema.as_object().expect("schema object") {
        let ok = match keyword.as_str() {
            "$schema" | "$id" | "$defs" | "$ref" | "title" | "description" => true,
            "type" => match rule.as_str().expect("type name") {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "boolean" => value.is_boolean(),
                "integer" => value.is_u64() || value.is_i64(),
                other => panic!("unsupported type {other}"),
            },
            "enum" => rule.as_array().expect("enum").contains(value),
            "minimum" => value
                .as_f64()
                .is_none_or(|v| v >= rule.as_f64().expect("n")),
            "maximum" => value
                .as_f64()
                .is_none_or(|v| v <= rule.as_f64().expect("n")),
            "minLength" => value
                .as_str()
                .is_none_or(|s| s.chars().count() as u64 >= rule.as_u64().expect("n")),
            "maxLength" => value
                .as_str()
                .is_none_or(|s| s.chars().count() as u64 <= rule.as_u64().expect("n")),
            "maxItems" => value
                .as_array()
                .is_none_or(|a| a.len() as u64 <= rule.as_u64().expect("n")),
            "required" => value.as_object().is_none_or(|o| {
                rule.as_array()
                    .expect("required")
                    .iter()
                    .all(|k| o.contains_key(k.as_str().expect("name")))
            }),
            "additionalProperties" => {
                assert_eq!(rule, &Value::Bool(false), "only `false` is emitted");
                value.as_object().is_none_or(|o| {
                    o.keys()
                        .all(|k| schema["properties"].get(k.as_str()).is_some())
                })
            }
            "properties" => {
                if let Some(o) = value.as_object() {
                    for (k, v) in o {
                        if let Some(sub) = rule.get(k.as_str()) {
                            schema_errors(root, sub, v, &format!("{at}/{k}"), out);
                        }
                    }
                }
                true
            }
            "items" => {
                if let Some(a) = value.as_array() {
                    for (i, v) in a.iter().enumerate() {
                        schema_errors(root, rule, v, &format!("{at}/{i}"), out);
                    }
                }
                true
            }
            other => panic!("the checker does not know keyword {other}"),
        };
        if !ok {
            out.push(format!("{at}: {keyword}"));
        }
    }
}

/// The names the decoder's `unknown_field` message lists as allowed.
fn decoder_fields(document: &str) -> Vec<String> {
    let report =
        directive_core::validate(document.as_bytes(), 0, &directive_core::Limits::default());
    let message = &report
        .errors
        .first()
        .expect("an unknown_field error")
        .message;
    let list = message
        .split_once("(allowed: ")
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("message lists the fields: {message}"));
    let mut names: Vec<String> = list.split(", ").map(str::to_owned).collect();
    names.sort();
    names
}

fn keys(object: &Value) -> Vec<String> {
    let mut names: Vec<String> = object
        .as_object()
        .expect("properties object")
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

#[test]
fn schema_agrees_with_the_decoder() {
    let out = ctl(&["schema"], b"");
    assert_eq!(out.code, 0, "{out:?}");
    let schema = json(&out.stdout);
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let directive = &schema["$defs"]["directive"];
    assert_eq!(
        keys(&schema["properties"]),
        decoder_fields(r#"{"directives":[],"zzz":1}"#)
    );
    assert_eq!(
        keys(&directive["properties"]),
        decoder_fields(r#"{"directives":[{"id":"a","level":"Off","ttl_secs":1,"zzz":1}]}"#)
    );
    assert_eq!(schema["properties"]["directives"]["maxItems"], 10_000);
    assert_eq!(directive["properties"]["ttl_secs"]["maximum"], 604_800);
    assert_eq!(
        directive["properties"]["level"]["enum"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    assert_eq!(
        directive["properties"]["endpoint"]["enum"]
            .as_array()
            .map(Vec::len),
        Some(12)
    );

    let sample = std::fs::read_to_string(sample_path()).expect("examples/sample.json");
    let d = |extra: &str| {
        format!(
            r#"{{"published_at":5,"directives":[{{"id":"a","level":"Shape","ttl_secs":60{extra}}}]}}"#
        )
    };
    let long_id = format!(
        r#"{{"directives":[{{"id":"{}","level":"Shape","ttl_secs":60}}]}}"#,
        "i".repeat(129)
    );
    let long_tenant = d(&format!(r#","tenant":"{}""#, "t".repeat(257)));
    let cases: Vec<String> = vec![
        sample,
        d(""),
        d(
            r#","tenant":"acme","index":"o","principal":"p","endpoint":"Search","sample_per_mille":0,"ring_buffer":true,"capture":false"#,
        ),
        d(r#","ttl_secs":604800"#).replace(r#""ttl_secs":60,"#, ""),
        r#"{"directives":[]}"#.into(),
        // Rejected by both:
        r#"{"directives":[],"zzz":1}"#.into(),
        d(r#","zzz":1"#),
        r#"{}"#.into(),
        r#"{"directives":[{"level":"Shape","ttl_secs":60}]}"#.into(),
        d(r#","endpoint":"Nope""#),
        d(r#","sample_per_mille":1001"#),
        d(r#","ring_buffer":"yes""#),
        d(r#","tenant":"""#),
        long_tenant,
        long_id,
        d("").replace(r#""level":"Shape""#, r#""level":"Nope""#),
        d("").replace(r#""ttl_secs":60"#, r#""ttl_secs":0"#),
        d("").replace(r#""ttl_secs":60"#, r#""ttl_secs":604801"#),
        d("").replace(r#""published_at":5"#, r#""published_at":-1"#),
    ];
    for (i, case) in cases.iter().enumerate() {
        let value = json(case);
        let mut errors = Vec::new();
        schema_errors(&schema, &schema, &value, "", &mut errors);
        let decoder_ok =
            directive_core::validate(case.as_bytes(), 0, &directive_core::Limits::default()).ok;
        assert_eq!(
            errors.is_empty(),
            decoder_ok,
            "case {i} {case}: schema errors {errors:?}, decoder ok {decoder_ok}"
        );
        assert_eq!(
            decoder_ok,
            i < 5,
            "case {i} is meant to be {}",
            if i < 5 { "valid" } else { "invalid" }
        );
    }
}
