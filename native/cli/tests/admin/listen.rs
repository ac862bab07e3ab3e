//! The listener: concurrency, TLS, and the cleartext policy.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_connections_are_all_served() {
    let (app, server, url) = memory_server().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let url = url.clone();
        tasks.spawn(async move {
            // A fresh client per task: one connection each.
            let http = Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client");
            let path = if i % 2 == 0 {
                "/api/directives"
            } else {
                "/healthz"
            };
            http.get(format!("{url}{path}"))
                .header(header::AUTHORIZATION, bearer())
                .send()
                .await
                .map(|r| r.status())
        });
    }
    let mut ok = 0;
    while let Some(result) = tasks.join_next().await {
        let status = result.expect("task").expect("request served");
        assert_eq!(status, StatusCode::OK);
        ok += 1;
    }
    assert_eq!(ok, 200);
    server.shutdown().await;
    app.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_serves_https_and_cleartext_is_loopback_only() {
    logs();
    let material = TlsMaterial::generate().expect("certificates");
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = material.write_to(dir.path()).expect("written");
    let public: std::net::SocketAddr = "0.0.0.0:0".parse().expect("addr");
    let refused = directive_admin::check_policy(&ListenOptions {
        addr: public,
        tls: None,
        insecure_listen: false,
        limits: directive_admin::ConnectionLimits::default(),
    });
    assert!(matches!(
        refused,
        Err(directive_admin::ListenError::Insecure(_))
    ));
    assert!(directive_admin::check_policy(&ListenOptions {
        addr: public,
        tls: None,
        insecure_listen: true,
        limits: directive_admin::ConnectionLimits::default(),
    })
    .is_ok());

    let app = AdminApp::new(config());
    app.set_backend(Backend::Memory(MemoryBackend::default()));
    let server = directive_admin::start(
        &app,
        ListenOptions {
            addr: "127.0.0.1:0".parse().expect("addr"),
            tls: Some(TlsFiles {
                cert: paths.server_cert.clone(),
                key: paths.server_key.clone(),
            }),
            insecure_listen: false,
            limits: directive_admin::ConnectionLimits::default(),
        },
    )
    .await
    .expect("TLS server starts");
    assert!(server.url().starts_with("https://"));
    let ca = reqwest::Certificate::from_pem(material.ca_cert_pem.as_bytes()).expect("CA");
    let https = Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let url = format!("https://localhost:{}", server.local_addr().port());
    let response = https
        .get(format!("{url}/api/directives"))
        .header(header::AUTHORIZATION, bearer())
        .send()
        .await
        .expect("HTTPS answered");
    assert_eq!(response.status(), StatusCode::OK);
    // Cleartext to the TLS port gets no HTTP answer.
    let plain = client()
        .get(format!(
            "http://127.0.0.1:{}/healthz",
            server.local_addr().port()
        ))
        .send()
        .await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status() != StatusCode::OK));
    server.shutdown().await;
    app.close();
}

#[test]
fn serve_refuses_public_cleartext_and_missing_tokens_with_exit_2() {
    let token_file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(token_file.path(), format!("{TOKEN}\n")).expect("token written");
    let out = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--token-file"])
        .arg(token_file.path())
        .env_remove("DIRECTIVE_ETCD_ENDPOINTS")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without TLS"));
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DIRECTIVE_ADMIN_TOKEN")
        .env_remove("DIRECTIVE_ETCD_ENDPOINTS")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no admin token"));
    // A token given as a flag value does not exist as an option.
    let out = Command::new(BIN)
        .args(["serve", "--token", TOKEN])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
