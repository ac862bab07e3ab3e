//! The admin UI at `/`: embedded in the binary, or served from a directory
//! during development.
//!
//! The UI (`web-demo/`: plain HTML, CSS and ES modules, plus `pkg/`, the
//! browser build of the WASM package when it was built) is embedded at
//! compile time with `rust-embed`, so a copied `directivectl` serves it
//! anywhere. Debug builds read the same files from the source tree at run
//! time (rust-embed's development mode), so a UI edit needs no rebuild;
//! `--ui-dir` serves another directory instead (regular files inside it
//! only: `..` segments, encoded or not, and symlinks are refused). Without an
//! `index.html`, `/` says the UI is not built instead of a bare 404.

use std::path::Path;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;

/// The UI files, from `web-demo/` (tests and docs left out).
#[derive(rust_embed::RustEmbed)]
#[folder = "../../web-demo/"]
#[exclude = "e2e/*"]
#[exclude = "*.md"]
struct Assets;

const NOT_BUILT: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>directivectl</title></head>
<body>
<h1>directivectl admin API</h1>
<p>The admin UI is not built (no <code>index.html</code> in the UI directory).
The API is live: see <code>GET /api/directives</code> with
<code>Authorization: Bearer &lt;token&gt;</code>.</p>
</body></html>
";

/// The router serving the UI for every path no other route takes: from
/// `dir` when given, else the embedded files.
pub(crate) fn ui_router<S: Clone + Send + Sync + 'static>(dir: Option<&Path>) -> Router<S> {
    match dir {
        Some(dir) if dir.join("index.html").is_file() => {
            let root = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
            let serve = ServeDir::new(&root);
            Router::new()
                .fallback_service(serve)
                .layer(middleware::from_fn(move |request: Request, next: Next| {
                    let root = root.clone();
                    async move {
                        if regular_file_inside(&root, request.uri().path()) {
                            next.run(request).await
                        } else {
                            not_found().await
                        }
                    }
                }))
        }
        None if Assets::get("index.html").is_some() => Router::new().fallback(embedded),
        _ => Router::new()
            .route("/", get(not_built))
            .route("/index.html", get(not_built))
            .fallback(not_found),
    }
}

/// True when `path` (a request path, percent-encoded) names a regular file
/// or directory under `root` reached without a symlink or a `..` step:
/// `ServeDir` alone would follow a link out of the directory.
fn regular_file_inside(root: &Path, path: &str) -> bool {
    let Ok(decoded) = percent_encoding::percent_decode_str(path).decode_utf8() else {
        return false;
    };
    let mut at = root.to_path_buf();
    for part in decoded.split('/').filter(|p| !p.is_empty()) {
        if part == ".." || part == "." || part.contains('\\') {
            return false;
        }
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => return false,
            Ok(_) => {}
            // Missing: ServeDir answers 404 itself.
            Err(_) => return true,
        }
    }
    true
}

/// One embedded file, by its path under `web-demo/`.
async fn embedded(uri: Uri) -> Response {
    let path = match uri.path().trim_start_matches('/') {
        "" => "index.html",
        path => path,
    };
    let Some(file) = Assets::get(path) else {
        return not_found().await;
    };
    let mime = HeaderValue::from_str(file.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    ([(header::CONTENT_TYPE, mime)], file.data).into_response()
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
