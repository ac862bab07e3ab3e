//! The admin UI at `/`: static files from a directory, or a built-in page.
//!
//! The UI (issue 5) is built separately into `web-demo/`; serving it from
//! disk means a UI change needs no rebuild of the binary. `ServeDir`
//! resolves paths inside the directory only (`..` segments, encoded or not,
//! are refused), so no request can read a file outside it. Without a built
//! UI (no `index.html`), `/` says so instead of a bare 404.

use std::path::{Path, PathBuf};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;

/// The `web-demo` folder of the workspace this binary was built from.
pub fn default_ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-demo")
}

const NOT_BUILT: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>directivectl</title></head>
<body>
<h1>directivectl admin API</h1>
<p>The admin UI is not built (no <code>index.html</code> in the UI directory).
The API is live: see <code>GET /api/directives</code> with
<code>Authorization: Bearer &lt;token&gt;</code>.</p>
</body></html>
";

/// The router serving the UI for every path no other route takes.
pub(crate) fn ui_router<S: Clone + Send + Sync + 'static>(dir: Option<&Path>) -> Router<S> {
    match dir.filter(|d| d.join("index.html").is_file()) {
        Some(dir) => Router::new().fallback_service(ServeDir::new(dir)),
        None => Router::new()
            .route("/", get(not_built))
            .route("/index.html", get(not_built))
            .fallback(not_found),
    }
}

async fn not_built() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        NOT_BUILT,
    )
        .into_response()
}

async fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}
