//! `GET /v1/referrals/{id}`: what the caller's organisation may see of a referral, as
//! [`ReferralAccess`] (`crate::access`) decides: the owner of its case gets its state, history
//! and dispatch state (not the payload: the personal data is read from the case); the partner
//! it was delivered to gets its state and exactly what it was sent; anyone else gets the same
//! 404 as for a missing referral.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use pathways_store::{AuditAction, AuditOutcome, ReferralId};

use super::audit;
use crate::access::{ReferralAccess, ReferralView, ReferralViews};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::state::AppState;

const READERS: &[Role] = &[Role::Pathfinder, Role::Coordinator, Role::Partner];
const ACTION: AuditAction = AuditAction::ReferralRead;

/// `GET /v1/referrals/{id}`
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ReferralViews>, ApiError> {
    let referral_id = ReferralId::parse(&id);
    if let Err(e) = caller.require(READERS) {
        audit(&state, &caller, ACTION, (None, referral_id.as_ref()), AuditOutcome::Forbidden).await;
        return Err(e);
    }
    let Some(referral_id) = referral_id else {
        return Err(ApiError::not_found("referral"));
    };
    let access = ReferralAccess::decide(state.store().as_ref(), &caller.organisation, &referral_id)
        .await
        .map_err(ApiError::from_store)?;
    match access {
        ReferralAccess::Owner(stored) => {
            audit(
                &state,
                &caller,
                ACTION,
                (Some(&stored.case_id), Some(&referral_id)),
                AuditOutcome::Ok,
            )
            .await;
            Ok(Json(ReferralViews::Owner(ReferralView::new(*stored, chase_before(&state)))))
        }
        ReferralAccess::Partner(view) => {
            let case_id = view.case_id();
            audit(
                &state,
                &caller,
                ACTION,
                (case_id.as_ref(), Some(&referral_id)),
                AuditOutcome::OkPartnerView,
            )
            .await;
            Ok(Json(ReferralViews::Partner(*view)))
        }
        ReferralAccess::None => {
            audit(&state, &caller, ACTION, (None, Some(&referral_id)), AuditOutcome::NotVisible)
                .await;
            Err(ApiError::not_found("referral"))
        }
    }
}

/// A referral still `requested` since before this should be chased (`dispatch.chase_after`).
pub(crate) fn chase_before(state: &AppState) -> DateTime<Utc> {
    let chase_after = chrono::Duration::from_std(state.dispatch_settings().chase_after)
        .unwrap_or(chrono::Duration::MAX);
    Utc::now().checked_sub_signed(chase_after).unwrap_or(DateTime::<Utc>::MIN_UTC)
}
