//! HTTP routes of the housing authority simulator and the middleware stack around them (see
//! the module doc of `housing` for the wire shapes).
//!
//! Stack, outermost first: referral POST counting (so a POST answered by a fault still
//! counts), fault injection, then the API key check on `/dtr`. `/_sandbox` routes sit outside
//! the stack. Nothing here logs a body or a query string.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::referrals::{PostOutcome, WithdrawOutcome};
use super::wire::{DtrRequest, WithdrawalRequest};
use super::HousingState;
use crate::faults;
use crate::http::{self, error, parse_json, required_idempotency_key, IDEMPOTENCY_KEY};
use crate::idempotency::PostCounts;

type Shared = Arc<HousingState>;

const REFERRALS_PATH: &str = "/dtr/v1/referrals";

/// The simulator's whole router.
pub(crate) fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/dtr/v1/health", get(health))
        .route("/dtr/v1/authorities", get(authorities))
        .route("/dtr/v1/authorities/{ons_code}/availability", get(availability))
        .route(REFERRALS_PATH, post(post_referral))
        .route("/dtr/v1/referrals/{referral_id}", get(get_referral))
        .route("/dtr/v1/referrals/{referral_id}/withdraw", post(withdraw_referral))
        .route_layer(middleware::from_fn_with_state(state.api_key.clone(), http::require_api_key))
        .layer(middleware::from_fn_with_state(state.faults.clone(), faults::inject))
        .layer(middleware::from_fn_with_state(state.clone(), count_referral_posts));
    api.fallback(http::no_such_route).with_state(state)
}

async fn count_referral_posts(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST && request.uri().path() == REFERRALS_PATH {
        let key = request.headers().get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok());
        state.book().stats.count_post(key);
    }
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    tracing::debug!(partner = "housing", %method, %path, status = response.status().as_u16(), "sandbox request");
    response
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
    let key = match required_idempotency_key(&headers) {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    let request: DtrRequest = match parse_json(&body) {
        Ok(request) => request,
        Err(refused) => return refused.into_response(),
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

async fn get_referral(State(state): State<Shared>, Path(referral_id): Path<String>) -> Response {
    match state.book().view(&referral_id) {
        Some(view) => Json(view).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_referral", "no referral has that id"),
    }
}

async fn withdraw_referral(
    State(state): State<Shared>,
    Path(referral_id): Path<String>,
    body: Bytes,
) -> Response {
    let request: WithdrawalRequest = match parse_json(&body) {
        Ok(request) => request,
        Err(refused) => return refused.into_response(),
    };
    let outcome = state.book().withdraw(&referral_id, request.reason);
    match outcome {
        WithdrawOutcome::Withdrawn(view) => Json(view).into_response(),
        WithdrawOutcome::Ended(view) => error(
            StatusCode::CONFLICT,
            "referral_ended",
            format!(
                "the referral is {}; only one received, accepted or in progress can be withdrawn",
                view.status.as_str()
            ),
        ),
        WithdrawOutcome::Unknown => {
            error(StatusCode::NOT_FOUND, "unknown_referral", "no referral has that id")
        }
    }
}
