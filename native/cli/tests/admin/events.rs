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
    let mut response = client()
        .get(format!("{url}/api/events"))
        .header(header::AUTHORIZATION, bearer())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("SSE");
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
