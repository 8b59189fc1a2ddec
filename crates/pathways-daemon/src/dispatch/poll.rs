//! Status polling: asks each partner where its open referrals stand, on a schedule that backs
//! off per referral (doubling from `status_poll_base` to `status_poll_cap` while nothing
//! changes, back to the base when something does), until the referral reaches a final state.
//!
//! The schedule lives in memory: after a restart every open referral is polled once soon,
//! which is cheap. Two daemons may both poll one referral; the store ignores the repeat.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use pathways_core::{ReferralRef, TaskState};
use pathways_store::{ReferralId, StatusChange, StatusSource};
use tokio::sync::watch;
use tokio::time::Instant;

use super::settings::DispatchSettings;
use crate::state::AppState;

/// States in which a partner may still change a delivered referral.
const OPEN: [TaskState; 4] =
    [TaskState::Requested, TaskState::Accepted, TaskState::InProgress, TaskState::OnHold];

/// Open referrals looked at per state and round.
const BATCH: u32 = 500;

struct Due {
    at: Instant,
    interval: Duration,
}

/// The polling loop.
pub(super) async fn run(
    state: AppState,
    settings: DispatchSettings,
    mut stopped: watch::Receiver<bool>,
) {
    let tick =
        (settings.status_poll_base / 2).clamp(Duration::from_millis(50), Duration::from_secs(30));
    let mut schedule: HashMap<ReferralId, Due> = HashMap::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
        let mut open = Vec::new();
        for s in OPEN {
            match state.store().referrals_stuck(s, Utc::now(), BATCH).await {
                Ok(found) => open.extend(found.into_iter().map(|r| r.referral_id)),
                Err(e) => tracing::warn!(error = %e, "cannot list open referrals to poll"),
            }
        }
        schedule.retain(|id, _| open.contains(id));
        for id in open {
            let due = schedule
                .entry(id.clone())
                .or_insert(Due { at: Instant::now(), interval: settings.status_poll_base });
            if due.at > Instant::now() {
                continue;
            }
            let changed = poll_one(&state, &settings, &id).await;
            due.interval = if changed {
                settings.status_poll_base
            } else {
                (due.interval * 2).min(settings.status_poll_cap)
            };
            due.at = Instant::now() + due.interval;
        }
    }
}

/// Polls one referral; `true` when its state changed.
async fn poll_one(state: &AppState, settings: &DispatchSettings, id: &ReferralId) -> bool {
    let referral = match state.store().get_referral(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a referral to poll");
            return false;
        }
    };
    let Some(partner_reference) = referral.partner_reference.clone() else { return false };
    let live = state.live();
    let Some(partner) = live.orchestrator.partners().iter().find(|p| p.id == referral.partner_id)
    else {
        return false;
    };
    let reference = ReferralRef { partner_reference, idempotency_key: referral.idempotency_key };
    let asked =
        tokio::time::timeout(settings.send_timeout, partner.partner.referral_status(&reference));
    let status = match asked.await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            tracing::debug!(referral_id = %id, error = %e, "status poll failed");
            return false;
        }
        Err(_) => return false,
    };
    let change = StatusChange {
        state: status.state,
        reason: status.reason,
        note: status.note,
        source: StatusSource::PartnerPoll,
        at: status.updated_at.unwrap_or_else(Utc::now),
    };
    match state.store().record_referral_status(id, &change).await {
        Ok(recorded) => {
            if recorded {
                tracing::info!(referral_id = %id, state = ?change.state, "referral status from polling");
            }
            recorded
        }
        Err(e) => {
            tracing::warn!(referral_id = %id, error = %e, "cannot record a polled status");
            false
        }
    }
}
