//! Sending referrals and following them: `POST /v1/cases/{id}/referrals`,
//! `GET /v1/referrals/{id}` and `POST /v1/referrals/{id}/cancel`.
//!
//! Sending is idempotent on the `Idempotency-Key` header (see [`create`]) and durable: the
//! referrals and their outbox rows are written in one transaction, and the dispatcher
//! (`crate::dispatch`) sends them from there. Consent is checked for every chosen step before
//! anything is written, so a refused request leaves no trace but its audit entry.

mod cancel;
mod intake;
pub(crate) mod reroute;
mod selection;
mod view;

pub use cancel::{cancel, CancelBody, Cancelled, NOTE_MAX};
pub(crate) use intake::build_referral;
pub use intake::{create, fingerprint, referral_key, ReferralRequest};
pub use selection::Ordinal;
pub(crate) use view::chase_before;
pub use view::read;

use chrono::Utc;
use pathways_store::{AuditAction, AuditEntry, AuditOutcome, CaseId, ReferralId};

use crate::auth::Caller;
use crate::state::AppState;

/// Appends to the audit log; a failure is logged and counted, never answered (the action has
/// happened by then).
pub(crate) async fn audit(
    state: &AppState,
    caller: &Caller,
    action: AuditAction,
    ids: (Option<&CaseId>, Option<&ReferralId>),
    outcome: AuditOutcome,
) {
    let entry = AuditEntry {
        at: Utc::now(),
        key_id: caller.key_id.clone(),
        organisation: caller.organisation.clone(),
        action,
        case_id: ids.0.cloned(),
        referral_id: ids.1.cloned(),
        outcome,
    };
    if let Err(e) = state.store().append_audit(&entry).await {
        tracing::error!(error = %e, %action, %outcome, "cannot write the audit log");
        state.metrics().audit_failure();
    }
}
