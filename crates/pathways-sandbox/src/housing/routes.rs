//! HTTP routes of the housing authority simulator and the middleware stack around them (see
//! the module doc of `housing` for the wire shapes).
//!
//! Stack, outermost first: referral POST counting (so a POST answered by a fault still
//! counts), fault injection, then the API key check on `/dtr`. `/_sandbox` routes sit outside
//! the stack. Nothing here logs a body or a query string.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::referrals::PostOutcome;
use super::wire::DtrRequest;
use super::HousingState;
use crate::faults::{self, Faults};

type Shared = Arc<HousingState>;

const REFERRALS_PATH: &str = "/dtr/v1/referrals";
const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;

/// The simulator's whole router.
pub(crate) fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/dtr/v1/health", get(health))
        .route("/dtr/v1/authorities", get(authorities))
        .route("/dtr/v1/authorities/{ons_code}/availability", get(availability))
        .route(REFERRALS_PATH, post(post_referral))
        .route("/dtr/v1/referrals/{referral_id}", get(get_referral))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_api_key))
        .layer(middleware::from_fn_with_state(state.faults.clone(), faults::inject))
        .layer(middleware::from_fn_with_state(state.clone(), count_referral_posts));
    let control = Router::new()
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/faults", get(get_faults).put(put_faults));
    api.merge(control).fallback(not_found).with_state(state)
}

/// The sandbox's error shape.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message.into()}}))).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn count_referral_posts(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST && request.uri().path() == REFERRALS_PATH {
        let key = request.headers().get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok());
        state.book().count_post(key);
    }
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    tracing::debug!(partner = "housing", %method, %path, status = response.status().as_u16(), "sandbox request");
    response
}

async fn require_api_key(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if let Some(expected) = &state.api_key {
        let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let ok = given.and_then(|v| v.strip_prefix("Bearer ")).is_some_and(|key| key == expected);
        if !ok {
            return error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong API key");
        }
    }
    next.run(request).await
}

async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn authorities(State(state): State<Shared>) -> Response {
    let capacity = state.faults.get().capacity;
    Json(state.book().authorities(state.today(), capacity)).into_response()
}

async fn availability(State(state): State<Shared>, Path(ons_code): Path<String>) -> Response {
    let capacity = state.faults.get().capacity;
    match state.book().availability(&ons_code, state.today(), capacity) {
        Some(answer) => Json(answer).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "unknown_authority",
            "this service takes no referrals for that authority",
        ),
    }
}

async fn post_referral(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let key = match headers.get(IDEMPOTENCY_KEY).map(|v| v.to_str()) {
        Some(Ok(key)) if !key.trim().is_empty() && key.len() <= MAX_KEY_LEN => key.to_string(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "missing_idempotency_key",
                "header `Idempotency-Key` (1 to 255 visible characters) is required",
            )
        }
    };
    let mut de = serde_json::Deserializer::from_slice(&body);
    let request: DtrRequest = match serde_path_to_error::deserialize(&mut de) {
        Ok(request) => request,
        Err(err) => return error(StatusCode::BAD_REQUEST, "invalid_body", body_error_message(err)),
    };
    let capacity = state.faults.get().capacity;
    let outcome = state.book().post(&key, request, state.today(), capacity);
    match outcome {
        PostOutcome::Created(receipt) => (StatusCode::CREATED, Json(receipt)).into_response(),
        PostOutcome::Repeated(receipt) => (StatusCode::OK, Json(receipt)).into_response(),
        PostOutcome::KeyReused => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different body",
        ),
        PostOutcome::Unprocessable { code, message } => {
            error(StatusCode::UNPROCESSABLE_ENTITY, code, message)
        }
    }
}

/// Where and how a body is wrong, naming fields but never quoting values (serde's own
/// messages can quote them, and a value may be personal).
fn body_error_message(err: serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let text = inner.to_string();
    let what = if let Some(rest) = text.strip_prefix("unknown field ") {
        format!("unknown field {}", rest.split(',').next().unwrap_or(rest))
    } else if text.starts_with("missing field ") {
        text.split(" at line").next().unwrap_or(&text).to_string()
    } else if text.starts_with("unknown variant ") {
        "unknown code (see the API documentation for the allowed codes)".to_string()
    } else {
        match inner.classify() {
            serde_json::error::Category::Data => "wrong type or value".to_string(),
            _ => "not valid JSON".to_string(),
        }
    };
    if path.is_empty() || path == "." {
        what
    } else {
        format!("at `{path}`: {what}")
    }
}

async fn get_referral(State(state): State<Shared>, Path(referral_id): Path<String>) -> Response {
    match state.book().view(&referral_id) {
        Some(view) => Json(view).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_referral", "no referral has that id"),
    }
}

async fn stats(State(state): State<Shared>) -> Response {
    Json(state.book().stats.clone()).into_response()
}

async fn get_faults(State(state): State<Shared>) -> Response {
    Json(state.faults.get()).into_response()
}

async fn put_faults(State(state): State<Shared>, body: Bytes) -> Response {
    let mut de = serde_json::Deserializer::from_slice(&body);
    let faults: Faults = match serde_path_to_error::deserialize(&mut de) {
        Ok(faults) => faults,
        Err(err) => return error(StatusCode::BAD_REQUEST, "invalid_body", body_error_message(err)),
    };
    if let Err((field, message)) = faults.validate() {
        return error(StatusCode::BAD_REQUEST, "invalid_value", format!("`{field}` {message}"));
    }
    state.faults.set(faults.clone());
    Json(faults).into_response()
}
