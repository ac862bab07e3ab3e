//! `directivectl` as a user runs it, the real binary: the shared corpus and
//! every exit code (`offline`), the etcd verbs against a real etcd
//! (`etcd_verbs`), and `schema` against the decoder (`schema`). One test
//! binary: each links the whole stack.

mod etcd_verbs;
mod offline;
mod schema;

use std::io::Write;
use std::process::{Command, Stdio};

use directive_vectors::{load, run_all, RequestSpec, Surface};
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

/// A directivectl command with no connection or format settings from the environment.
fn command<S: AsRef<OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("DIRECTIVE_ETCD_ENDPOINTS")
        .env_remove("DIRECTIVE_ETCD_KEY")
        .env_remove("DIRECTIVE_FORMAT")
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
