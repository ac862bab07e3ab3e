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

/// Every route × {no token, viewer, operator}: the documented status. A
/// viewer reads everything and writes nothing (403 naming the role); the
/// principals come from a tokens file made by `directivectl token add`,
/// which holds no token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_by_role_gets_the_documented_status() {
    logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tokens.json");
    let add = |name: &str, role: &str| {
        let out = Command::new(BIN)
            .args(["token", "add", name, "--role", role, "--file"])
            .arg(&file)
            .output()
            .expect("token add runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    };
    let viewer = add("vera", "viewer");
    let operator = add("otto", "operator");
    let stored = std::fs::read_to_string(&file).expect("tokens file");
    assert!(
        !stored.contains(&viewer) && !stored.contains(&operator),
        "digests only"
    );
    let listed = Command::new(BIN)
        .args(["token", "list", "--file"])
        .arg(&file)
        .output()
        .expect("token list");
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "vera\tviewer\notto\toperator\n"
    );

    let principals = directive_admin::roles::Principals::from_file(&file).expect("loads");
    let app = AdminApp::new(AdminConfig::with_principals(principals));
    app.set_backend(Backend::Memory(MemoryBackend::default()));
    let (server, url) = serve(&app).await;
    let http = client();
    // (method, path, body, whether it writes: operators only)
    let allowed = |s: StatusCode| s != StatusCode::UNAUTHORIZED && s != StatusCode::FORBIDDEN;
    let routes: Vec<(&str, &str, Option<String>, bool)> = vec![
        ("GET", "/api/directives", None, false),
        ("PUT", "/api/directives", Some(doc("r", "acme")), true),
        ("POST", "/api/validate", Some(doc("v", "acme")), false),
        ("GET", "/api/history", None, false),
        ("GET", "/api/history/1", None, false),
        (
            "POST",
            "/api/rollback",
            Some(r#"{"revision":1}"#.to_owned()),
            true,
        ),
        ("GET", "/api/fleet", None, false),
        ("GET", "/metrics", None, false),
        ("GET", "/api/nope", None, false),
    ];
    for (method, path, body, writes) in &routes {
        for (who, token) in [
            ("nobody", None),
            ("viewer", Some(&viewer)),
            ("operator", Some(&operator)),
        ] {
            let mut request = http.request(method.parse().expect("method"), format!("{url}{path}"));
            if let Some(token) = token {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            if let Some(body) = body {
                request = request
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::IF_MATCH, "\"0\"")
                    .body(body.clone());
            }
            let response = request.send().await.expect("answered");
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            match (who, writes) {
                ("nobody", _) => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} {who}")
                }
                ("viewer", true) => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} {who}");
                    assert_eq!(
                        serde_json::from_str::<Value>(&text).expect("json"),
                        json!({"error": "forbidden", "required_role": "operator"})
                    );
                }
                _ => assert!(allowed(status), "{method} {path} {who}: {status} {text}"),
            }
            assert!(!text.contains(&viewer) && !text.contains(&operator));
        }
    }
    // Writes are attributed to the caller: the operator's publish and
    // rollback above, and one from the UI with a message.
    let current = get_json_as(&url, "/api/directives", &operator).await;
    let revision = current["revision"].as_i64().expect("revision");
    let response = http
        .put(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, format!("Bearer {operator}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::IF_MATCH, format!("\"{revision}\""))
        .header("x-change-source", "ui")
        .header("x-change-message", "trace%20acme%20%E2%80%94%20INC-9")
        .body(doc("ui", "acme"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let history = get_json_as(&url, "/api/history", &viewer).await;
    let entries = history["entries"].as_array().expect("entries");
    let by = |i: usize| entries[i]["attribution"].clone();
    assert_eq!(by(0)["author"], "otto");
    assert_eq!(
        (by(0)["source"].as_str(), by(0)["op"].as_str()),
        (Some("ui"), Some("publish"))
    );
    assert_eq!(by(0)["message"], "trace acme — INC-9");
    assert_eq!(
        (by(1)["op"].as_str(), by(1)["source"].as_str()),
        (Some("rollback"), Some("api"))
    );
    assert_eq!(by(1)["restored_revision"], 1);
    assert_eq!(
        (by(2)["author"].as_str(), by(2)["op"].as_str()),
        (Some("otto"), Some("publish"))
    );

    // The event stream too (its body never ends: the status is enough).
    for (token, expected) in [(&viewer, StatusCode::OK), (&operator, StatusCode::OK)] {
        let response = http
            .get(format!("{url}/api/events"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), expected);
    }
    // A tokens file others may read is refused by `serve`, saying why.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--tokens-file"])
            .arg(&file)
            .env_remove(directive_admin::TOKEN_ENV)
            .output()
            .expect("serve runs");
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
            "{out:?}"
        );
    }
    let captured = String::from_utf8_lossy(&logs().lock().expect("logs")).into_owned();
    assert!(
        !captured.contains(&viewer) && !captured.contains(&operator),
        "no token in logs"
    );
    server.shutdown().await;
    app.close();
}

/// `GET path` with `token`, as JSON.
async fn get_json_as(url: &str, path: &str, token: &str) -> Value {
    client()
        .get(format!("{url}{path}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json")
}

/// With `--cors-origin`, a browser on that origin may send the headers the
/// UI uses (attribution included); no other origin is ever named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_allows_the_ui_headers_for_the_one_origin() {
    logs();
    let mut config = config();
    config.cors_origin = Some("https://admin.example.com".to_owned());
    let app = AdminApp::new(config);
    app.set_backend(Backend::Memory(MemoryBackend::default()));
    let (server, url) = serve(&app).await;
    let preflight = |origin: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, format!("{url}/api/directives"))
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,content-type,if-match,x-change-message,x-change-source",
            )
            .send()
    };
    let response = preflight("https://admin.example.com")
        .await
        .expect("preflight");
    let allowed = response.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    for name in [
        "authorization",
        "if-match",
        "x-change-message",
        "x-change-source",
    ] {
        assert!(allowed.contains(name), "{name} not allowed: {allowed}");
    }
    let other = preflight("https://evil.example").await.expect("preflight");
    // The one configured origin is the only one ever named: a browser on
    // another origin refuses the answer.
    assert!(other
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none_or(|o| o == "https://admin.example.com"));
    server.shutdown().await;
    app.close();
}

/// With `require_message`, a write that does not say why is refused (400)
/// and nothing is written; with a message it goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_may_require_a_reason_for_every_write() {
    logs();
    let mut config = config();
    config.require_message = true;
    let app = AdminApp::new(config);
    app.set_backend(Backend::Memory(MemoryBackend::default()));
    let (server, url) = serve(&app).await;
    let write = |message: Option<&'static str>| {
        let mut request = client()
            .put(format!("{url}/api/directives"))
            .header(header::AUTHORIZATION, bearer())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::IF_MATCH, "\"0\"")
            .body(doc("why", "acme"));
        if let Some(m) = message {
            request = request.header("x-change-message", m);
        }
        request.send()
    };
    let refused = write(None).await.expect("answered");
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body, json!({"error": "message_required"}));
    let (_, current) = get_json(&url, "/api/directives").await;
    assert_eq!(current["revision"], 0, "nothing written");
    let accepted = write(Some("INC-1")).await.expect("answered");
    assert_eq!(accepted.status(), StatusCode::OK);
    server.shutdown().await;
    app.close();
}
