//! The middleware stack, in one place, outermost first:
//!
//! 1. panics become a 500 JSON error (the process and the connection survive);
//! 2. every request gets an `x-request-id` (kept when the client sent one) and a tracing span
//!    carrying it, so every log line of the request names it; the response echoes it;
//! 3. `json_errors`: counts the request by route and status, and turns any error that some
//!    layer or axum answered in plain text or with no body into the JSON error shape;
//! 4. overload: requests beyond the concurrency limit are shed at once (429), and a request
//!    that takes longer than the timeout is answered 503;
//! 5. the body limit (413).
//!
//! Spans carry the method, the path (case ids only, never personal data) and the request id;
//! nothing here logs headers or bodies.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, Response, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::{BoxError, Router};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::ApiError;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps `router` in the stack described above.
pub fn wrap(router: Router<AppState>, state: AppState) -> Router {
    let limits = state.limits();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent_requests));
    let overload = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overload_error))
        .load_shed()
        .layer(GlobalConcurrencyLimitLayer::with_semaphore(semaphore))
        .timeout(limits.request_timeout);
    router
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(overload)
        .layer(middleware::from_fn_with_state(state.clone(), json_errors))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok());
                    tracing::info_span!("request", request_id = id.unwrap_or(""),
                        method = %req.method(), path = req.uri().path(), key_id = tracing::field::Empty)
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| {
            // The panic message may hold anything; the hook already logged where it was.
            tracing::error!("a request handler panicked");
            ApiError::internal().into_response()
        }))
        .with_state(state)
}

async fn overload_error(error: BoxError) -> ApiError {
    if error.is::<tower::load_shed::error::Overloaded>() {
        ApiError::for_status(StatusCode::TOO_MANY_REQUESTS)
    } else if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took too long")
    } else {
        tracing::error!(error = %error, "middleware failed");
        ApiError::internal()
    }
}

async fn json_errors(State(state): State<AppState>, req: Request, next: Next) -> Response<Body> {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().clone();
    let mut response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let mut replacement = ApiError::for_status(status).into_response();
        for name in [header::RETRY_AFTER, header::ALLOW] {
            if let Some(value) = response.headers().get(&name) {
                replacement.headers_mut().insert(name, value.clone());
            }
        }
        response = replacement;
    }
    state.metrics().http_request(&route, &method, status);
    response
}

/// The fallback for paths no route serves.
pub async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such route; see /openapi.json")
}

/// The answer for a known path with a method it does not accept.
pub async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept this method; see /openapi.json",
    )
}

/// How long [`crate::Daemon::serve`] sleeps after a failed `accept` (e.g. out of file
/// descriptors) before trying again, so a persistent failure does not spin.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
