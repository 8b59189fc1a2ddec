//! Routes for operators and other systems: liveness, readiness, metrics, the partner list and
//! the OpenAPI document.

use std::fmt::Write;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pathways_orchestrator::BreakerState;
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics::render_labels;
use crate::state::AppState;

/// How long readiness waits for the store before calling it unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the store answers and at least one partner is loaded.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
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
    Ok(Json(json!({ "status": "ready", "storage": state.store().backend(), "partners": partners })))
}

/// `GET /metrics`: counters and histograms, each partner's breaker and calls in flight, and the
/// outbox depth.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut gauges = String::from(
        "# HELP pathways_partner_breaker_state Circuit breaker: 0 closed, 1 half open, 2 open.\n\
         # TYPE pathways_partner_breaker_state gauge\n",
    );
    let states = state.live().orchestrator.partner_states();
    for partner in &states {
        let labels = render_labels(&[("partner", partner.partner_id.clone())], None);
        let value = match partner.breaker {
            BreakerState::Closed { .. } => 0,
            BreakerState::HalfOpen { .. } => 1,
            BreakerState::Open { .. } => 2,
        };
        let _ = writeln!(gauges, "pathways_partner_breaker_state{labels} {value}");
    }
    gauges.push_str(
        "# HELP pathways_partner_in_flight Calls in flight to each partner.\n\
         # TYPE pathways_partner_in_flight gauge\n",
    );
    for partner in &states {
        let labels = render_labels(&[("partner", partner.partner_id.clone())], None);
        let _ = writeln!(gauges, "pathways_partner_in_flight{labels} {}", partner.in_flight);
    }
    // Referrals waiting to be sent: the queue an operator watches. Left out (not zero) when the
    // store does not answer, so a dashboard shows a gap rather than a false all-clear.
    if let Ok(Ok(depth)) =
        tokio::time::timeout(std::time::Duration::from_secs(2), state.store().outbox_depth()).await
    {
        gauges.push_str(
            "# HELP pathways_outbox_depth Referrals waiting in the outbox to be sent.\n\
             # TYPE pathways_outbox_depth gauge\n",
        );
        let _ = writeln!(gauges, "pathways_outbox_depth {depth}");
    }
    // SQLite's group commit: writes ÷ commits is the batch size under the current load.
    if let Some((commits, writes)) = state.store().commit_counts() {
        for (name, help, value) in [
            ("pathways_store_commits_total", "Transactions the store has committed.", commits),
            ("pathways_store_writes_total", "Writes those transactions carried.", writes),
        ] {
            let _ = writeln!(gauges, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        }
    }
    let text = state.metrics().render(&gauges);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// `GET /v1/partners`: the enabled partners, for any authenticated caller.
pub async fn partners(State(state): State<AppState>, _caller: Caller) -> Json<serde_json::Value> {
    let live = state.live();
    let states = live.orchestrator.partner_states();
    let list: Vec<serde_json::Value> = live
        .orchestrator
        .partners()
        .iter()
        .zip(&states)
        .map(|(p, s)| {
            let manifest = p.partner.manifest();
            json!({
                "id": p.id,
                "plugin": manifest.plugin,
                "kind": manifest.kind,
                "version": manifest.version,
                "needs": manifest.needs,
                "areas": p.effective_areas(),
                "breaker": match s.breaker {
                    BreakerState::Closed { .. } => "closed",
                    BreakerState::HalfOpen { .. } => "half_open",
                    BreakerState::Open { .. } => "open",
                },
            })
        })
        .collect();
    Json(json!({ "partners": list }))
}

/// `GET /openapi.json`
pub async fn openapi() -> Response {
    let doc = crate::openapi::document();
    (StatusCode::OK, Json(doc)).into_response()
}
