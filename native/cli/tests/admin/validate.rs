//! `POST /api/validate` is the library, byte for byte.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_is_byte_identical_to_the_library_over_the_corpus() {
    let (app, server, url) = memory_server().await;
    let http = client();
    let corpus = directive_vectors::load().expect("corpus");
    let mut compared = 0;
    for case in &corpus.cases {
        let directive_vectors::CaseKind::Decode { now_ms, limits, .. } = &case.kind else {
            continue;
        };
        if limits.is_some() {
            continue;
        }
        let input = case.input_bytes().expect("decode case has input");
        let response = http
            .post(format!("{url}/api/validate?now_ms={now_ms}"))
            .header(header::AUTHORIZATION, bearer())
            .header(header::CONTENT_TYPE, "application/json")
            .body(input.clone())
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), StatusCode::OK, "{}", case.name);
        let text = response.text().await.expect("text");
        let native = validate(&input, *now_ms, &Limits::default()).to_json();
        assert_eq!(text, native, "case {}", case.name);
        compared += 1;
    }
    assert!(compared > 100, "only {compared} cases compared");
    // Between the limit and twice it, the report says input_too_large, as the CLI does.
    let big = vec![b' '; Limits::default().max_bytes + 1];
    let (status, body) = post_json(
        &url,
        "/api/validate",
        std::str::from_utf8(&big).expect("ascii"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["errors"][0]["code"], "input_too_large");
    let (status, _) = post_json(&url, "/api/validate?now_ms=soon", "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.shutdown().await;
    app.close();
}
