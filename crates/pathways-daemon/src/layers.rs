//! The middleware stack, in one place, outermost first:
//!
//! 1. panics become a 500 JSON error (the process and the connection survive);
//! 2. every request gets an `x-request-id` (kept when the client sent one) and a tracing span
//!    carrying it, so every log line of the request names it; the response echoes it;
//! 3. `json_errors`: counts the request by route and status, and turns any error that some
//!    layer or axum answered in plain text or with no body into the JSON error shape;
//! 4. the gate, before a request may hold a slot: a header that may appear once
//!    (`Authorization`, `Idempotency-Key`) sent twice is refused (400); a
//!    declared body over the limit is refused at
//!    once (413, without reading a byte); an API request without a known key is refused (401)
//!    before it takes a slot, so connections that stall without a key cannot lock anyone out
//!    (partners' callbacks are authenticated by their signature, and so are let through); then
//!    every request but the operational ones (`/healthz`, `/readyz`, `/metrics`,
//!    `/openapi.json`, which never wait for a slot) takes a slot or is shed at once (429);
//! 5. a request that takes longer than the timeout is answered 503 (a body that stalls is cut
//!    off sooner, with 408, where it is read: `routes::body`);
//! 6. the body limit (413) for bodies sent without a length.
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
    let overload = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overload_error))
        .timeout(limits.request_timeout);
    router
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(overload)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
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

/// Paths that answer whoever asks, without a slot: an operator must always be able to see
/// whether the daemon is alive, even when every slot is taken.
fn is_operational(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics" | "/openapi.json")
}

/// The paths the API owns; a front end mounted beside it ([`crate::Daemon::with_front`])
/// answers the rest.
pub fn is_api_path(path: &str) -> bool {
    is_operational(path) || path == "/v1" || path.starts_with("/v1/")
}

/// A partner's callback: authenticated by its signature, not by an API key.
fn is_partner_callback(path: &str) -> bool {
    path.strip_prefix("/v1/partners/").is_some_and(|rest| rest.ends_with("/events"))
}

/// Headers a request may carry once: two `Authorization`s could authenticate as either key,
/// two `Content-Length`s disagree about the body, two `Idempotency-Key`s about the request.
const SINGLE_HEADERS: [HeaderName; 3] =
    [header::AUTHORIZATION, header::CONTENT_LENGTH, HeaderName::from_static("idempotency-key")];

async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response<Body> {
    if let Some(twice) =
        SINGLE_HEADERS.iter().find(|h| req.headers().get_all(*h).iter().nth(1).is_some())
    {
        return ApiError::bad_request(
            "duplicate_header",
            format!("send the `{twice}` header once"),
        )
        .into_response();
    }
    let limits = state.limits();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.max_body_bytes as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the declared body is larger than the server accepts ({} bytes)",
                limits.max_body_bytes
            ),
        )
        .into_response();
    }
    let path = req.uri().path();
    if is_operational(path) {
        return next.run(req).await;
    }
    if path.starts_with("/v1/")
        && !is_partner_callback(path)
        && !crate::auth::has_known_key(&state, req.headers())
    {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send `Authorization: Bearer <key>` with a key this daemon knows",
        )
        .into_response();
    }
    let Ok(_slot) = Arc::clone(state.slots()).try_acquire_owned() else {
        return ApiError::for_status(StatusCode::TOO_MANY_REQUESTS).into_response();
    };
    next.run(req).await
}

async fn overload_error(error: BoxError) -> ApiError {
    if error.is::<tower::timeout::error::Elapsed>() {
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
