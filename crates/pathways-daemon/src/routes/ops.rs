//! Routes for operators and other systems: liveness, readiness, metrics, the partner list and
//! the OpenAPI document.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pathways_orchestrator::BreakerState;

use crate::api::{PartnerInfo, PartnerList, Status};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics::Sampled;
use crate::state::AppState;

/// How long readiness waits for the store before calling it unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<Status> {
    Json(Status { status: "ok".into(), storage: None, partners: None, referral_id: None })
}

/// `GET /readyz`: the store answers and at least one partner is loaded.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    match tokio::time::timeout(PING_TIMEOUT, state.store().ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: storage");
            return Err(ApiError::unavailable("storage does not answer"));
        }
        Err(_) => return Err(ApiError::unavailable("storage did not answer in time")),
    }
    let partners = state.live().orchestrator.partners().len();
    if partners == 0 {
        return Err(ApiError::unavailable("no partners are enabled"));
    }
    Ok(Json(Status {
        status: "ready".into(),
        storage: Some(state.store().backend().into()),
        partners: Some(partners as u64),
        referral_id: None,
    }))
}

/// `GET /metrics`: counters and histograms, each partner's breaker and calls in flight, and the
/// outbox depth.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let store = state.store();
    let sampled = Sampled {
        partners: state.live().orchestrator.partner_states(),
        outbox_depth: tokio::time::timeout(PING_TIMEOUT, store.outbox_depth())
            .await
            .ok()
            .and_then(Result::ok),
        commits: store.commit_counts(),
    };
    let text = state.metrics().render(&sampled);
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

/// `GET /v1/partners`: the enabled partners, for any authenticated caller.
pub async fn partners(State(state): State<AppState>, _caller: Caller) -> Json<PartnerList> {
    let live = state.live();
    let states = live.orchestrator.partner_states();
    let partners = live
        .orchestrator
        .partners()
        .iter()
        .zip(&states)
        .map(|(p, s)| {
            let manifest = p.partner.manifest();
            PartnerInfo {
                id: p.id.clone(),
                plugin: manifest.plugin.clone(),
                kind: manifest.kind,
                version: manifest.version.clone(),
                needs: manifest.needs.clone(),
                areas: p.effective_areas().to_vec(),
                breaker: match s.breaker {
                    BreakerState::Closed { .. } => "closed",
                    BreakerState::HalfOpen { .. } => "half_open",
                    BreakerState::Open { .. } => "open",
                }
                .into(),
            }
        })
        .collect();
    Json(PartnerList { partners })
}

/// `GET /openapi.json`
pub async fn openapi() -> Response {
    let doc = crate::openapi::document();
    (StatusCode::OK, Json(doc)).into_response()
}
