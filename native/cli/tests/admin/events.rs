//! The SSE stream of store events.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_delivers_an_etcdctl_put_within_one_second() {
    logs();
    let cluster = EtcdCluster::start(1).await.expect("etcd starts");
    let key = "admin/sse";
    let app = AdminApp::new(config());
    app.set_backend(etcd_backend(&cluster, key).await);
    let (server, url) = serve(&app).await;
    let mut response = open_events(&url).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .starts_with("text/event-stream"));
    let mut events = SseReader::default();
    let first = events.next(&mut response).await;
    assert_eq!(first["event"], "state", "{first}");

    let value = doc("from-etcdctl", "acme");
    let started = Instant::now();
    let output = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", cluster.endpoints().join(",")))
        .args(["put", key, &value])
        .output()
        .expect("etcdctl runs (Debian package etcd-client)");
    assert!(output.status.success(), "etcdctl put: {output:?}");
    let applied = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            let event = events.next(&mut response).await;
            if event["event"] == "applied" {
                return event;
            }
        }
    })
    .await
    .expect("an applied event within 1 s of etcdctl put");
    assert_eq!(applied["ids"], json!(["from-etcdctl"]));
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(response);
    server.shutdown().await;
    app.close();
}

/// The fleet view follows the instances' own reports (not the demo): they
/// appear with their revisions, a publish rolls out to all of them, a
/// garbage report is listed as invalid, and a stopped instance leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_view_follows_the_instances_reports() {
    let cluster = EtcdCluster::start(1).await.expect("etcd starts");
    let key = "admin/fleet";
    let app = AdminApp::new(config());
    app.set_backend(etcd_backend(&cluster, key).await);
    let (server, url) = serve(&app).await;
    let instance = |id: &str| {
        StoreOptions::new(cluster.endpoints())
            .with_key(key)
            .with_instance(id, [("zone".to_owned(), "z1".to_owned())])
            .with_report_timing(Duration::from_millis(20), Duration::from_secs(5))
    };
    let a = EtcdDirectiveStore::connect(instance("a")).await.expect("a");
    let b = EtcdDirectiveStore::connect(instance("b")).await.expect("b");
    let listed = eventually(Duration::from_secs(10), || async {
        let (_, body) = get_json(&url, "/api/fleet").await;
        body["instances"].as_array().map_or(0, Vec::len) == 2 && body["rollout"]["applied"] == 2
    })
    .await;
    assert!(listed, "both instances listed and current");

    let mut response = open_events(&url).await;
    let mut events = SseReader::default();
    assert_eq!(events.next(&mut response).await["event"], "state");
    let initial = events.next(&mut response).await;
    assert_eq!(initial["event"], "fleet", "{initial}");
    assert_eq!(initial["rollout"]["instances"], 2, "{initial}");

    let (status, published) = put(&url, &doc("rolled", "acme"), Some("0")).await;
    assert_eq!(status, StatusCode::OK, "{published}");
    let revision = published["revision"].as_i64().expect("revision");
    let rolled_out = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = events.next(&mut response).await;
            if event["event"] == "fleet"
                && event["key_revision"] == revision
                && event["rollout"]["applied"] == 2
            {
                return event;
            }
        }
    })
    .await
    .expect("a fleet event with the publish applied by both");
    assert_eq!(rolled_out["rollout"]["stragglers"], json!([]));

    let mut etcd = cluster.client().await.expect("client");
    etcd.put(format!("{key}/instances/junk"), "[1,2", None)
        .await
        .expect("put junk");
    let junk = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = events.next(&mut response).await;
            if event["event"] == "fleet" && event["instances"].as_array().map_or(0, Vec::len) == 3 {
                return event;
            }
        }
    })
    .await
    .expect("the junk report listed");
    let listed = junk["instances"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["id"] == "junk"))
        .expect("junk listed");
    assert!(
        listed["invalid"]
            .as_str()
            .is_some_and(|r| r.contains("does not match the schema")),
        "{junk}"
    );
    assert_eq!(
        junk["rollout"]["instances"], 2,
        "invalid reports count nowhere"
    );

    b.shutdown().await;
    let left = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = events.next(&mut response).await;
            if event["event"] == "fleet"
                && !event["instances"]
                    .as_array()
                    .is_some_and(|i| i.iter().any(|i| i["id"] == "b"))
            {
                return event;
            }
        }
    })
    .await
    .expect("a stopped instance leaves the view (its lease is revoked)");
    assert_eq!(left["rollout"]["instances"], 1, "{left}");
    assert_eq!(
        left["lost"],
        json!([]),
        "a clean stop is not a loss: {left}"
    );

    drop(response);
    a.shutdown().await;
    server.shutdown().await;
    app.close();
}

/// `GET /api/events` with the token (30 s bound).
async fn open_events(url: &str) -> reqwest::Response {
    client()
        .get(format!("{url}/api/events"))
        .header(header::AUTHORIZATION, bearer())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("SSE")
}

/// Splits an SSE body into JSON `data:` payloads.
#[derive(Default)]
struct SseReader {
    buffer: String,
}

impl SseReader {
    async fn next(&mut self, response: &mut reqwest::Response) -> Value {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return serde_json::from_str(&data.join("\n")).expect("data is JSON");
            }
            let chunk = response
                .chunk()
                .await
                .expect("stream")
                .expect("stream open");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}
