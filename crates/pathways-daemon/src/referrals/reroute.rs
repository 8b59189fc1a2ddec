//! Re-routing after a rejection: when a partner rejects or fails a referral, the plan kept
//! fallbacks for its step; the daemon proposes the next one the case has not tried, and the
//! pathfinder accepts it in one action (`POST /v1/referrals/{id}/reroute`): the plan is amended
//! to choose it (a new version, history kept) and the step is referred, idempotently. With
//! `[dispatch] reroute = "auto"` the daemon does both itself, without a click, where the case's
//! consent covers the fallback's partner; elsewhere the proposal waits for the pathfinder.
//!
//! A proposal is derived, not stored: from the newest plan, the case and its referrals. A step
//! needs re-routing when its chosen service's referral for it ended `rejected` or `failed` and
//! nothing live or completed has replaced it; the next fallback is the first whose service the
//! case has not yet been refused by or withdrawn from for that need. The rejection itself
//! feeds the pathway statistics the planner ranks services by, like every referral outcome.

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use pathways_core::{
    ActionPlan, Amendment, Case, Fallback, Named, NeedCode, StatusReason, TaskState,
};
use pathways_store::{AuditAction, CaseId, ReferralId, StoredCase, StoredReferral};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::routes::JsonBody;
use crate::state::AppState;

/// Whether the daemon only proposes a re-route or also makes it (`[dispatch] reroute`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RerouteMode {
    /// Propose it; the pathfinder accepts it in one action.
    #[default]
    Suggest,
    /// Amend the plan and refer the fallback at once, where consent covers its partner.
    Auto,
}

/// One proposal: a refused referral and the service to try next.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RerouteProposal {
    /// The referral that was rejected or failed.
    pub referral_id: String,
    /// The plan step it was made for.
    pub step: u32,
    /// The need.
    pub need_id: String,
    /// The need's code.
    pub need: NeedCode,
    /// The partner that refused it.
    pub from: Named,
    /// `rejected` or `failed`.
    pub state: TaskState,
    /// Why, as the partner said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<StatusReason>,
    /// The next service to try; absent when the plan kept none left untried: plan again to
    /// ask the partners afresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Fallback>,
    /// Whether the case's consent covers referring to its partner (else ask the client first).
    pub consent_covers: bool,
}

/// `GET /v1/cases/{id}/reroutes`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Reroutes {
    /// The plan version the proposals are for.
    pub plan_version: u32,
    /// One per step whose referral was refused, in plan order.
    pub proposals: Vec<RerouteProposal>,
}

/// The proposals for the newest plan of `case`, given its referrals.
pub fn proposals(
    case: &Case,
    plan: &ActionPlan,
    referrals: &[StoredReferral],
) -> Vec<RerouteProposal> {
    let mut out = Vec::new();
    for step in plan.steps.iter().filter(|s| s.is_refer()) {
        let (Some(chosen), Some(need)) =
            (step.chosen(), case.needs.iter().find(|n| n.id == step.need_id))
        else {
            continue;
        };
        let mine: Vec<&StoredReferral> = referrals
            .iter()
            .filter(|r| {
                r.partner_id == chosen.partner.id
                    && r.needs.first() == Some(&step.need)
                    && service_of(r) == Some(chosen.service.id.as_str())
            })
            .collect();
        // Something live or completed stands for the step: nothing to re-route.
        if mine.iter().any(|r| !r.state.is_final() || r.state == TaskState::Completed) {
            continue;
        }
        let Some(refused) = mine
            .iter()
            .filter(|r| matches!(r.state, TaskState::Rejected | TaskState::Failed))
            .max_by_key(|r| r.state_changed_at)
        else {
            continue;
        };
        let tried: HashSet<(&str, &str)> = referrals
            .iter()
            .filter(|r| r.needs.first() == Some(&step.need))
            .filter_map(|r| service_of(r).map(|s| (r.partner_id.as_str(), s)))
            .collect();
        let to = step
            .fallbacks()
            .iter()
            .find(|f| {
                !tried.contains(&(f.chosen.partner.id.as_str(), f.chosen.service.id.as_str()))
            })
            .cloned();
        let consent_covers = to
            .as_ref()
            .is_some_and(|f| case.consent.cover(&f.chosen.partner.id, need).allows_referral());
        out.push(RerouteProposal {
            referral_id: refused.id.to_string(),
            step: step.order,
            need_id: step.need_id.clone(),
            need: step.need,
            from: chosen.partner.clone(),
            state: refused.state,
            reason: refused.reason,
            to,
            consent_covers,
        });
    }
    out
}

/// The service a referral was sent to (from its payload; unknown once its case is erased).
fn service_of(referral: &StoredReferral) -> Option<&str> {
    referral.referral.as_ref().map(|r| r.service.id.as_str())
}

const PATHFINDER: &[Role] = &[Role::Pathfinder];

/// `GET /v1/cases/{id}/reroutes`: what to try next for each refused referral.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Reroutes>, ApiError> {
    let stored =
        crate::routes::cases::owned_case(&state, &caller, &id, AuditAction::PlanRead).await?;
    let Some(plan) = state.store().latest_plan(&stored.id).await.map_err(ApiError::from_store)?
    else {
        return Ok(Json(Reroutes { plan_version: 0, proposals: Vec::new() }));
    };
    let referrals =
        state.store().referrals_of_case(&stored.id).await.map_err(ApiError::from_store)?;
    Ok(Json(Reroutes {
        plan_version: plan.plan.version,
        proposals: proposals(&stored.case, &plan.plan, &referrals),
    }))
}

/// `POST /v1/referrals/{id}/reroute`: accepts the proposal for a refused referral: the plan
/// chooses the fallback and the step is referred to it, under an idempotency key of its own
/// (`reroute-{id}`), so a repeat cannot refer twice.
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(PATHFINDER)?;
    let Some(referral_id) = ReferralId::parse(&id) else {
        return Err(ApiError::not_found("referral"));
    };
    let access = crate::access::ReferralAccess::decide(
        state.store().as_ref(),
        &caller.organisation,
        &referral_id,
    )
    .await
    .map_err(ApiError::from_store)?;
    let crate::access::ReferralAccess::Owner(referral) = access else {
        return Err(ApiError::not_found("referral"));
    };
    let stored = state
        .store()
        .get_case(&referral.case_id)
        .await
        .map_err(ApiError::from_store)?
        .ok_or_else(|| ApiError::not_found("referral"))?;
    reroute(&state, &caller, &stored, &referral_id).await
}

/// Amends the newest plan of `stored` to the next fallback of `referral_id`'s step and refers
/// that step; the referral intake's answer.
pub(crate) async fn reroute(
    state: &AppState,
    caller: &Caller,
    stored: &StoredCase,
    referral_id: &ReferralId,
) -> Result<Response, ApiError> {
    let newest =
        state.store().latest_plan(&stored.id).await.map_err(ApiError::from_store)?.ok_or_else(
            || ApiError::new(StatusCode::CONFLICT, "no_plan", "this case has no plan"),
        )?;
    let referrals =
        state.store().referrals_of_case(&stored.id).await.map_err(ApiError::from_store)?;
    let all = proposals(&stored.case, &newest.plan, &referrals);
    let Some(proposal) = all.into_iter().find(|p| p.referral_id == referral_id.as_str()) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "nothing_to_reroute",
            "this referral's step has nothing to re-route: it was not refused, or it has been \
             re-routed already (read the plan)",
        ));
    };
    let Some(to) = proposal.to else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_fallback",
            format!(
                "the plan kept no other service for step {} that has not been tried: plan \
                 again (POST /v1/cases/{{id}}/plan) to ask the partners afresh",
                proposal.step
            ),
        ));
    };
    let amendment = Amendment::Choose {
        need_id: proposal.need_id.clone(),
        partner_id: to.chosen.partner.id.clone(),
        service_id: to.chosen.service.id.clone(),
    };
    let body = serde_json::json!({
        "version": newest.plan.version,
        "reason": format!("re-routed after {} {}", proposal.from.name, proposal.state.as_str()),
        "amendments": [amendment],
    });
    let path = Path(stored.id.to_string());
    let bytes =
        axum::body::Bytes::from(serde_json::to_vec(&body).map_err(|_| ApiError::internal())?);
    let plan = crate::routes::cases::amend_plan(
        State(state.clone()),
        caller.clone(),
        path,
        JsonBody(Ok(bytes)),
    )
    .await?
    .0;
    let order = plan
        .steps
        .iter()
        .find(|s| s.need_id == proposal.need_id)
        .map(|s| s.order)
        .ok_or_else(ApiError::internal)?;
    let mut headers = HeaderMap::new();
    let key = format!("reroute-{referral_id}");
    headers
        .insert("idempotency-key", HeaderValue::from_str(&key).map_err(|_| ApiError::internal())?);
    let refer = serde_json::json!({ "steps": [order] });
    let bytes =
        axum::body::Bytes::from(serde_json::to_vec(&refer).map_err(|_| ApiError::internal())?);
    super::create(
        State(state.clone()),
        caller.clone(),
        Path(stored.id.to_string()),
        headers,
        JsonBody(Ok(bytes)),
    )
    .await
}

/// The automatic re-router (`reroute = "auto"`): looks at referrals rejected or failed since
/// it last looked, and re-routes each step whose fallback the case's consent covers.
pub(crate) async fn run(state: AppState, tick: Duration, mut stopped: watch::Receiver<bool>) {
    // On start, the last day: a daemon that was down meanwhile catches up; a step already
    // re-routed has no proposal any more, so looking twice does nothing twice.
    let mut since: DateTime<Utc> = Utc::now() - chrono::Duration::days(1);
    loop {
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
        let mut newest = since;
        for ended in [TaskState::Rejected, TaskState::Failed] {
            let found = match state.store().referrals_entered(ended, since, 500).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list refused referrals to re-route");
                    continue;
                }
            };
            for referral in found {
                newest = newest.max(referral.since);
                auto_reroute(&state, &referral.case_id, &referral.referral_id).await;
            }
        }
        since = newest;
    }
}

async fn auto_reroute(state: &AppState, case_id: &CaseId, referral_id: &ReferralId) {
    let Ok(Some(stored)) = state.store().get_case(case_id).await else { return };
    let Ok(Some(plan)) = state.store().latest_plan(case_id).await else { return };
    let Ok(referrals) = state.store().referrals_of_case(case_id).await else { return };
    let proposal = proposals(&stored.case, &plan.plan, &referrals)
        .into_iter()
        .find(|p| p.referral_id == referral_id.as_str());
    let Some(proposal) = proposal.filter(|p| p.to.is_some()) else { return };
    if !proposal.consent_covers {
        tracing::info!(referral_id = %referral_id,
            "re-route proposed, not made: the case's consent does not cover the next partner");
        return;
    }
    let caller = Caller {
        key_id: "system:reroute".into(),
        organisation: stored.organisation.clone(),
        role: Role::Pathfinder,
        operator: false,
    };
    match reroute(state, &caller, &stored, referral_id).await {
        Ok(_) => tracing::info!(referral_id = %referral_id, case_id = %case_id,
            "re-routed to the plan's next service"),
        Err(e) => tracing::warn!(referral_id = %referral_id, code = e.code,
            "could not re-route automatically; the proposal waits for the pathfinder"),
    }
}
