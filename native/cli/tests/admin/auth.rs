//! Authentication: 401s, and logs that never hold the token or a directive value.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_missing_wrong_short_long_or_in_the_query_get_401() {
    let (app, server, url) = memory_server().await;
    let http = client();
    let long = format!("{TOKEN}x");
    let short = &TOKEN[..TOKEN.len() - 1];
    let wrong = TOKEN.replace('0', "1");
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, ""),
        ("wrong", Some(format!("Bearer {wrong}")), ""),
        ("shorter", Some(format!("Bearer {short}")), ""),
        ("longer", Some(format!("Bearer {long}")), ""),
        ("empty", Some("Bearer ".into()), ""),
        ("basic scheme", Some(format!("Basic {TOKEN}")), ""),
        ("query only", None, "?access_token=TOKEN"),
        ("query and header", Some(bearer()), "?access_token=TOKEN"),
        ("token param", Some(bearer()), "?token=TOKEN"),
    ];
    for path in [
        "/api/directives",
        "/api/history",
        "/api/history/1",
        "/api/fleet",
        "/api/events",
        "/api/nope",
    ] {
        for (name, auth, query) in &cases {
            let query = query.replace("TOKEN", TOKEN);
            let mut request = http.get(format!("{url}{path}{query}"));
            if let Some(auth) = auth {
                request = request.header(header::AUTHORIZATION, auth);
            }
            let response = request.send().await.expect("answered");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path} {name}");
            assert_eq!(
                response.headers()[header::WWW_AUTHENTICATE],
                "Bearer realm=\"directivectl\""
            );
            let body: Value = response.json().await.expect("json");
            assert_eq!(body, json!({"error": "unauthorized"}), "{path} {name}");
        }
    }
    // Writes are refused before their body matters.
    for (method, path) in [
        ("PUT", "/api/directives"),
        ("POST", "/api/validate"),
        ("POST", "/api/rollback"),
    ] {
        let response = http
            .request(method.parse().expect("method"), format!("{url}{path}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::IF_MATCH, "\"0\"")
            .body(doc("a", "acme"))
            .send()
            .await
            .expect("answered");
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
    // Two Authorization headers are ambiguous: refused.
    let response = http
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Probes need no token.
    for probe in ["/healthz", "/readyz"] {
        let response = http
            .get(format!("{url}{probe}"))
            .send()
            .await
            .expect("probe");
        assert_eq!(response.status(), StatusCode::OK, "{probe}");
    }
    // The right token works.
    assert_eq!(get_json(&url, "/api/directives").await.0, StatusCode::OK);
    server.shutdown().await;
    app.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_the_token_or_a_directive_value() {
    let (app, server, url) = memory_server().await;
    let http = client();
    let (status, _) = put(&url, &doc("secret-doc", SECRET_TENANT), Some("\"0\"")).await;
    assert_eq!(status, StatusCode::OK);
    let invalid = json!({"directives": [{"id": "x", "level": "Nope", "ttl_secs": 1, "tenant": SECRET_TENANT}]});
    let (status, _) = put(&url, &invalid.to_string(), Some("1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post_json(&url, "/api/validate", &invalid.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get_json(&url, "/api/directives").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["directives"][0]["tenant"], SECRET_TENANT);
    for attempt in [
        format!("{url}/api/directives?access_token={TOKEN}"),
        format!("{url}/{TOKEN}"),
        format!("{url}/api/{SECRET_TENANT}"),
    ] {
        let _ = http.get(attempt).send().await.expect("answered");
    }
    let _ = http
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}-wrong"))
        .send()
        .await;
    server.shutdown().await;
    app.close();
    let text = String::from_utf8(logs().lock().expect("logs").clone()).expect("UTF-8 logs");
    assert!(text.contains("admin request"), "requests are logged at all");
    assert!(!text.contains(TOKEN), "a log line holds the token");
    assert!(
        !text.contains(SECRET_TENANT),
        "a log line holds a directive value"
    );
}
