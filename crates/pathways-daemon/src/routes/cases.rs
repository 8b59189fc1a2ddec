//! Cases and their plans: create, read, plan, read the plan.
//!
//! What a caller sees is decided by [`CaseAccess`] (`crate::access`): the owner the whole
//! case, a partner organisation the referrals delivered to it, anyone else a 404 exactly like
//! a missing case, so ids cannot be probed. Only the owner plans. Every action is written to
//! the audit log with the key, the organisation, the case id and the outcome, never with
//! anything from the case.

use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use chrono::Utc;
use pathways_core::parse_case;
use pathways_store::{AuditAction, AuditEntry, AuditOutcome, CaseId, StoredCase};

use super::body::JsonBody;
use crate::access::{CaseAccess, CaseView, OwnerCaseView};
use crate::api::CaseCreated;
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::state::AppState;

const PATHFINDER: &[Role] = &[Role::Pathfinder];

/// `POST /v1/cases`
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, HeaderMap, Json<CaseCreated>), ApiError> {
    if let Err(e) = caller.require(PATHFINDER) {
        audit(&state, &caller, AuditAction::CaseCreate, None, AuditOutcome::Forbidden).await;
        return Err(e);
    }
    let case = match body.and_then(|bytes| {
        // The message names the field and may quote the caller's own value; it goes back to
        // the caller only, never to the log.
        parse_case(&bytes).map_err(|e| {
            // Well-formed, but breaking a rule across fields the schema cannot state: 422.
            let status = if e.cross_field {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::BAD_REQUEST
            };
            ApiError::new(status, "invalid_case", e.to_string())
        })
    }) {
        // The lead of a plan defaults to the referring organisation, and the owner reads the
        // whole case: so a key may only create cases its own organisation refers.
        Ok(case) if case.referrer.organisation != caller.organisation => {
            audit(&state, &caller, AuditAction::CaseCreate, None, AuditOutcome::Forbidden).await;
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "at `referrer.organisation`: this key may only create cases of `{}`, its own \
                     organisation",
                    caller.organisation
                ),
            ));
        }
        Ok(case) => case,
        Err(e) => {
            audit(&state, &caller, AuditAction::CaseCreate, None, AuditOutcome::Invalid).await;
            return Err(e);
        }
    };
    let id = state
        .store()
        .insert_case(&caller.organisation, &case)
        .await
        .map_err(ApiError::from_store)?;
    audit(&state, &caller, AuditAction::CaseCreate, Some(&id), AuditOutcome::Ok).await;
    tracing::info!(case_id = %id, "case created");
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/cases/{id}")) {
        headers.insert(header::LOCATION, location);
    }
    let body = CaseCreated { id: id.to_string(), organisation: caller.organisation.clone() };
    Ok((StatusCode::CREATED, headers, Json(body)))
}

/// `GET /v1/cases/{id}`: the owner's view, or a partner organisation's.
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    const ACTION: AuditAction = AuditAction::CaseRead;
    let (case_id, access) = case_access(&state, &caller, &id, ACTION).await?;
    match access {
        CaseAccess::Owner(stored) => {
            let referrals =
                state.store().referrals_of_case(&case_id).await.map_err(ApiError::from_store)?;
            audit(&state, &caller, ACTION, Some(&case_id), AuditOutcome::Ok).await;
            Ok(Json(CaseView::Owner(OwnerCaseView::new(*stored, &referrals))))
        }
        CaseAccess::Partner(view) => {
            audit(&state, &caller, ACTION, Some(&case_id), AuditOutcome::OkPartnerView).await;
            Ok(Json(CaseView::Partner(view)))
        }
        CaseAccess::None => {
            audit(&state, &caller, ACTION, Some(&case_id), AuditOutcome::NotVisible).await;
            Err(ApiError::not_found("case"))
        }
    }
}

/// `POST /v1/cases/{id}/plan`: asks the partners again and stores the next version, keeping
/// the amendments of the previous one that still apply (the plan says which it dropped).
pub async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<pathways_core::ActionPlan>), ApiError> {
    let plan = plan_observed(&state, &caller, &id, None).await?;
    Ok((StatusCode::CREATED, Json(plan)))
}

/// [`plan`], telling `observer` of each partner's answer as it arrives (the console shows
/// them live).
pub(crate) async fn plan_observed(
    state: &AppState,
    caller: &Caller,
    id: &str,
    observer: Option<pathways_orchestrator::AnswerObserver<'_>>,
) -> Result<pathways_core::ActionPlan, ApiError> {
    let (state, caller) = (state.clone(), caller.clone());
    let stored = owned_case(&state, &caller, id, AuditAction::PlanCreate).await?;
    let previous = state.store().latest_plan(&stored.id).await.map_err(ApiError::from_store)?;
    // One snapshot for the whole plan: a reload meanwhile does not change its partners.
    let live = state.live();
    let started = Instant::now();
    let today = chrono::Local::now().date_naive();
    let previous = previous.as_ref().map(|p| &p.plan);
    let (mut plan, answers) =
        live.orchestrator.replan_observed(&stored.case, previous, today, observer).await;
    state.metrics().plan(started.elapsed());
    for report in &plan.partners {
        let took = std::time::Duration::from_millis(report.latency_ms);
        state.metrics().partner_call(&report.partner_id, report.outcome, took);
    }
    plan.case_id = stored.id.to_string();
    let basis = serde_json::to_value(&answers).map_err(|_| ApiError::internal())?;
    state.store().insert_plan(&stored.id, &plan, &basis).await.map_err(ApiError::from_store)?;
    audit(&state, &caller, AuditAction::PlanCreate, Some(&stored.id), AuditOutcome::Ok).await;
    tracing::info!(case_id = %stored.id, version = plan.version, steps = plan.steps.len(),
        unmet = plan.unmet().count(), partners = plan.partners.len(), "plan stored");
    Ok(plan)
}

/// `GET /v1/cases/{id}/plan` query: which version.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    /// An earlier version (1 is the first plan); the newest when left out.
    #[schemars(range(min = 1, max = 4294967295u64))]
    version: Option<u32>,
}

impl PlanQuery {
    /// The newest version (`None`) or version `version`.
    pub fn new(version: Option<u32>) -> Self {
        Self { version }
    }
}

/// `GET /v1/cases/{id}/plan`: the newest version, or `?version=n`.
pub async fn read_plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<PlanQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<pathways_core::ActionPlan>, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::bad_request("invalid_query", format!("`version` is a number from 1: {e}"))
    })?;
    if query.version == Some(0) {
        return Err(ApiError::bad_request("invalid_query", "`version` is a number from 1"));
    }
    let stored = owned_case(&state, &caller, &id, AuditAction::PlanRead).await?;
    let found = match query.version {
        None => state.store().latest_plan(&stored.id).await.map_err(ApiError::from_store)?,
        Some(version) => state
            .store()
            .plans_of_case(&stored.id)
            .await
            .map_err(ApiError::from_store)?
            .into_iter()
            .find(|p| p.plan.version == version),
    };
    match found {
        Some(plan) => {
            audit(&state, &caller, AuditAction::PlanRead, Some(&stored.id), AuditOutcome::Ok).await;
            Ok(Json(plan.plan))
        }
        None => {
            audit(&state, &caller, AuditAction::PlanRead, Some(&stored.id), AuditOutcome::NoPlan)
                .await;
            let message = match query.version {
                Some(v) => format!("this case has no plan version {v}"),
                None => "this case has no plan yet: POST /v1/cases/{id}/plan makes one".into(),
            };
            Err(ApiError::new(StatusCode::NOT_FOUND, "no_plan", message))
        }
    }
}

/// `PATCH /v1/cases/{id}/plan` body: changes made with the client to the newest version.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanAmendments {
    /// The version the changes were made to: must be the newest, so two pathfinders cannot
    /// overwrite each other's changes unseen (409 otherwise).
    pub version: crate::referrals::Ordinal,
    /// Why, in the pathfinder's words (kept in the plan's history).
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub reason: Option<String>,
    /// The changes, applied in order; all or none.
    #[schemars(length(min = 1, max = 50))]
    pub amendments: Vec<pathways_core::Amendment>,
}

/// `PATCH /v1/cases/{id}/plan`: the next version, with the amendments, from the answers the
/// newest version was made from (partners are not asked again).
pub async fn amend_plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<pathways_core::ActionPlan>, ApiError> {
    const ACTION: AuditAction = AuditAction::PlanAmend;
    let stored = owned_case(&state, &caller, &id, ACTION).await?;
    let bytes = body?;
    let request: PlanAmendments = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("the body: {e}")))?;
    if request.amendments.is_empty() || request.amendments.len() > 50 {
        return Err(ApiError::bad_request("invalid_request", "give 1 to 50 amendments"));
    }
    let Some(newest) = state.store().latest_plan(&stored.id).await.map_err(ApiError::from_store)?
    else {
        audit(&state, &caller, ACTION, Some(&stored.id), AuditOutcome::NoPlan).await;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_plan",
            "this case has no plan yet: POST /v1/cases/{id}/plan makes one",
        ));
    };
    if newest.plan.version != request.version.0 {
        audit(&state, &caller, ACTION, Some(&stored.id), AuditOutcome::VersionConflict).await;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            AuditOutcome::VersionConflict.as_str(),
            format!(
                "the newest plan is version {}, not {}: read it (GET /v1/cases/{{id}}/plan) and amend that",
                newest.plan.version, request.version.0
            ),
        ));
    }
    let answers: Vec<pathways_orchestrator::PartnerAnswer> =
        serde_json::from_value(newest.basis.clone()).unwrap_or_default();
    // The person who made the change: the key's worker (the console will name the signed-in
    // person).
    let by = format!("{}:{}", caller.organisation, caller.key_id);
    let who = pathways_orchestrator::Amender {
        by: &by,
        reason: request.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()),
        at: Utc::now(),
    };
    let live = state.live();
    let amended =
        live.orchestrator.amend(&stored.case, &answers, &newest.plan, request.amendments, &who);
    let mut plan = match amended {
        Ok(plan) => plan,
        Err(e) => {
            audit(&state, &caller, ACTION, Some(&stored.id), AuditOutcome::AmendmentRefused).await;
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                AuditOutcome::AmendmentRefused.as_str(),
                e.to_string(),
            ));
        }
    };
    plan.case_id = stored.id.to_string();
    state
        .store()
        .insert_plan(&stored.id, &plan, &newest.basis)
        .await
        .map_err(ApiError::from_store)?;
    audit(&state, &caller, ACTION, Some(&stored.id), AuditOutcome::Ok).await;
    tracing::info!(case_id = %stored.id, version = plan.version, "plan amended");
    Ok(Json(plan))
}

/// What the caller may see of case `id`, after checking its role (a pathfinder's key); an
/// id that cannot exist is the same 404 as a missing case.
async fn case_access(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: AuditAction,
) -> Result<(CaseId, CaseAccess), ApiError> {
    if let Err(e) = caller.require(PATHFINDER) {
        audit(state, caller, action, CaseId::parse(id).as_ref(), AuditOutcome::Forbidden).await;
        return Err(e);
    }
    let Some(case_id) = CaseId::parse(id) else {
        audit(state, caller, action, None, AuditOutcome::NotFound).await;
        return Err(ApiError::not_found("case"));
    };
    let access = CaseAccess::decide(state.store().as_ref(), &caller.organisation, &case_id)
        .await
        .map_err(ApiError::from_store)?;
    Ok((case_id, access))
}

/// The case `id` if the caller's organisation owns it; otherwise the same 404 as for a
/// missing case (a partner organisation never plans).
pub(crate) async fn owned_case(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: AuditAction,
) -> Result<StoredCase, ApiError> {
    let (case_id, access) = case_access(state, caller, id, action).await?;
    match access.owned() {
        Some(stored) => Ok(stored),
        None => {
            // The audit log tells the operator what the caller must not learn.
            audit(state, caller, action, Some(&case_id), AuditOutcome::NotVisible).await;
            Err(ApiError::not_found("case"))
        }
    }
}

/// Appends to the audit log. A failure is logged loudly but does not fail the request: the
/// action has happened by then, and answering an error would invite a retry that repeats it.
pub(crate) async fn audit(
    state: &AppState,
    caller: &Caller,
    action: AuditAction,
    case_id: Option<&CaseId>,
    outcome: AuditOutcome,
) {
    let entry = AuditEntry {
        at: Utc::now(),
        key_id: caller.key_id.clone(),
        organisation: caller.organisation.clone(),
        action,
        case_id: case_id.cloned(),
        referral_id: None,
        outcome,
    };
    if let Err(e) = state.store().append_audit(&entry).await {
        tracing::error!(error = %e, %action, %outcome, "cannot write the audit log");
        state.metrics().audit_failure();
    }
}
