//! Every route and status code, against real etcd and the memory backend.

use super::*;

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_and_status_code_against_real_etcd() {
    logs();
    let cluster = EtcdCluster::start(1).await.expect("etcd starts");
    let app = AdminApp::new(config());
    let (server, url) = serve(&app).await;
    let http = client();

    // Listening, not connected: alive, not ready, API 503.
    let health = http
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    let ready = http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        get_json(&url, "/api/directives").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );

    app.set_backend(etcd_backend(&cluster, "admin/routes").await);
    let ready = http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);

    // Absent key: revision 0, ETag "0".
    let response = http
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::ETAG], "\"0\"");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["ok"], true);
    assert_eq!(body["revision"], 0);
    assert_eq!(body["status"]["state"], "live");
    assert_eq!(body["document"], Value::Null);
    assert_eq!(body["stored_revision"], 0);
    assert_eq!(body["stored_differs"], false);
    assert_eq!(body["source"]["backend"], "etcd", "{body}");
    assert_eq!(body["source"]["endpoints"], json!(cluster.endpoints()));
    assert_eq!(body["source"]["key"], "admin/routes");

    // PUT: 428, 415, 400 (full report), 200, 409, 200 with a bare revision.
    let (status, body) = put(&url, &doc("a", "acme"), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::PRECONDITION_REQUIRED, Some("if_match_required"))
    );
    let wrong_type = http
        .put(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::IF_MATCH, "\"0\"")
        .body(doc("a", "acme"))
        .send()
        .await
        .expect("PUT");
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let invalid = r#"{"directives":[{"id":"a","level":"Loud","ttl_secs":60}]}"#;
    let (status, body) = put(&url, invalid, Some("\"0\"")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["ok"], false);
    assert!(body["errors"][0]["code"].is_string(), "{body}");
    let (status, body) = put(&url, &doc("a", "acme"), Some("\"0\"")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r1 = body["revision"].as_i64().expect("revision");
    let (status, body) = put(&url, &doc("b", "acme"), Some("\"0\"")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, json!({"error": "conflict", "current_revision": r1}));
    let (status, body) = put(&url, &doc("b", "acme"), Some(&r1.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r2 = body["revision"].as_i64().expect("revision");
    assert!(r2 > r1);
    let (status, _) = put(&url, &doc("c", "acme"), Some("W/\"1\"")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The store applies it; GET shows it with its ETag.
    assert!(
        eventually(Duration::from_secs(5), || async {
            get_json(&url, "/api/directives").await.1["revision"] == r2
        })
        .await,
        "the store applies the publish"
    );
    let (_, body) = get_json(&url, "/api/directives").await;
    assert_eq!(body["directives"][0]["id"], "b");
    assert_eq!(body["status"]["applied_revision"], r2);
    assert_eq!(body["stored_revision"], r2);
    assert_eq!(body["stored_differs"], false);
    // `document`: the canonical text of what was published (etcd's bytes).
    let (stored, at) =
        Publisher::connect(StoreOptions::new(cluster.endpoints()).with_key("admin/routes"))
            .await
            .expect("publisher connects")
            .current()
            .await
            .expect("read");
    assert_eq!(at, r2);
    let stored = stored.expect("the key holds a value");
    assert_document_is_canonical(&body, &stored);

    // One version: the raw stored text and its report; 404, 400, 401.
    let (status, version) = get_json(&url, &format!("/api/history/{r2}")).await;
    assert_eq!(status, StatusCode::OK, "{version}");
    assert_eq!(version["revision"], r2);
    assert_eq!(
        version["document"].as_str(),
        std::str::from_utf8(&stored).ok()
    );
    let set = decode(&stored, now(), &Limits::default()).expect("stored value decodes");
    assert_eq!(version["published_at"], set.anchor_ms());
    assert_eq!(version["report"]["ok"], true);
    assert_eq!(version["report"]["directives"][0]["id"], "b");
    for (path, expected) in [
        (format!("/api/history/{}", r2 + 100), StatusCode::NOT_FOUND),
        ("/api/history/abc".into(), StatusCode::BAD_REQUEST),
        ("/api/history/0".into(), StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(get_json(&url, &path).await.0, expected, "{path}");
    }
    let response = http
        .get(format!("{url}/api/history/{r2}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // 413 over the limit, whether declared or not.
    let oversize = format!(
        "{{\"directives\":[],\"pad\":\"{}\"}}",
        "x".repeat(Limits::default().max_bytes)
    );
    let (status, body) = put(&url, &oversize, Some(&r2.to_string())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let chunked = reqwest::Body::wrap_stream(futures_util_stream(oversize.clone()));
    let response = http
        .put(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::IF_MATCH, r2.to_string())
        .body(chunked)
        .send()
        .await
        .expect("chunked PUT");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // History, newest first.
    let (status, body) = get_json(&url, "/api/history?limit=5").await;
    assert_eq!(status, StatusCode::OK);
    let entries = body["entries"].as_array().expect("entries");
    assert_eq!(entries[0]["revision"], r2);
    assert_eq!(entries[1]["revision"], r1);
    assert_eq!(
        get_json(&url, "/api/history?limit=0").await.0,
        StatusCode::BAD_REQUEST
    );

    // Rollback: 409 on a stale expectation, 404 for no such version, 400, 200.
    let (status, body) = post_json(
        &url,
        "/api/rollback",
        &json!({"revision": r1, "expect_revision": r1}).to_string(),
    )
    .await;
    assert_eq!(
        (status, body["current_revision"].as_i64()),
        (StatusCode::CONFLICT, Some(r2))
    );
    let (status, _) = post_json(
        &url,
        "/api/rollback",
        &json!({"revision": r2 + 100}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post_json(&url, "/api/rollback", r#"{"rev":1}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = post_json(
        &url,
        "/api/rollback",
        &json!({"revision": r1, "expect_revision": r2}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["revision"].as_i64().expect("revision") > r2);

    // Validate, fleet (no instance reports here), unknown route, wrong method.
    let (status, body) = post_json(&url, "/api/validate?now_ms=1000", &doc("v", "acme")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["directives"][0]["expires_at_ms"], 601_000);
    let (status, body) = get_json(&url, "/api/fleet").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["instances"], json!([]), "no instance reports: {body}");
    assert_eq!(body["rollout"]["instances"], 0, "{body}");
    assert_eq!(get_json(&url, "/api/nope").await.0, StatusCode::NOT_FOUND);
    let delete = http
        .delete(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("DELETE");
    assert_eq!(delete.status(), StatusCode::METHOD_NOT_ALLOWED);

    // A malformed value written around the API: the store keeps the last
    // good set, `document` stays that set, and `stored_differs` says so.
    let (_, before) = get_json(&url, "/api/directives").await;
    let malformed = r#"{"directives":[{"id":"bad","level":"Loud","ttl_secs":1}]}"#;
    let put = cluster
        .client()
        .await
        .expect("etcd client")
        .put("admin/routes", malformed, None)
        .await
        .expect("raw put");
    let bad = put.header().expect("header").revision();
    assert!(
        eventually(Duration::from_secs(5), || async {
            get_json(&url, "/api/directives").await.1["status"]["last_rejection"]["revision"] == bad
        })
        .await,
        "the store refuses the malformed value"
    );
    let (_, body) = get_json(&url, "/api/directives").await;
    assert_eq!(body["stored_revision"], bad);
    assert_eq!(body["stored_differs"], true);
    assert_eq!(body["document"], before["document"]);
    assert_eq!(body["directives"][0]["id"], "a");
    let (status, version) = get_json(&url, &format!("/api/history/{bad}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["document"], malformed);
    assert_eq!(version["published_at"], Value::Null);
    assert_eq!(version["report"]["ok"], false);
    assert_eq!(version["report"]["errors"][0]["code"], "unknown_level");

    // A compacted version: 410.
    let latest = bad;
    cluster.compact(latest).await.expect("compaction");
    let (status, body) = get_json(&url, &format!("/api/history/{r1}")).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::GONE,
            json!({"error": "compacted", "revision": r1})
        )
    );

    server.shutdown().await;
    app.close();
    if let Some(backend) = app.backend() {
        backend.shutdown().await;
    }
}

/// A body stream of one chunk, so no Content-Length is sent.
fn futures_util_stream(
    text: String,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures_util::stream::iter(
        text.into_bytes()
            .chunks(64 * 1024)
            .map(|c| Ok(c.to_vec()))
            .collect::<Vec<_>>(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_and_history_versions_on_the_memory_backend() {
    let (app, server, url) = memory_server().await;
    let (_, body) = get_json(&url, "/api/directives").await;
    assert_eq!(
        (
            &body["document"],
            &body["stored_revision"],
            &body["stored_differs"]
        ),
        (&Value::Null, &json!(0), &json!(false))
    );
    // Keys: the report's, then revision and status, then the new ones.
    let text = client()
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("text");
    let at = |key: &str| text.find(&format!("\"{key}\":")).expect(key);
    let order = [
        "ok",
        "errors",
        "directives",
        "revision",
        "status",
        "document",
        "stored_revision",
        "stored_differs",
    ]
    .map(at);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    let two = json!({"directives": [
        {"id": "x", "level": "Shape", "ttl_secs": 30, "tenant": "acme"},
        {"id": "y", "level": "ShapeTiming", "ttl_secs": 604800, "index": "orders", "sample_per_mille": 5}
    ]});
    let (status, published) = put(&url, &two.to_string(), Some("\"0\"")).await;
    assert_eq!(status, StatusCode::OK);
    let r1 = published["revision"].as_i64().expect("revision");
    let (status, version) = get_json(&url, &format!("/api/history/{r1}")).await;
    assert_eq!(status, StatusCode::OK);
    let stored = version["document"].as_str().expect("document").to_owned();
    let (_, body) = get_json(&url, "/api/directives").await;
    assert_eq!(
        (&body["revision"], &body["stored_revision"]),
        (&json!(r1), &json!(r1))
    );
    assert_eq!(body["stored_differs"], false);
    assert_document_is_canonical(&body, stored.as_bytes());
    // The document republishes verbatim, with its original TTLs.
    let document = body["document"].as_str().expect("document").to_owned();
    let (status, published) = put(&url, &document, Some(&r1.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{published}");
    let r2 = published["revision"].as_i64().expect("revision");
    let (_, version) = get_json(&url, &format!("/api/history/{r2}")).await;
    let raw: Value =
        serde_json::from_str(version["document"].as_str().expect("document")).expect("JSON");
    assert_eq!(raw["directives"][1]["ttl_secs"], 604_800);
    let published_at = version["published_at"].as_u64().expect("stamped");
    assert_eq!(
        version["report"]["directives"][1]["expires_at_ms"],
        published_at + 604_800_000
    );
    // The raw text is in the body's byte order, and the report's keys too.
    let response = client()
        .get(format!("{url}/api/history/{r1}"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("GET");
    let text = response.text().await.expect("text");
    assert!(
        text.starts_with(&format!("{{\"revision\":{r1},\"published_at\":")),
        "{text}"
    );
    assert!(
        text.contains("\"report\":{\"ok\":true,\"errors\":[],\"directives\":["),
        "{text}"
    );
    assert_eq!(
        get_json(&url, &format!("/api/history/{}", r2 + 1)).await.0,
        StatusCode::NOT_FOUND
    );
    server.shutdown().await;
    app.close();
}
