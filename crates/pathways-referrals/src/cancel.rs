//! One attempt to cancel one claimed referral at its partner, and what it means for the
//! cancel: the partner's answer, "not supported", retry later (the same backoff and budgets
//! as a send, counted from when the cancel was asked for), or failed.

use std::time::{Duration, Instant};

use chrono::Utc;
use pathways_core::{
    CancelRequest, IdempotencyKey, PartnerError, PartnerErrorKind, ReferralRef, ReferralStatus,
};
use pathways_orchestrator::{LaneError, ReferralLane};
use pathways_store::{AuditAction, AuditEntry, AuditOutcome, CancelItem, CancelOutcome};
use pathways_store::{CancelState, DispatchOutcome};

use crate::send::{decide, not_enabled, past_age, refusal_wait};
use crate::settings::DispatchSettings;
use crate::Ctx;

/// Tells `item`'s partner, through `lane`, to withdraw it, and records how that ended.
pub(crate) async fn attempt(ctx: &Ctx, worker: &str, item: CancelItem, lane: Option<ReferralLane>) {
    let settings = ctx.settings;
    // The key was checked when the referral was made; a stored one that no longer reads is a
    // damaged record, and the cancel fails with that reason rather than being sent.
    let key = IdempotencyKey::new(item.idempotency_key.clone()).map_err(|e| {
        PartnerError::permanent(format!("the referral's stored key cannot be sent: {e}"))
    });
    let started = Instant::now();
    let outcome = match (lane, key) {
        (_, Err(error)) => outcome_of(&item, &settings, Err(error)),
        (None, Ok(_)) => outcome_of(&item, &settings, Err(not_enabled(&item.partner_id))),
        (Some(lane), Ok(idempotency_key)) => {
            let request = CancelRequest {
                reference: ReferralRef {
                    partner_reference: item.partner_reference.clone(),
                    idempotency_key,
                },
                reason: item.reason,
            };
            match lane.cancel(&request, settings.send_timeout).await {
                // An open circuit or a full lane: a retry-later without calling the partner, and
                // so without spending the attempt, unless it would fall past the age budget.
                Err(refused) if !refused.reached_partner() => {
                    let wait = refusal_wait(item.attempt, &settings, &refused);
                    let error = refused.into_partner_error();
                    match past_age(item.attempt, item.requested_at, &settings, wait, &error) {
                        Some(reason) => CancelOutcome::Failed { reason },
                        None => {
                            release(ctx, worker, &item, wait, &error).await;
                            return;
                        }
                    }
                }
                other => outcome_of(&item, &settings, other.map_err(LaneError::into_partner_error)),
            }
        }
    };
    tracing::info!(referral_id = %item.referral_id, partner = %item.partner_id,
        attempt = item.attempt, took_ms = started.elapsed().as_millis() as u64,
        outcome = ?std::mem::discriminant(&outcome), "cancel attempted");
    let audited = match &outcome {
        CancelOutcome::Answered(status) => {
            match pathways_store::CancelState::from_answer(status.state) {
                CancelState::Confirmed => Some(AuditOutcome::CancelConfirmed),
                _ => Some(AuditOutcome::CancelFailed),
            }
        }
        CancelOutcome::Unsupported { .. } => Some(AuditOutcome::CancelUnsupported),
        CancelOutcome::Failed { reason } => {
            tracing::warn!(referral_id = %item.referral_id, partner = %item.partner_id,
                reason = %reason, "cancel failed: the pathfinder must tell the partner");
            Some(AuditOutcome::CancelFailed)
        }
        CancelOutcome::Retry { .. } => None,
    };
    match ctx.store.finish_cancel(&item.referral_id, worker, outcome, Utc::now()).await {
        Ok(true) => {
            if let Some(outcome) = audited {
                ctx.host
                    .audit(AuditEntry {
                        at: Utc::now(),
                        key_id: "system:dispatch".into(),
                        organisation: "system".into(),
                        action: AuditAction::ReferralCancel,
                        case_id: Some(item.case_id.clone()),
                        referral_id: Some(item.referral_id.clone()),
                        outcome,
                    })
                    .await;
            }
        }
        Ok(false) => tracing::warn!(referral_id = %item.referral_id,
            "the lease ran out before the cancel finished; another dispatcher has it"),
        Err(e) => tracing::error!(referral_id = %item.referral_id, error = %e,
            "cannot record the outcome of a cancel"),
    }
}

/// Gives the claim on `item` back without spending its attempt: the partner was not called.
async fn release(ctx: &Ctx, worker: &str, item: &CancelItem, wait: Duration, error: &PartnerError) {
    let not_before = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
    tracing::warn!(referral_id = %item.referral_id, partner = %item.partner_id,
        attempt = item.attempt, %not_before, error = %error, partner_called = false,
        "cancel not sent; will retry");
    let error = error.to_string();
    let released =
        ctx.store.release_cancel(&item.referral_id, worker, not_before, &error, Utc::now());
    match released.await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(referral_id = %item.referral_id,
            "the lease ran out before the cancel finished; another dispatcher has it"),
        Err(e) => tracing::error!(referral_id = %item.referral_id, error = %e,
            "cannot record the outcome of a cancel"),
    }
}

/// What the partner's answer means for the cancel.
fn outcome_of(
    item: &CancelItem,
    settings: &DispatchSettings,
    result: Result<ReferralStatus, PartnerError>,
) -> CancelOutcome {
    match result {
        Ok(status) => CancelOutcome::Answered(status),
        Err(e) if e.kind == PartnerErrorKind::NotSupported => {
            CancelOutcome::Unsupported { message: e.message }
        }
        Err(e) => match decide(item.attempt, item.requested_at, settings, Err(e)) {
            DispatchOutcome::Retry { not_before, last_error } => {
                CancelOutcome::Retry { not_before, last_error }
            }
            DispatchOutcome::Failed { reason } => CancelOutcome::Failed { reason },
            DispatchOutcome::Delivered { .. } => {
                CancelOutcome::Failed { reason: "no answer from the partner".into() }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pathways_core::{CancelReason, TaskState};
    use pathways_store::{CaseId, ReferralId};

    fn item(attempt: u32) -> CancelItem {
        CancelItem {
            referral_id: ReferralId::random(),
            case_id: CaseId::random(),
            partner_id: "p".into(),
            idempotency_key: "k".into(),
            partner_reference: "R".into(),
            reason: CancelReason::Other,
            attempt,
            requested_at: Utc::now(),
            lease_until: Utc::now(),
        }
    }

    #[test]
    fn not_supported_transient_and_permanent_answers_become_their_outcomes() {
        let s = DispatchSettings { max_attempts: 3, ..DispatchSettings::default() };
        let unsupported = outcome_of(&item(1), &s, Err(PartnerError::not_supported("Open311")));
        assert_eq!(unsupported, CancelOutcome::Unsupported { message: "Open311".into() });
        let busy = PartnerError::transient("503", None);
        assert!(matches!(outcome_of(&item(1), &s, Err(busy.clone())), CancelOutcome::Retry { .. }));
        assert!(matches!(outcome_of(&item(3), &s, Err(busy)), CancelOutcome::Failed { .. }));
        let refused = PartnerError::permanent("unknown voucher");
        assert!(matches!(outcome_of(&item(1), &s, Err(refused)), CancelOutcome::Failed { .. }));
        let done = ReferralStatus {
            state: TaskState::Cancelled,
            reason: None,
            note: None,
            updated_at: None,
        };
        assert_eq!(outcome_of(&item(1), &s, Ok(done.clone())), CancelOutcome::Answered(done));
    }
}
