//! HTTP routes of the NHS simulator and the middleware stack around them (see the module doc
//! of `nhs` for the wire shapes).
//!
//! Stack, outermost first: `$process-message` POST counting (so a POST answered by a fault
//! still counts), turning every non-FHIR error answer (an injected fault, the router's own 404
//! or 405) into an OperationOutcome, fault injection, then the bearer token check. `/_sandbox`
//! routes sit outside the stack. Nothing here logs a body or a query string.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::book::{PostOutcome, ReferralBook};
use super::data::{SeedCapacity, ServiceSeed, Site, SERVICES};
use super::outcome::{fhir_json, Problem, FHIR_JSON};
use super::resources::{self, TaskView};
use super::status::{NhsTaskReason, NhsTaskStatus};
use super::{headers, message, search, NhsState};
use crate::faults::{self, CapacityOverride};
use crate::http::error;
use crate::idempotency::PostCounts;

type Shared = Arc<NhsState>;
type Params = Query<Vec<(String, String)>>;

const PROCESS_MESSAGE: &str = "/$process-message";

/// The simulator's whole router.
pub(crate) fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/metadata", get(metadata))
        .route("/HealthcareService", get(search_services))
        .route("/HealthcareService/{id}", get(read_service))
        .route("/Location/{id}", get(read_location))
        .route(PROCESS_MESSAGE, post(process_message))
        .route("/Task", get(search_tasks))
        .route("/Task/{id}", get(read_task))
        .route("/ServiceRequest", get(search_service_requests))
        .route("/ServiceRequest/{id}", get(read_service_request))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.faults.clone(), faults::inject))
        .layer(middleware::from_fn(fhir_errors))
        .layer(middleware::from_fn_with_state(state.clone(), count_posts));
    let control = Router::new().route("/_sandbox/tasks/{id}/status", post(set_task_status));
    api.merge(control).with_state(state)
}

async fn not_found() -> Response {
    Problem::for_status(StatusCode::NOT_FOUND).into_response()
}

async fn count_posts(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if request.method() == Method::POST && request.uri().path() == PROCESS_MESSAGE {
        let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok());
        state.book().stats.count_post(id.map(str::to_ascii_lowercase).as_deref());
    }
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    tracing::debug!(partner = "nhs", %method, %path, status = response.status().as_u16(), "sandbox request");
    response
}

/// Every error of the FHIR API is an OperationOutcome, whoever wrote it.
async fn fhir_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_fhir = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(FHIR_JSON));
    if status.is_success() || is_fhir {
        return response;
    }
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let mut answer = Problem::for_status(status).into_response();
    if let Some(value) = retry_after {
        answer.headers_mut().insert(header::RETRY_AFTER, value);
    }
    answer
}

async fn require_token(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if let Some(expected) = &state.api_key {
        let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if given.and_then(|v| v.strip_prefix("Bearer ")).is_none_or(|key| key != expected) {
            return Problem::unauthorized().into_response();
        }
    }
    next.run(request).await
}

/// `http://HOST` as the client addressed us, for absolute `fullUrl`s.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn self_url(headers: &HeaderMap, path: &str, query: Option<String>) -> String {
    match query {
        Some(query) => format!("{}{path}?{query}", base_url(headers)),
        None => format!("{}{path}", base_url(headers)),
    }
}

/// A service's capacity status now: the `capacity` fault knob, else the seeded one.
fn capacity_of(service: &ServiceSeed, knob: Option<CapacityOverride>) -> SeedCapacity {
    match knob {
        None => service.capacity,
        Some(CapacityOverride::Open) => SeedCapacity::Capacity,
        Some(CapacityOverride::Waitlist) => SeedCapacity::Waitlist,
        Some(CapacityOverride::Full) => SeedCapacity::NoCapacity,
    }
}

async fn metadata(headers: HeaderMap) -> Response {
    fhir_json(StatusCode::OK, &resources::capability_statement(&base_url(&headers)))
}

async fn search_services(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(params): Params,
) -> Response {
    let (found, include) = match search::healthcare_services(&params)
        .and_then(|found| Ok((found, search::includes_locations(&params)?)))
    {
        Ok(found) => found,
        Err(problem) => return problem.into_response(),
    };
    let knob = state.faults.get().capacity;
    let mut sites: Vec<&Site> = Vec::new();
    for site in found.iter().filter_map(|s| s.location.as_ref()).filter(|_| include) {
        if !sites.iter().any(|s| s.id == site.id) {
            sites.push(site);
        }
    }
    let includes = sites.into_iter().map(resources::location).collect();
    let matches =
        found.into_iter().map(|s| resources::healthcare_service(s, capacity_of(s, knob))).collect();
    let id = state.book().new_id();
    let url = self_url(&headers, "/HealthcareService", raw);
    fhir_json(
        StatusCode::OK,
        &resources::searchset(&id, &url, &base_url(&headers), matches, includes),
    )
}

async fn read_location(Path(id): Path<String>) -> Response {
    match SERVICES.iter().filter_map(|s| s.location.as_ref()).find(|site| site.id == id) {
        Some(site) => fhir_json(StatusCode::OK, &resources::location(site)),
        None => Problem::not_found("no Location has that id").into_response(),
    }
}

async fn read_service(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let knob = state.faults.get().capacity;
    match SERVICES.iter().find(|s| s.id == id) {
        Some(s) => {
            fhir_json(StatusCode::OK, &resources::healthcare_service(s, capacity_of(s, knob)))
        }
        None => Problem::not_found("no HealthcareService has that id").into_response(),
    }
}

async fn process_message(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let target = match headers::read(&headers) {
        Ok(target) => target,
        Err(problem) => return problem.into_response(),
    };
    let message = match message::read(&body) {
        Ok(message) => message,
        Err(problem) => return problem.into_response(),
    };
    let stored_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let capacity = capacity_of(target.target, state.faults.get().capacity);
    let answer_to = message.bundle_id.clone().unwrap_or_else(|| target.request_id.clone());
    let destination = message.source_endpoint.clone();
    let mut book = state.book();
    let outcome = book.post(&target.request_id, message, stored_body, target.target, capacity);
    let task_id = match outcome {
        PostOutcome::Created(task_id) | PostOutcome::Cancelled(task_id) => task_id,
        PostOutcome::Duplicate => return Problem::duplicate().into_response(),
        PostOutcome::Conflict => {
            return Problem::conflict(
                "local data updates conflict with the updates in the message: the referral has already ended.",
            )
            .into_response()
        }
        PostOutcome::UnknownReferral => {
            return Problem::not_found("no referral matches the revoked ServiceRequest")
                .at("ServiceRequest.identifier")
                .into_response()
        }
        PostOutcome::SubjectMismatch => {
            return Problem::bad_request(
                "invariant",
                "ServiceRequest.subject is not the Patient of the referral it revokes",
            )
            .at("ServiceRequest.subject")
            .into_response()
        }
    };
    let Some(index) = book.by_task(&task_id) else {
        return Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR).into_response();
    };
    let task = task_resource(&book, index);
    let service_request = book.referral(index).service_request.clone();
    let response = resources::MessageResponse {
        bundle_id: book.new_id(),
        header_id: book.new_id(),
        answers: answer_to,
        destination,
        base: base_url(&headers),
        service: target.target,
    };
    fhir_json(StatusCode::OK, &response.bundle(task, service_request))
}

/// The Task of the referral at `index`, as it stands now.
fn task_resource(book: &ReferralBook, index: usize) -> Value {
    let referral = book.referral(index);
    let (status, reason, changed) = book.status_of(index);
    let reason = reason.or_else(|| status.needs_reason().then_some(NhsTaskReason::Other));
    resources::task(&TaskView {
        task_id: &referral.task_id,
        service_request_id: &referral.service_request_id,
        patient_id: &referral.patient_id,
        service: referral.service,
        status: status.code(),
        reason: reason.map(NhsTaskReason::coding),
        authored_on: referral.received_at,
        last_modified: changed,
    })
}

async fn read_task(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let book = state.book();
    match book.by_task(&id) {
        Some(index) => fhir_json(StatusCode::OK, &task_resource(&book, index)),
        None => Problem::not_found("no Task has that id").into_response(),
    }
}

async fn search_tasks(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(params): Params,
) -> Response {
    let focus = match search::task_focus(&params) {
        Ok(focus) => focus,
        Err(problem) => return problem.into_response(),
    };
    let mut book = state.book();
    let tasks = focus
        .iter()
        .filter_map(|id| book.by_service_request(id))
        .map(|index| task_resource(&book, index))
        .collect();
    let id = book.new_id();
    let url = self_url(&headers, "/Task", raw);
    fhir_json(StatusCode::OK, &resources::searchset(&id, &url, &base_url(&headers), tasks, vec![]))
}

async fn read_service_request(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let book = state.book();
    match book.by_service_request(&id) {
        Some(index) => fhir_json(StatusCode::OK, &book.referral(index).service_request),
        None => Problem::not_found("no ServiceRequest has that id").into_response(),
    }
}

async fn search_service_requests(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(params): Params,
) -> Response {
    let wanted = match search::service_requests(&params) {
        Ok(wanted) => wanted,
        Err(problem) => return problem.into_response(),
    };
    let mut book = state.book();
    let mut found: Vec<usize> = wanted
        .identifiers
        .iter()
        .flat_map(|(system, value)| book.by_identifier(system.as_deref(), value))
        .collect();
    found.sort_unstable();
    found.dedup();
    let matches = found.iter().map(|&i| book.referral(i).service_request.clone()).collect();
    let includes = if wanted.include_tasks {
        found.iter().map(|&i| task_resource(&book, i)).collect()
    } else {
        Vec::new()
    };
    let id = book.new_id();
    let url = self_url(&headers, "/ServiceRequest", raw);
    fhir_json(
        StatusCode::OK,
        &resources::searchset(&id, &url, &base_url(&headers), matches, includes),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: NhsTaskStatus,
    #[serde(default)]
    reason: Option<NhsTaskReason>,
}

async fn set_task_status(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(change) = serde_json::from_slice::<StatusChange>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "give {\"status\": ..., \"reason\": ...}",
        );
    };
    let mut book = state.book();
    if !book.set_status(&id, change.status, change.reason) {
        return error(StatusCode::NOT_FOUND, "unknown_task", "no Task has that id");
    }
    match book.by_task(&id) {
        Some(index) => Json(task_resource(&book, index)).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_task", "no Task has that id"),
    }
}
