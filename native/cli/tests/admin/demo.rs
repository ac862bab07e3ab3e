//! `directivectl demo` end to end.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_converges_through_the_api_and_leaves_nothing_running() {
    logs();
    let mut child = Command::new(BIN)
        .args(["demo", "--instances", "3"])
        .env_remove("DIRECTIVE_ETCD_ENDPOINTS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo starts");
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut url, mut token, mut etcd_url) = (None, None, None);
    let mut password_file = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while url.is_none() || token.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("demo printed no url/token; stderr so far: {seen:?}"));
        let trimmed = line.trim();
        if let Some(u) = trimmed.strip_prefix("url:") {
            url = Some(u.trim().trim_end_matches('/').to_owned());
        } else if let Some(t) = trimmed.strip_prefix("token:") {
            token = Some(t.trim().to_owned());
        } else if let Some(rest) = trimmed.strip_prefix("directivectl demo: private etcd at ") {
            etcd_url = rest.split_whitespace().next().map(str::to_owned);
            password_file = rest
                .split_once("--password-file ")
                .and_then(|(_, tail)| tail.split(';').next())
                .map(std::path::PathBuf::from);
        }
        seen.push(line);
    }
    let (url, token) = (url.expect("url"), token.expect("token"));
    let etcd_url = etcd_url.expect("etcd url printed");
    let etcd_port: u16 = etcd_url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("etcd port");
    assert!(!token.is_empty() && token != TOKEN);
    // The demo prints the CLI's settings, ready to paste: they work.
    let mut cli_env = None;
    while cli_env.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("demo printed no cli line; stderr so far: {seen:?}"));
        if let Some(rest) = line.trim().strip_prefix("cli:") {
            cli_env = Some(rest.trim().trim_start_matches("export ").to_owned());
        }
        seen.push(line);
    }
    let vars: Vec<(String, String)> = cli_env
        .expect("cli line")
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect();
    assert!(
        vars.iter()
            .any(|(k, _)| k == "DIRECTIVE_ETCD_PASSWORD_FILE"),
        "{vars:?}"
    );
    let got = Command::new(BIN)
        .args(["get", "--json"])
        .envs(vars)
        .stdin(Stdio::null())
        .output()
        .expect("get runs");
    assert!(got.status.success(), "{got:?}");
    let report: serde_json::Value = serde_json::from_slice(&got.stdout).expect("json");
    assert_eq!(report["ok"], true, "{report}");
    demo_etcd_refuses_writes_without_its_password(&etcd_url, password_file).await;

    let http = client();
    let auth = format!("Bearer {token}");
    assert!(
        eventually(Duration::from_secs(20), || async {
            http.get(format!("{url}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
        })
        .await,
        "demo becomes ready"
    );
    let current = http
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, &auth)
        .send()
        .await
        .expect("GET");
    let etag = current.headers()[header::ETAG]
        .to_str()
        .expect("etag")
        .to_owned();
    let published: Value = http
        .put(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, &auth)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::IF_MATCH, etag)
        .body(doc("demo-test", "acme"))
        .send()
        .await
        .expect("PUT")
        .json()
        .await
        .expect("json");
    let revision = published["revision"].as_i64().expect("new revision");
    let fleet_url = format!("{url}/api/fleet");
    let converged = eventually(Duration::from_secs(15), || async {
        let Ok(response) = http
            .get(&fleet_url)
            .header(header::AUTHORIZATION, &auth)
            .send()
            .await
        else {
            return false;
        };
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let instances = body["instances"].as_array().cloned().unwrap_or_default();
        instances.len() == 3
            && body["rollout"]["applied"] == 3
            && body["rollout"]["revision"] == revision
            && instances.iter().all(|i| {
                i["applied_revision"] == revision
                    && i["state"] == "live"
                    && i["applied_at_ms"].is_u64()
            })
    })
    .await;
    assert!(converged, "every instance reaches revision {revision}");

    // One scrape shows every instance's store, told apart by `instance`.
    let scrape = || async {
        http.get(format!("{url}/metrics"))
            .header(header::AUTHORIZATION, &auth)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    };
    let metrics = scrape().await;
    for i in 1..=3 {
        let line = format!(
            "directive_store_applied_revision{{key=\"osproxy/directives\",instance=\"instance-{i}\"}} {revision}"
        );
        assert!(metrics.contains(&line), "{line} missing from:\n{metrics}");
    }

    // Every instance is a real proxy: its x-diagnostics header shows the publish.
    let fleet: Value = http
        .get(&fleet_url)
        .header(header::AUTHORIZATION, &auth)
        .send()
        .await
        .expect("fleet")
        .json()
        .await
        .expect("fleet json");
    let ports: Vec<u64> = fleet["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| {
            i["labels"]["port"]
                .as_str()
                .and_then(|p| p.parse().ok())
                .expect("each instance serves a proxy port, labelled")
        })
        .collect();
    assert_eq!(ports.len(), 3);
    for port in ports {
        let response = http
            .get(format!("http://127.0.0.1:{port}/orders/_search"))
            .header("x-tenant", "acme")
            .header("x-request-id", "r-1")
            .send()
            .await
            .expect("proxy answers");
        assert_eq!(response.status(), 200);
        let diag = response.headers()["x-diagnostics"]
            .to_str()
            .expect("ASCII")
            .to_owned();
        assert!(
            !diag.starts_with("Off"),
            "instance on port {port} applies the publish: {diag}"
        );
        let other = http
            .get(format!("http://127.0.0.1:{port}/orders/_search"))
            .header("x-tenant", "globex")
            .send()
            .await
            .expect("proxy answers");
        assert_eq!(other.headers()["x-diagnostics"], "Off; ring=0; capture=0");
    }
    // Each proxy counted its two decisions, one of them Off, by instance.
    let metrics = scrape().await;
    for i in 1..=3 {
        let instance = format!("instance=\"instance-{i}\"");
        let counts: Vec<(bool, f64)> = metrics
            .lines()
            .filter(|l| l.starts_with("directive_proxy_decisions_total{") && l.contains(&instance))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                Some((series.contains("level=\"Off\""), value.parse().ok()?))
            })
            .collect();
        let total: f64 = counts.iter().map(|(_, v)| v).sum();
        let off: f64 = counts.iter().filter(|(off, _)| *off).map(|(_, v)| v).sum();
        assert_eq!(
            (total, off),
            (2.0, 1.0),
            "instance-{i}'s decisions in:\n{metrics}"
        );
    }

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("demo did not exit on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    // The rest of stderr, to EOF: no colour codes in a pipe, and a clean
    // stop warns about nothing.
    let stop_at = seen.len();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        seen.push(line);
    }
    assert!(
        seen.iter().all(|l| !l.contains('\x1b')),
        "escape codes in a piped stderr: {seen:?}"
    );
    let after_stop: Vec<&String> = seen[stop_at..]
        .iter()
        .filter(|l| l.contains("WARN"))
        .collect();
    assert!(
        after_stop.is_empty(),
        "a clean stop logged warnings: {after_stop:?}"
    );
    assert!(
        TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], etcd_port)),
            Duration::from_millis(500)
        )
        .is_err(),
        "the demo's etcd still accepts connections after the demo exited"
    );
}

/// The demo's private etcd has auth on: a local process without the
/// password cannot write the key (and so cannot bypass the admin token);
/// with the password from the owner-only file it can read.
async fn demo_etcd_refuses_writes_without_its_password(
    etcd_url: &str,
    password_file: Option<std::path::PathBuf>,
) {
    use directive_tests::etcd_client::{Client, ConnectOptions};
    use std::os::unix::fs::PermissionsExt;
    let options = || ConnectOptions::new().with_timeout(Duration::from_secs(5));
    let mut anonymous = Client::connect([etcd_url], Some(options()))
        .await
        .expect("connect");
    let refused = anonymous
        .put("osproxy/directives", r#"{"directives":[]}"#, None)
        .await
        .expect_err("an unauthenticated write is refused");
    assert!(
        refused.to_string().contains("user name is empty")
            || refused.to_string().contains("permission denied"),
        "{refused}"
    );
    let path = password_file.expect("the password file is named");
    let mode = std::fs::metadata(&path)
        .expect("password file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the password file is owner-only: {mode:o}");
    let password = std::fs::read_to_string(&path).expect("readable by its owner");
    let mut root = Client::connect([etcd_url], Some(options().with_user("root", password)))
        .await
        .expect("root connects");
    root.get("osproxy/directives", None)
        .await
        .expect("root reads the key");
}
