//! `GET /v1/referrals/{id}`: a referral's state, history and dispatch state, without its
//! payload (the personal data stays with the case).
//!
//! Pathfinders and coordinators of the organisation that owns the case see it; anyone else
//! gets the same 404 as for a missing referral.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use pathways_core::{NeedCode, StatusReason, TaskState};
use pathways_store::{DispatchState, ReferralId, StatusChange, StoredReferral};
use serde::Serialize;

use super::{audit, store_failed};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::state::AppState;

const READERS: &[Role] = &[Role::Pathfinder, Role::Coordinator];
const ACTION: &str = "referral.read";

/// A referral as the API shows it.
#[derive(Debug, Serialize)]
pub struct ReferralView {
    id: String,
    case_id: String,
    partner_id: String,
    needs: Vec<NeedCode>,
    state: TaskState,
    reason: Option<StatusReason>,
    state_changed_at: DateTime<Utc>,
    partner_reference: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    /// Still `requested` past `dispatch.chase_after`: the pathfinder should chase the partner.
    needs_chasing: bool,
    history: Vec<StatusChange>,
    dispatch: DispatchState,
}

impl ReferralView {
    /// The view of `stored`, flagged for chasing when `requested` since before `chase_before`.
    pub fn new(stored: StoredReferral, chase_before: DateTime<Utc>) -> Self {
        Self {
            needs_chasing: stored.state == TaskState::Requested
                && stored.state_changed_at < chase_before,
            id: stored.id.to_string(),
            case_id: stored.case_id.to_string(),
            partner_id: stored.partner_id,
            needs: stored.needs,
            state: stored.state,
            reason: stored.reason,
            state_changed_at: stored.state_changed_at,
            partner_reference: stored.partner_reference,
            created_at: stored.created_at,
            sent_at: stored.sent_at,
            history: stored.history,
            dispatch: stored.dispatch,
        }
    }
}

/// `GET /v1/referrals/{id}`
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ReferralView>, ApiError> {
    let referral_id = ReferralId::parse(&id);
    if let Err(e) = caller.require(READERS) {
        audit(&state, &caller, ACTION, (None, referral_id.as_ref()), "forbidden").await;
        return Err(e);
    }
    let Some(referral_id) = referral_id else {
        return Err(ApiError::not_found("referral"));
    };
    let stored = state.store().get_referral(&referral_id).await.map_err(store_failed)?;
    let Some(stored) = stored else {
        audit(&state, &caller, ACTION, (None, Some(&referral_id)), "not_found").await;
        return Err(ApiError::not_found("referral"));
    };
    let case = state.store().get_case(&stored.case_id).await.map_err(store_failed)?;
    if case.map(|c| c.organisation) != Some(caller.organisation.clone()) {
        audit(&state, &caller, ACTION, (Some(&stored.case_id), Some(&referral_id)), "not_visible")
            .await;
        return Err(ApiError::not_found("referral"));
    }
    audit(&state, &caller, ACTION, (Some(&stored.case_id), Some(&referral_id)), "ok").await;
    let chase_after = chrono::Duration::from_std(state.dispatch_settings().chase_after)
        .unwrap_or(chrono::Duration::MAX);
    let chase_before =
        Utc::now().checked_sub_signed(chase_after).unwrap_or(DateTime::<Utc>::MIN_UTC);
    Ok(Json(ReferralView::new(stored, chase_before)))
}
