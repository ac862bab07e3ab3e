//! `DirectiveLayer` in an axum service: the decision in the request's
//! extensions, with the default mapping and with a mapping of one's own.

use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use directive_core::{Decision, EndpointKind, Limits};
use directive_etcd::InMemoryDirectiveStore;
use directive_proxy::attrs::RequestAttrs;
use directive_proxy::DirectiveLayer;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The handler answers with what the layer decided (and checks it was
/// given the attributes, with the request id sampling hashed).
async fn level(
    decision: Option<Extension<Decision>>,
    attrs: Option<Extension<RequestAttrs>>,
) -> String {
    match (decision, attrs) {
        (Some(Extension(d)), Some(Extension(a))) if !a.request_id.is_empty() => {
            format!("{} capture={}", d.level, d.capture)
        }
        (None, None) => "undecided".to_owned(),
        _ => "decision without its attributes".to_owned(),
    }
}

fn store() -> Arc<InMemoryDirectiveStore> {
    let doc = br#"{"directives":[
        {"id":"acme","level":"ShapeTiming","ttl_secs":600,"tenant":"acme"},
        {"id":"bulk","level":"Shape","ttl_secs":600,"endpoint":"IngestBulk","capture":true}]}"#;
    let now = directive_etcd::clock::now_ms();
    let set = directive_core::decode(doc, now, &Limits::default()).expect("valid");
    Arc::new(InMemoryDirectiveStore::new().with_directives(set))
}

async fn ask(app: Router, request: http::Request<Body>) -> String {
    let response = app.oneshot(request).await.expect("infallible");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(body.to_vec()).expect("utf-8")
}

#[tokio::test]
async fn an_axum_handler_reads_the_decision_from_the_request() {
    let app = Router::new()
        .route("/{*path}", get(level).post(level))
        .layer(DirectiveLayer::new(store()));
    let acme = http::Request::get("/orders/_search")
        .header("x-tenant", "acme")
        .body(Body::empty())
        .expect("request");
    assert_eq!(ask(app.clone(), acme).await, "ShapeTiming capture=false");
    let other = http::Request::get("/orders/_search")
        .header("x-tenant", "beta")
        .body(Body::empty())
        .expect("request");
    assert_eq!(ask(app.clone(), other).await, "Off capture=false");
    let bulk = http::Request::post("/_bulk")
        .body(Body::empty())
        .expect("request");
    assert_eq!(ask(app.clone(), bulk).await, "Shape capture=true");
    // A request the mapping refuses (a repeated x-tenant) goes on undecided.
    let twice = http::Request::get("/orders/_search")
        .header("x-tenant", "acme")
        .header("x-tenant", "beta")
        .body(Body::empty())
        .expect("request");
    assert_eq!(ask(app, twice).await, "undecided");
}

#[tokio::test]
async fn a_service_maps_its_own_requests_to_attributes() {
    // This service names the tenant in the path: /t/{tenant}/...
    let by_path = |request: &http::Request<Body>| {
        let tenant = request
            .uri()
            .path()
            .strip_prefix("/t/")?
            .split('/')
            .next()?;
        Some(RequestAttrs {
            tenant: Some(tenant.to_owned()),
            index: String::new(),
            principal: "svc".to_owned(),
            endpoint: EndpointKind::Search,
            request_id: "r-1".to_owned(),
            client_request_id: None,
        })
    };
    let app = Router::new()
        .route("/{*path}", get(level))
        .layer(DirectiveLayer::with_attributes(store(), by_path));
    let acme = http::Request::get("/t/acme/anything")
        .body(Body::empty())
        .expect("request");
    assert_eq!(ask(app.clone(), acme).await, "ShapeTiming capture=false");
    let unmapped = http::Request::get("/health")
        .body(Body::empty())
        .expect("request");
    assert_eq!(ask(app, unmapped).await, "undecided");
}
