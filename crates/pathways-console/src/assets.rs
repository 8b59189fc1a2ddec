//! The front-end files, embedded in the binary: GOV.UK Frontend's compiled CSS (with the
//! console's own styles) and JavaScript, vendored by `scripts/update-assets`, and the
//! console's own scripts. A fresh clone needs no npm and no network.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// `(name, content type, bytes)` of every file served under `/assets/`.
const FILES: &[(&str, &str, &[u8])] = &[
    ("console.css", "text/css; charset=utf-8", include_bytes!("../assets/console.css")),
    (
        "govuk-frontend.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/govuk-frontend.min.js"),
    ),
    ("console.js", "text/javascript; charset=utf-8", include_bytes!("../static/console.js")),
    ("enable.js", "text/javascript; charset=utf-8", include_bytes!("../static/enable.js")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../static/favicon.svg")),
];

/// `GET /assets/{name}`.
pub async fn serve(Path(name): Path<String>) -> Response {
    let Some((_, content_type, bytes)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return crate::errors::page(StatusCode::NOT_FOUND);
    };
    let mut response = (*bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // An hour: a new release's files reach browsers soon without a build step to name them
    // by hash.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}
