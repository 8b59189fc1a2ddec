//! What staff of a partner without an API (`kind = "inbox"`) do in the console: answer a
//! referral sent to their organisation and move it on (accept, decline with a reason, in
//! progress, on hold, completed, failed), and say how much capacity they have.
//!
//! An answer is a status change reported by the partner itself, recorded as a callback's is
//! ([`Store::record_referral_status`](pathways_store::Store::record_referral_status)) with
//! source `partner_inbox`, and audited (`referral.partner_update`). Staff reach only the
//! referrals delivered to their own organisation: anything else is answered as missing. Only
//! the moves [`pathways_inbox::transitions`] allows from the referral's state are made.

use axum::http::StatusCode;
use chrono::Utc;
use pathways_core::{StatusReason, TaskState};
use pathways_inbox::transitions;
use pathways_store::{
    AuditAction, AuditEntry, AuditOutcome, CapacityState, PartnerCapacity, ReferralId,
    StatusChange, StatusSource,
};

use crate::access::ReferralAccess;
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::state::AppState;

/// A change of a referral's state asked for by the receiving partner's staff.
#[derive(Clone, PartialEq, Eq)]
pub struct PartnerUpdate {
    /// The new state.
    pub state: TaskState,
    /// Why, for rejected, on-hold and failed.
    pub reason: Option<StatusReason>,
    /// The staff's words for the referrer (never logged).
    pub note: Option<String>,
}

impl std::fmt::Debug for PartnerUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerUpdate")
            .field("state", &self.state)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

/// How many places or people waiting (for the capacity's `count`) a page may say, at most.
pub const COUNT_MAX: u32 = 100_000;

/// The error code of a change the referral's state does not allow (422).
const REFUSED: &str = AuditOutcome::TransitionRefused.as_str();

/// Whether `organisation` is an inbox partner in the live configuration.
pub(crate) fn is_inbox_partner(state: &AppState, organisation: &str) -> bool {
    let live = state.live();
    let partner = live.orchestrator.partners().iter().find(|p| p.id == organisation);
    partner.is_some_and(|p| pathways_inbox::is_inbox(p.partner.manifest()))
}

fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        AuditOutcome::Forbidden.as_str(),
        "only staff of a partner without an API (kind = \"inbox\") answer referrals here",
    )
}

/// Records `update` of referral `id` for `caller`, partner staff of the referral's partner.
/// `Ok(true)` when recorded, `Ok(false)` when it told nothing new (the same state again).
pub(crate) async fn update(
    state: &AppState,
    caller: &Caller,
    id: &ReferralId,
    update: &PartnerUpdate,
) -> Result<bool, ApiError> {
    let (result, case_id) = decide(state, caller, id, update).await;
    let outcome = match &result {
        Ok(true) => AuditOutcome::Recorded,
        Ok(false) => AuditOutcome::Unchanged,
        Err(e) if e.code == REFUSED => AuditOutcome::TransitionRefused,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            if case_id.is_some() {
                AuditOutcome::NotVisible
            } else {
                AuditOutcome::NotFound
            }
        }
        Err(e) => e.audit_outcome(),
    };
    // A referral another organisation's staff may not see is audited without its case.
    let visible = !matches!(outcome, AuditOutcome::NotVisible | AuditOutcome::NotFound);
    let entry = AuditEntry {
        at: Utc::now(),
        key_id: caller.key_id.clone(),
        organisation: caller.organisation.clone(),
        action: AuditAction::ReferralPartnerUpdate,
        case_id: if visible { case_id } else { None },
        referral_id: visible.then(|| id.clone()),
        outcome,
    };
    if let Err(e) = state.store().append_audit(&entry).await {
        tracing::error!(error = %e, "cannot write the audit log");
        state.metrics().audit_failure();
    }
    if let Ok(recorded) = result {
        tracing::info!(referral_id = %id, partner = %caller.organisation, state = ?update.state,
            recorded, "an inbox partner's staff answered a referral");
    }
    result
}

/// The decision and its effect; with the referral's case when the referral exists.
async fn decide(
    state: &AppState,
    caller: &Caller,
    id: &ReferralId,
    update: &PartnerUpdate,
) -> (Result<bool, ApiError>, Option<pathways_store::CaseId>) {
    if caller.role != Role::Partner || !is_inbox_partner(state, &caller.organisation) {
        return (Err(forbidden()), None);
    }
    let store = state.store();
    let view = match ReferralAccess::decide(store.as_ref(), &caller.organisation, id).await {
        Ok(ReferralAccess::Partner(view)) => view,
        Ok(ReferralAccess::Owner(referral)) => {
            return (Err(ApiError::not_found("referral")), Some(referral.case_id))
        }
        Ok(ReferralAccess::None) => {
            // Whether it exists at all, for the audit log only.
            let case = store.get_referral(id).await.ok().flatten().map(|r| r.case_id);
            return (Err(ApiError::not_found("referral")), case);
        }
        Err(e) => return (Err(ApiError::from_store(e)), None),
    };
    let case_id = view.case_id();
    let from = view.state();
    if !transitions::may(from, update.state) {
        let message = format!(
            "a referral that is {} cannot be made {}",
            from.as_str(),
            update.state.as_str()
        );
        return (Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, REFUSED, message)), case_id);
    }
    if transitions::needs_reason(update.state) && update.reason.is_none() {
        let message = format!("a referral made {} needs a reason", update.state.as_str());
        return (Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, REFUSED, message)), case_id);
    }
    if update.note.as_ref().is_some_and(|n| n.chars().count() > transitions::NOTE_MAX) {
        let message = format!("the note must be {} characters or fewer", transitions::NOTE_MAX);
        return (Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, REFUSED, message)), case_id);
    }
    let change = StatusChange {
        state: update.state,
        reason: if transitions::needs_reason(update.state) { update.reason } else { None },
        note: update.note.clone().filter(|n| !n.trim().is_empty()),
        source: StatusSource::PartnerInbox,
        at: Utc::now(),
    };
    (store.record_referral_status(id, &change).await.map_err(ApiError::from_store), case_id)
}

/// The capacity `caller`'s organisation last set, for its own staff.
pub(crate) async fn capacity(
    state: &AppState,
    caller: &Caller,
) -> Result<Option<PartnerCapacity>, ApiError> {
    if caller.role != Role::Partner || !is_inbox_partner(state, &caller.organisation) {
        return Err(forbidden());
    }
    state.store().partner_capacity(&caller.organisation).await.map_err(ApiError::from_store)
}

/// Sets the capacity of `caller`'s organisation; audited `partner.capacity`.
pub(crate) async fn set_capacity(
    state: &AppState,
    caller: &Caller,
    capacity_state: CapacityState,
    count: Option<u32>,
    note: Option<String>,
) -> Result<PartnerCapacity, ApiError> {
    let result = async {
        if caller.role != Role::Partner || !is_inbox_partner(state, &caller.organisation) {
            return Err(forbidden());
        }
        if count.is_some_and(|n| n > COUNT_MAX)
            || (capacity_state == CapacityState::Closed && count.is_some())
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                AuditOutcome::Invalid.as_str(),
                format!("a count is 0 to {COUNT_MAX}, and a closed service has none"),
            ));
        }
        if note.as_ref().is_some_and(|n| n.chars().count() > transitions::NOTE_MAX) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                AuditOutcome::Invalid.as_str(),
                format!("the note must be {} characters or fewer", transitions::NOTE_MAX),
            ));
        }
        let capacity = PartnerCapacity {
            partner_id: caller.organisation.clone(),
            state: capacity_state,
            count,
            note: note.filter(|n| !n.trim().is_empty()),
            set_by: caller.key_id.clone(),
            set_at: Utc::now(),
        };
        state.store().set_partner_capacity(&capacity).await.map_err(ApiError::from_store)?;
        Ok(capacity)
    }
    .await;
    let outcome = match &result {
        Ok(_) => AuditOutcome::Ok,
        Err(e) => e.audit_outcome(),
    };
    crate::routes::cases::audit(state, caller, AuditAction::PartnerCapacity, None, outcome).await;
    result
}
