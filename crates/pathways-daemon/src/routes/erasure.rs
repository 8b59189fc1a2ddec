//! A client's rights over their data (UK GDPR): erasure (`DELETE /v1/cases/{id}`, Art. 17),
//! subject access (`GET /v1/cases/{id}/export`, Art. 15), and the legal hold that stops
//! erasure while a safeguarding enquiry or litigation needs the record
//! (`PUT`/`DELETE /v1/cases/{id}/legal-hold`).
//!
//! Erasure and export are for the owner's pathfinders and for admins (of the owning
//! organisation, or of the operator); holds are for admins only. Anyone else gets the same
//! 404 as for a missing case.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use pathways_store::{
    AuditAction, AuditOutcome, CaseId, ErasureReason, LegalHold, StoreError, StoredCase,
};
use serde::Deserialize;

use super::body::JsonBody;
use super::cases::audit;
use crate::access::SubjectAccessExport;
use crate::api::{Erased, LegalHoldState};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::state::AppState;

/// The body of `DELETE /v1/cases/{id}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// Why: `client_request`, `entered_in_error`, `retention_expired` or `other`.
    pub reason: ErasureReason,
}

/// The body of `PUT /v1/cases/{id}/legal-hold`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// Why the record must be kept (sealed at rest, shown to the owner and admins only): 1 to
    /// 500 characters, not all spaces.
    #[schemars(length(min = 1, max = 500), regex(pattern = r"\S"))]
    pub reason: String,
}

/// Who may do what to a case's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// The owner's pathfinders and the admins.
    OwnerOrAdmin,
    /// Admins only.
    Admin,
}

/// The case `id` if the caller may manage its record as `who` says; otherwise the same 404 as
/// for a missing case (403 for a role that may never do this).
async fn managed_case(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: AuditAction,
    who: Who,
) -> Result<StoredCase, ApiError> {
    let roles: &[Role] = match who {
        Who::OwnerOrAdmin => &[Role::Pathfinder, Role::Admin],
        Who::Admin => &[Role::Admin],
    };
    if let Err(e) = caller.require(roles) {
        audit(state, caller, action, CaseId::parse(id).as_ref(), AuditOutcome::Forbidden).await;
        return Err(e);
    }
    let Some(case_id) = CaseId::parse(id) else {
        audit(state, caller, action, None, AuditOutcome::NotFound).await;
        return Err(ApiError::not_found("case"));
    };
    let stored = state.store().get_case(&case_id).await.map_err(ApiError::from_store)?;
    let allowed = stored.as_ref().is_some_and(|case| {
        caller.is_admin_for(&case.organisation)
            || (who == Who::OwnerOrAdmin
                && caller.role == Role::Pathfinder
                && caller.organisation == case.organisation)
    });
    match stored {
        Some(case) if allowed => Ok(case),
        Some(_) => {
            audit(state, caller, action, Some(&case_id), AuditOutcome::NotVisible).await;
            Err(ApiError::not_found("case"))
        }
        None => {
            audit(state, caller, action, Some(&case_id), AuditOutcome::NotFound).await;
            Err(ApiError::not_found("case"))
        }
    }
}

/// `DELETE /v1/cases/{id}`: erases the client's personal data from every table at once.
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Erased>, ApiError> {
    const ACTION: AuditAction = AuditAction::CaseErase;
    let case = managed_case(&state, &caller, &id, ACTION, Who::OwnerOrAdmin).await?;
    let request: ErasureRequest = body.and_then(|bytes| {
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(
                "invalid_request",
                format!(
                    "the body must be {{\"reason\": …}} with one of client_request, \
                     entered_in_error, retention_expired, other: {e}"
                ),
            )
        })
    })?;
    match state.store().erase_case(&case.id, request.reason, Utc::now()).await {
        Ok(erasure) => {
            audit(&state, &caller, ACTION, Some(&case.id), AuditOutcome::erased(request.reason))
                .await;
            tracing::info!(case_id = %case.id, referrals = erasure.referrals,
                cancelled = erasure.cancelled, plans = erasure.plans, "case erased");
            Ok(Json(Erased {
                id: case.id.to_string(),
                erased: true,
                reason: request.reason,
                referrals_erased: erasure.referrals,
                queued_referrals_cancelled: erasure.cancelled,
                plans_removed: erasure.plans,
            }))
        }
        Err(StoreError::LegalHold { since, reason, .. }) => {
            audit(&state, &caller, ACTION, Some(&case.id), AuditOutcome::LegalHold).await;
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "legal_hold",
                format!(
                    "this case is under a legal hold set at {since} (\"{reason}\"); an admin must \
                     lift it (DELETE /v1/cases/{{id}}/legal-hold) before it can be erased"
                ),
            ))
        }
        // Erased meanwhile by another request.
        Err(StoreError::UnknownCase(_)) => Err(ApiError::not_found("case")),
        Err(e) => Err(ApiError::from_store(e)),
    }
}

/// `GET /v1/cases/{id}/export`: everything held about the client of the case.
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SubjectAccessExport>, ApiError> {
    const ACTION: AuditAction = AuditAction::CaseExport;
    let case = managed_case(&state, &caller, &id, ACTION, Who::OwnerOrAdmin).await?;
    let store = state.store();
    let plans = store.plans_of_case(&case.id).await.map_err(ApiError::from_store)?;
    let referrals = store.referrals_of_case(&case.id).await.map_err(ApiError::from_store)?;
    audit(&state, &caller, ACTION, Some(&case.id), AuditOutcome::Ok).await;
    let case_id = case.id.clone();
    tracing::info!(case_id = %case_id, "subject access export");
    Ok(Json(SubjectAccessExport::new(case, plans, referrals, Utc::now())))
}

/// `PUT /v1/cases/{id}/legal-hold`: sets a hold; erasure is refused while it stands.
pub async fn set_hold(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<LegalHoldState>, ApiError> {
    const ACTION: AuditAction = AuditAction::CaseHold;
    let case = managed_case(&state, &caller, &id, ACTION, Who::Admin).await?;
    let request: HoldRequest = body.and_then(|bytes| {
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(
                "invalid_request",
                format!("the body must be {{\"reason\": \"…\"}}: {e}"),
            )
        })
    })?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::bad_request(
            "invalid_request",
            "at `reason`: say why the record must be kept, in 1 to 500 characters",
        ));
    }
    let hold =
        LegalHold { reason: reason.to_string(), set_by: caller.key_id.clone(), set_at: Utc::now() };
    let set_at = hold.set_at;
    match state.store().set_legal_hold(&case.id, Some(hold)).await {
        Ok(()) => {
            audit(&state, &caller, ACTION, Some(&case.id), AuditOutcome::Ok).await;
            Ok(Json(LegalHoldState {
                id: case.id.to_string(),
                legal_hold: true,
                set_at: Some(set_at),
                set_by: Some(caller.key_id.clone()),
            }))
        }
        Err(StoreError::UnknownCase(_)) => Err(ApiError::not_found("case")),
        Err(e) => Err(ApiError::from_store(e)),
    }
}

/// `DELETE /v1/cases/{id}/legal-hold`: lifts the hold.
pub async fn lift_hold(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LegalHoldState>, ApiError> {
    const ACTION: AuditAction = AuditAction::CaseHoldLift;
    let case = managed_case(&state, &caller, &id, ACTION, Who::Admin).await?;
    match state.store().set_legal_hold(&case.id, None).await {
        Ok(()) => {
            audit(&state, &caller, ACTION, Some(&case.id), AuditOutcome::Ok).await;
            Ok(Json(LegalHoldState {
                id: case.id.to_string(),
                legal_hold: false,
                set_at: None,
                set_by: None,
            }))
        }
        Err(StoreError::UnknownCase(_)) => Err(ApiError::not_found("case")),
        Err(e) => Err(ApiError::from_store(e)),
    }
}
