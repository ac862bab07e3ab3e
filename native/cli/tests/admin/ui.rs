//! The admin UI: embedded, from a directory, and path tricks.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_ui_is_served_without_a_ui_directory() {
    logs();
    let app = AdminApp::new(config());
    let (server, url) = serve(&app).await;
    let http = client();
    let index = http.get(format!("{url}/")).send().await.expect("index");
    assert_eq!(index.status(), StatusCode::OK);
    let csp = index.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(index.headers()["x-frame-options"], "DENY");
    assert_eq!(index.headers()["referrer-policy"], "no-referrer");
    assert!(index
        .text()
        .await
        .expect("text")
        .contains("<title>directive-plane admin</title>"));
    let script = http
        .get(format!("{url}/app.js"))
        .send()
        .await
        .expect("app.js");
    assert_eq!(script.status(), StatusCode::OK);
    let kind = script.headers()[header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(kind.contains("javascript"), "content-type {kind}");
    // The UI's own tests and docs are not part of what is served.
    for left_out in ["/e2e/admin.e2e.mjs", "/README.md", "/../Cargo.toml"] {
        let (status, _) = raw_get(server.local_addr(), left_out);
        assert!(
            status == 404 || status == 400,
            "{left_out}: status {status}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_is_served_and_path_tricks_stay_inside_its_directory() {
    logs();
    let root = tempfile::tempdir().expect("tempdir");
    let ui = root.path().join("ui");
    std::fs::create_dir(&ui).expect("ui dir");
    std::fs::write(ui.join("index.html"), "<h1>admin ui</h1>").expect("index");
    std::fs::write(root.path().join("secret.txt"), "outside").expect("secret");
    std::os::unix::fs::symlink(root.path().join("secret.txt"), ui.join("link.txt"))
        .expect("symlink");
    std::os::unix::fs::symlink(root.path(), ui.join("up")).expect("dir symlink");
    let mut config = config();
    config.ui_dir = Some(ui);
    let app = AdminApp::new(config);
    let (server, url) = serve(&app).await;
    let http = client();
    let index = http.get(format!("{url}/")).send().await.expect("index");
    assert_eq!(index.status(), StatusCode::OK);
    assert!(index.text().await.expect("text").contains("admin ui"));
    let addr = server.local_addr();
    for trick in [
        "/..%2f..%2fetc/passwd",
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..\\secret.txt",
        "/link.txt",
        "/up/secret.txt",
        "/%6cink.txt",
        "//etc/passwd",
    ] {
        let (status, body) = raw_get(addr, trick);
        assert!(status == 404 || status == 400, "{trick}: status {status}");
        assert!(
            !body.contains("outside") && !body.contains("root:"),
            "{trick}"
        );
    }
    server.shutdown().await;
    app.close();

    // A UI directory without a built UI: a page saying so.
    let mut config = AdminConfig::new(AdminToken::new(TOKEN).expect("token"));
    config.ui_dir = Some(root.path().join("empty"));
    let app = AdminApp::new(config);
    let (server, url) = serve(&app).await;
    let page = http.get(format!("{url}/")).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("text").contains("not built"));
    let (status, _) = raw_get(server.local_addr(), "/..%2f..%2fetc/passwd");
    assert_eq!(status, 404);
    server.shutdown().await;
    app.close();
}
