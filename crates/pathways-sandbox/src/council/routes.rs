//! HTTP routes of the council simulator and the middleware around them (see the module doc of
//! `council` for the wire shapes).
//!
//! Stack, outermost first: counting (referral POSTs and directory list requests, so a request
//! answered by a fault still counts), then fault injection. `/_sandbox` routes sit outside the
//! stack. Nothing here logs a body or a query string.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::open311::{self, PostOutcome, Refusal};
use super::{data, hsds, CouncilState};
use crate::faults;
use crate::http::{self, error, idempotency_key, IDEMPOTENCY_KEY};
use crate::idempotency::PostCounts;

type Shared = Arc<CouncilState>;

const REQUESTS_PATH: &str = "/open311/v2/requests.json";
const SERVICES_PATH: &str = "/hsds/services";

/// The simulator's whole router.
pub(crate) fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/hsds", get(hsds_root))
        .route("/hsds/", get(hsds_root))
        .route(SERVICES_PATH, get(services))
        .route("/hsds/services/{id}", get(service))
        .route("/open311/v2/services.json", get(open311_services))
        .route(REQUESTS_PATH, post(post_request))
        .route("/open311/v2/requests/{file}", get(get_request))
        .layer(middleware::from_fn_with_state(state.faults.clone(), faults::inject))
        .layer(middleware::from_fn_with_state(state.clone(), count));
    api.fallback(http::no_such_route).with_state(state)
}

/// GeoReport's error shape, used by the Open311 routes.
fn refusal(refusal: &Refusal) -> Response {
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(refusal.body())).into_response()
}

async fn count(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if request.method() == Method::POST && path == REQUESTS_PATH {
        let key = request.headers().get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok());
        state.book().stats.count_post(key);
    } else if request.method() == Method::GET && path == SERVICES_PATH {
        state.book().stats.service_list_requests += 1;
    }
    let method = request.method().clone();
    let response = next.run(request).await;
    tracing::debug!(partner = "council", %method, %path, status = response.status().as_u16(), "sandbox request");
    response
}

async fn hsds_root() -> Response {
    Json(json!({
        "version": "3.0",
        "profile": "https://github.com/OpenReferralUK/uk-profile",
        "openapi_url": "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/openapi.json",
    }))
    .into_response()
}

async fn services(
    State(state): State<Shared>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return error(StatusCode::BAD_REQUEST, "invalid_query", "the query string is malformed");
    };
    match hsds::Search::parse(&params, state.max_per_page) {
        Ok(search) => Json(hsds::services_page(&search, &state.context())).into_response(),
        Err(message) => error(StatusCode::BAD_REQUEST, "invalid_parameter", message),
    }
}

async fn service(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    match data::service_by_id(&id) {
        Some(seed) => Json(hsds::service(seed, &state.context(), true)).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_service", "no service has that id"),
    }
}

#[derive(Debug, Deserialize)]
struct JurisdictionQuery {
    jurisdiction_id: Option<String>,
}

async fn open311_services(
    query: Result<Query<JurisdictionQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return refusal(&Refusal { status: 400, description: "malformed query".into() });
    };
    let jurisdiction = query.jurisdiction_id.as_deref().filter(|j| !j.is_empty());
    if jurisdiction.is_some_and(|j| !open311::JURISDICTIONS.contains(&j)) {
        return refusal(&Refusal { status: 404, description: "jurisdiction_id not found".into() });
    }
    Json(open311::service_list(jurisdiction)).into_response()
}

async fn post_request(
    State(state): State<Shared>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(key) = idempotency_key(&headers) else {
        return refusal(&Refusal {
            status: 400,
            description: "Idempotency-Key must be 1 to 255 visible characters".into(),
        });
    };
    let Ok(Form(form)) = form else {
        return refusal(&Refusal {
            status: 400,
            description: "the body must be application/x-www-form-urlencoded".into(),
        });
    };
    let capacity = state.faults.get().capacity;
    let outcome = state.book().post(key, form, state.api_key.as_deref(), capacity);
    match outcome {
        PostOutcome::Created(answer) => (StatusCode::CREATED, Json(answer)).into_response(),
        PostOutcome::Repeated(answer) => (StatusCode::OK, Json(answer)).into_response(),
        PostOutcome::Refused(why) => refusal(&why),
    }
}

async fn get_request(State(state): State<Shared>, Path(file): Path<String>) -> Response {
    let not_found = || Refusal { status: 404, description: "service_request_id not found".into() };
    let Some(id) = file.strip_suffix(".json") else {
        return refusal(&not_found());
    };
    match state.book().request(id) {
        Some(answer) => Json(answer).into_response(),
        None => refusal(&not_found()),
    }
}
