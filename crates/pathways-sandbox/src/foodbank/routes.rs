//! HTTP routes of the food bank simulator and the middleware stack around them (see the
//! module doc of `foodbank` for the wire shapes).
//!
//! Stack, outermost first: referral POST counting (so a POST answered by a fault still
//! counts), fault injection, then the API key check on `/evoucher`. `/_sandbox` routes sit
//! outside the stack. Nothing here logs a body or a query string.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::directory::{self, SearchError};
use super::vouchers::{CancelOutcome, PostOutcome};
use super::wire::{VoucherReason, VoucherRequest, VoucherStatus};
use super::FoodbankState;
use crate::faults;
use crate::http::{self, error, parse_json, required_idempotency_key, IDEMPOTENCY_KEY};
use crate::idempotency::PostCounts;

type Shared = Arc<FoodbankState>;

const REFERRALS_PATH: &str = "/evoucher/v1/referrals";

/// The simulator's whole router.
pub(crate) fn router(state: Shared) -> Router {
    let evoucher = Router::new()
        .route("/evoucher/v1/health", get(health))
        .route("/evoucher/v1/foodbanks/{slug}/availability", get(availability))
        .route(REFERRALS_PATH, post(post_referral))
        .route("/evoucher/v1/referrals/{voucher_id}", get(get_referral))
        .route("/evoucher/v1/referrals/{voucher_id}/cancel", post(cancel_referral))
        .route_layer(middleware::from_fn_with_state(state.api_key.clone(), http::require_api_key));
    let api = Router::new()
        .route("/api/2/foodbanks/search/", get(search))
        .route("/api/2/foodbank/{slug}/", get(foodbank))
        .route("/api/2/foodbanks/{slug}/", get(foodbank))
        .merge(evoucher)
        .layer(middleware::from_fn_with_state(state.faults.clone(), faults::inject))
        .layer(middleware::from_fn_with_state(state.clone(), count_referral_posts));
    let control =
        Router::new().route("/_sandbox/vouchers/{voucher_id}/status", post(set_voucher_status));
    api.merge(control).fallback(http::no_such_route).with_state(state)
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
    tracing::debug!(partner = "foodbank", %method, %path, status = response.status().as_u16(), "sandbox request");
    response
}

#[derive(Debug, Deserialize)]
struct SearchParams {
    address: Option<String>,
    lat_lng: Option<String>,
}

async fn search(Query(params): Query<SearchParams>) -> Response {
    match directory::search(params.address.as_deref(), params.lat_lng.as_deref()) {
        Ok(list) => Json(list).into_response(),
        Err(SearchError::MissingLocation) => {
            error(StatusCode::BAD_REQUEST, "missing_location", "give `address` or `lat_lng`")
        }
        Err(SearchError::BadLatLng) => {
            error(StatusCode::BAD_REQUEST, "bad_lat_lng", "`lat_lng` must be `latitude,longitude`")
        }
        Err(SearchError::UnknownAddress) => error(
            StatusCode::BAD_REQUEST,
            "unknown_address",
            "`address` holds no postcode the directory knows",
        ),
    }
}

async fn foodbank(Path(slug): Path<String>) -> Response {
    match directory::foodbank(&slug) {
        Some(detail) => Json(detail).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_foodbank", "no food bank has that slug"),
    }
}

async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn availability(State(state): State<Shared>, Path(slug): Path<String>) -> Response {
    let capacity = state.faults.get().capacity;
    match state.book().availability(&slug, state.today(), capacity) {
        Some(answer) => Json(answer).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_foodbank", "no food bank has that slug"),
    }
}

async fn post_referral(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let key = match required_idempotency_key(&headers) {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    let request: VoucherRequest = match parse_json(&body) {
        Ok(request) => request,
        Err(refused) => return refused.into_response(),
    };
    let capacity = state.faults.get().capacity;
    let outcome = state.book().post(&key, request, state.today(), capacity);
    match outcome {
        PostOutcome::Created(voucher) => (StatusCode::CREATED, Json(voucher)).into_response(),
        PostOutcome::Repeated(voucher) => (StatusCode::OK, Json(voucher)).into_response(),
        PostOutcome::KeyReused => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different body",
        ),
        PostOutcome::UnknownFoodbank => error(
            StatusCode::NOT_FOUND,
            "unknown_foodbank",
            "`foodbank`: no food bank has that slug",
        ),
        PostOutcome::Unprocessable { code, message } => {
            error(StatusCode::UNPROCESSABLE_ENTITY, code, message)
        }
    }
}

async fn get_referral(State(state): State<Shared>, Path(voucher_id): Path<String>) -> Response {
    match state.book().voucher(&voucher_id) {
        Some(voucher) => Json(voucher).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_voucher", "no voucher has that id"),
    }
}

/// The body of a cancel: why the agency withdraws the voucher.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    reason: VoucherReason,
}

async fn cancel_referral(
    State(state): State<Shared>,
    Path(voucher_id): Path<String>,
    body: Bytes,
) -> Response {
    let CancelBody { reason } = match parse_json(&body) {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    if !matches!(
        reason,
        VoucherReason::ClientWithdrew | VoucherReason::AgencyWithdrew | VoucherReason::Other
    ) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            "`reason`: a cancel is `client_withdrew`, `agency_withdrew` or `other`",
        );
    }
    let outcome = state.book().cancel(&voucher_id, reason);
    match outcome {
        CancelOutcome::Cancelled(voucher) => Json(voucher).into_response(),
        CancelOutcome::Ended(voucher) => error(
            StatusCode::CONFLICT,
            "voucher_not_cancellable",
            format!(
                "the voucher is {}; only an issued voucher can be cancelled",
                voucher.status.as_str()
            ),
        ),
        CancelOutcome::Unknown => {
            error(StatusCode::NOT_FOUND, "unknown_voucher", "no voucher has that id")
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: VoucherStatus,
    #[serde(default)]
    reason: Option<VoucherReason>,
}

async fn set_voucher_status(
    State(state): State<Shared>,
    Path(voucher_id): Path<String>,
    body: Bytes,
) -> Response {
    let change: StatusChange = match parse_json(&body) {
        Ok(change) => change,
        Err(refused) => return refused.into_response(),
    };
    let mut book = state.book();
    if !book.set_status(&voucher_id, change.status, change.reason) {
        return error(StatusCode::NOT_FOUND, "unknown_voucher", "no voucher has that id");
    }
    match book.voucher(&voucher_id) {
        Some(voucher) => Json(voucher).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_voucher", "no voucher has that id"),
    }
}
