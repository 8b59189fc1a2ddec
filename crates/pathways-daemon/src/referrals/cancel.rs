//! `POST /v1/referrals/{id}/cancel`: the owner's pathfinder withdraws a referral.
//!
//! A referral still queued (not being sent right now) is withdrawn at once: nothing reaches
//! the partner, and the answer is `200` with the referral `cancelled`. One being sent or
//! already delivered gets a cancel the dispatcher sends to the partner through its connector
//! (retried like a send): `202`, the referral's state changes when the partner answers. A
//! partner whose system cannot take a cancel (its connector says "not supported") has the
//! referral cancelled here with a note that the partner must be told by phone. Asking again
//! answers how the first cancel stands; a referral already in a final state is `409
//! already_final`. Only the organisation that owns the case may cancel; any other sees 404.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use pathways_core::CancelReason;
use pathways_store::{
    AuditAction, AuditOutcome, CancelOrder, CancelRequested, CancelState, ReferralId,
};
use serde::Deserialize;

use super::audit;
use super::view::chase_before;
use crate::access::{ReferralAccess, ReferralView};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::routes::JsonBody;
use crate::state::AppState;

const CANCELLERS: &[Role] = &[Role::Pathfinder];
const ACTION: AuditAction = AuditAction::ReferralCancel;
/// The longest note kept with a cancel, in characters.
pub const NOTE_MAX: usize = 1000;

/// Why the referral is withdrawn.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Why, as the partner is told it.
    pub reason: CancelReason,
    /// The pathfinder's own words, kept with the referral (sealed) and never sent to the
    /// partner; at most 1,000 characters.
    #[serde(default)]
    #[schemars(length(max = 1000))]
    pub note: Option<String>,
}

/// What a cancel did: the answer's status and the referral as it stands.
#[derive(Debug)]
pub struct Cancelled {
    /// `200` when settled (withdrawn before sending, or asked before and settled), `202` when
    /// the partner is still to be told.
    pub status: StatusCode,
    /// The owner's view, with its `cancellation`.
    pub referral: ReferralView,
}

impl IntoResponse for Cancelled {
    fn into_response(self) -> Response {
        (self.status, Json(self.referral)).into_response()
    }
}

/// `POST /v1/referrals/{id}/cancel`
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Cancelled, ApiError> {
    let referral_id = ReferralId::parse(&id);
    if let Err(e) = caller.require(CANCELLERS) {
        audit(&state, &caller, ACTION, (None, referral_id.as_ref()), AuditOutcome::Forbidden).await;
        return Err(e);
    }
    let Some(referral_id) = referral_id else {
        return Err(ApiError::not_found("referral"));
    };
    let access = ReferralAccess::decide(state.store().as_ref(), &caller.organisation, &referral_id)
        .await
        .map_err(ApiError::from_store)?;
    let ReferralAccess::Owner(stored) = access else {
        let outcome = AuditOutcome::NotVisible;
        audit(&state, &caller, ACTION, (None, Some(&referral_id)), outcome).await;
        return Err(ApiError::not_found("referral"));
    };
    let case_id = stored.case_id.clone();
    let ids = (Some(&case_id), Some(&referral_id));
    let body = body.and_then(|bytes| {
        serde_json::from_slice::<CancelBody>(&bytes)
            .map_err(|e| ApiError::bad_request("invalid_request", format!("the body: {e}")))
    });
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            audit(&state, &caller, ACTION, ids, AuditOutcome::Invalid).await;
            return Err(e);
        }
    };
    let note = body.note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > NOTE_MAX) {
        audit(&state, &caller, ACTION, ids, AuditOutcome::Invalid).await;
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("the body at `note`: at most {NOTE_MAX} characters"),
        ));
    }
    let order = CancelOrder { reason: body.reason, note, requested_by: caller.key_id.clone() };
    let done = state
        .store()
        .request_cancel(&referral_id, &order, Utc::now())
        .await
        .map_err(ApiError::from_store)?
        .ok_or_else(|| ApiError::not_found("referral"))?;
    let (status, outcome) = match done {
        CancelRequested::Withdrawn => (StatusCode::OK, AuditOutcome::Withdrawn),
        CancelRequested::Queued => (StatusCode::ACCEPTED, AuditOutcome::CancelQueued),
        CancelRequested::Already(CancelState::Pending) => {
            (StatusCode::ACCEPTED, AuditOutcome::Replayed)
        }
        CancelRequested::Already(_) => (StatusCode::OK, AuditOutcome::Replayed),
        CancelRequested::Final(final_state) => {
            audit(&state, &caller, ACTION, ids, AuditOutcome::AlreadyFinal).await;
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_final",
                format!(
                    "the referral is already {}: there is nothing to cancel",
                    final_state.as_str()
                ),
            ));
        }
    };
    audit(&state, &caller, ACTION, ids, outcome).await;
    if outcome == AuditOutcome::CancelQueued {
        tracing::info!(referral_id = %referral_id, reason = body.reason.as_str(),
            "cancel queued for the partner");
    }
    let stored = state
        .store()
        .get_referral(&referral_id)
        .await
        .map_err(ApiError::from_store)?
        .ok_or_else(|| ApiError::not_found("referral"))?;
    Ok(Cancelled { status, referral: ReferralView::new(stored, chase_before(&state)) })
}
