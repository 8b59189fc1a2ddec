//! `PUT /v1/cases/{id}/consent`: the client withdraws, narrows or widens their consent.
//!
//! The new consent (who recorded it, when, on what basis, with whom) replaces the case's, and
//! the one it replaces is kept in the case's consent history. Every live referral the new
//! consent no longer covers (none of its needs may go to its partner now, protective sharing
//! under vital interests or safeguarding aside) is cancelled as `POST
//! /v1/referrals/{id}/cancel` would with the reason `consent_withdrawn`: withdrawn at once if
//! not yet sent, else through the partner's connector. Later plans and referrals read the new
//! consent: a step it does not cover is planned as needing consent and refused at referral.

use axum::extract::{Path, State};
use axum::Json;
use chrono::Utc;
use pathways_core::{CancelReason, Consent, DutyToRefer, LawfulBasis, ShareWith};
use pathways_store::{AuditAction, AuditOutcome, CancelOrder, CancelRequested, StoredReferral};
use serde::{Deserialize, Serialize};

use super::body::JsonBody;
use super::cases::{audit, owned_case};
use crate::access::OwnerCaseView;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The client's consent as it now stands.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChange {
    /// The lawful basis for sharing.
    pub lawful_basis: LawfulBasis,
    /// With whom the client now agrees their details may be shared.
    pub share_with: ShareWith,
    /// The worker recording it (default: the caller: the key id, or the signed-in person).
    #[serde(default)]
    #[schemars(regex(pattern = r"\S"))]
    pub recorded_by: Option<String>,
    /// The Duty to Refer answers, when they change; left out, they stay as they were.
    #[serde(default)]
    pub duty_to_refer: Option<DutyToRefer>,
}

/// What became of one referral the new consent no longer covers.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ConsentCancel {
    /// The referral.
    pub id: String,
    /// Its partner.
    pub partner_id: String,
    /// `withdrawn` (it had not been sent), `cancel_queued` (the partner will be told) or
    /// `already_cancelling` (a cancel was asked for before).
    pub outcome: &'static str,
}

/// `200` of `PUT /v1/cases/{id}/consent`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ConsentChanged {
    /// The case as it now stands, its consent history included.
    pub case: OwnerCaseView,
    /// The live referrals the new consent no longer covers, each being cancelled.
    pub cancelled: Vec<ConsentCancel>,
}

/// `PUT /v1/cases/{id}/consent`
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<ConsentChanged>, ApiError> {
    const ACTION: AuditAction = AuditAction::CaseConsent;
    let stored = owned_case(&state, &caller, &id, ACTION).await?;
    let change = body.and_then(|bytes| {
        // Strictly, at every depth: `duty_to_refer` is a type plugins read tolerantly.
        pathways_core::from_json_strict::<ConsentChange>(&bytes, "the consent")
            .map_err(|e| ApiError::bad_request("invalid_request", format!("the body: {e}")))
    });
    let change = match change {
        Ok(change) => change,
        Err(e) => {
            audit(&state, &caller, ACTION, Some(&stored.id), AuditOutcome::Invalid).await;
            return Err(e);
        }
    };
    let recorded_by = change.recorded_by.map(|w| w.trim().to_string());
    if recorded_by.as_deref().is_some_and(str::is_empty) {
        audit(&state, &caller, ACTION, Some(&stored.id), AuditOutcome::Invalid).await;
        return Err(ApiError::bad_request(
            "invalid_request",
            "at `recorded_by`: name the worker recording it (or leave it out)",
        ));
    }
    let consent = Consent {
        lawful_basis: change.lawful_basis,
        share_with: change.share_with,
        recorded_by: recorded_by.unwrap_or_else(|| caller.key_id.clone()),
        recorded_at: Utc::now(),
        duty_to_refer: change.duty_to_refer.or(stored.case.consent.duty_to_refer.clone()),
    };
    if let Err(e) = consent.check("") {
        audit(&state, &caller, ACTION, Some(&stored.id), AuditOutcome::Invalid).await;
        return Err(ApiError::bad_request("invalid_request", e.to_string()));
    }
    let Some(updated) =
        state.store().replace_consent(&stored.id, &consent).await.map_err(ApiError::from_store)?
    else {
        return Err(ApiError::not_found("case"));
    };
    audit(&state, &caller, ACTION, Some(&stored.id), AuditOutcome::Ok).await;
    let referrals =
        state.store().referrals_of_case(&stored.id).await.map_err(ApiError::from_store)?;
    let mut cancelled = Vec::new();
    for referral in referrals.iter().filter(|r| no_longer_covered(&updated.case, r)) {
        let order = CancelOrder {
            reason: CancelReason::ConsentWithdrawn,
            note: None,
            requested_by: caller.key_id.clone(),
        };
        let done = state
            .store()
            .request_cancel(&referral.id, &order, Utc::now())
            .await
            .map_err(ApiError::from_store)?;
        let (outcome, audited) = match done {
            Some(CancelRequested::Withdrawn) => ("withdrawn", AuditOutcome::Withdrawn),
            Some(CancelRequested::Queued) => ("cancel_queued", AuditOutcome::CancelQueued),
            Some(CancelRequested::Already(_)) => ("already_cancelling", AuditOutcome::Replayed),
            // Finished meanwhile: nothing left to withdraw.
            Some(CancelRequested::Final(_)) | None => continue,
        };
        crate::referrals::audit(
            &state,
            &caller,
            AuditAction::ReferralCancel,
            (Some(&stored.id), Some(&referral.id)),
            audited,
        )
        .await;
        cancelled.push(ConsentCancel {
            id: referral.id.to_string(),
            partner_id: referral.partner_id.clone(),
            outcome,
        });
    }
    tracing::info!(case_id = %stored.id, cancelled = cancelled.len(), "consent changed");
    let referrals =
        state.store().referrals_of_case(&stored.id).await.map_err(ApiError::from_store)?;
    Ok(Json(ConsentChanged { case: OwnerCaseView::new(updated, &referrals), cancelled }))
}

/// Whether `referral` is live, not being cancelled already, and none of its needs may now go
/// to its partner under the case's consent.
fn no_longer_covered(case: &pathways_core::Case, referral: &StoredReferral) -> bool {
    if referral.state.is_final() || referral.cancellation.is_some() {
        return false;
    }
    !referral.needs.iter().any(|code| {
        case.needs
            .iter()
            .filter(|need| need.code == *code)
            .any(|need| case.consent.cover(&referral.partner_id, need).allows_referral())
    })
}
