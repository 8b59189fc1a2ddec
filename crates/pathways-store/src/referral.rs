//! Referrals, their status history, and the outbox that carries them to partners.
//!
//! Life of a referral in the store:
//! 1. `create_referrals` writes it in state `draft` with a pending outbox row, in the same
//!    transaction as the other referrals of the request: all are durable, or none is.
//! 2. A dispatcher `claim_outbox`es due rows. A claim is a lease: if the dispatcher dies,
//!    the lease runs out and another dispatcher claims the row again. The attempt is counted
//!    at claim time, so a crash mid-send still spends from the retry budget.
//! 3. The dispatcher `finish_outbox`es the row: delivered (the referral becomes `requested`),
//!    retry later, or failed for good (the referral becomes `failed`). Only the current
//!    lease holder can finish a row.
//! 4. Partners report status by polling and callbacks: `record_referral_status` keeps each
//!    change as history and ignores repeats and stale reports.

use std::fmt;

use chrono::{DateTime, Utc};
use pathways_core::{NeedCode, Referral, StatusReason, TaskState};
use serde::{Deserialize, Serialize};

use crate::ids::{CaseId, OutboxItemId, ReferralId};

/// A referral to create: the payload a partner will receive, built and minimised by
/// [`Referral::for_partner`]. Its partner, needs, service and idempotency key are indexed;
/// its first need and its service name the plan step it was made for (one live referral per
/// step).
#[derive(Clone, PartialEq)]
pub struct NewReferral {
    /// What the partner receives. Holds personal data: sealed at rest, never logged.
    pub referral: Referral,
}

impl NewReferral {
    /// The need of the step this referral was made for (its first need).
    pub(crate) fn step_need(&self) -> Option<NeedCode> {
        self.referral.needs.first().map(|n| n.code)
    }
}

/// The states in which a referral is live: one such per plan step.
pub(crate) const LIVE_STATES: [TaskState; 5] = [
    TaskState::Draft,
    TaskState::Requested,
    TaskState::Accepted,
    TaskState::InProgress,
    TaskState::OnHold,
];

impl From<Referral> for NewReferral {
    fn from(referral: Referral) -> Self {
        Self { referral }
    }
}

impl fmt::Debug for NewReferral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewReferral")
            .field("partner_id", &self.referral.partner_id)
            .field("idempotency_key", &self.referral.idempotency_key)
            .finish_non_exhaustive()
    }
}

/// Who reported a status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum StatusSource {
    /// The referring side: creation, or a pathfinder cancelling.
    Referrer,
    /// The dispatcher: delivered, or given up on.
    Dispatcher,
    /// The partner, when we polled it.
    PartnerPoll,
    /// The partner, by a signed callback.
    PartnerWebhook,
    /// The partner's own staff, in the console: a partner without an API (kind `inbox`).
    PartnerInbox,
}

/// One change of a referral's state, as recorded and as kept in its history.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StatusChange {
    /// The new state.
    pub state: TaskState,
    /// Why, for rejected, failed, cancelled and on-hold.
    pub reason: Option<StatusReason>,
    /// The reporter's words. Partners are asked to keep these free of personal data, but this
    /// type does not print it in `Debug` in case one does not.
    pub note: Option<String>,
    /// Who reported it.
    pub source: StatusSource,
    /// When it happened, by the reporter's clock.
    pub at: DateTime<Utc>,
}

impl fmt::Debug for StatusChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusChange")
            .field("state", &self.state)
            .field("reason", &self.reason)
            .field("note_chars", &self.note.as_ref().map(|n| n.chars().count()))
            .field("source", &self.source)
            .field("at", &self.at)
            .finish()
    }
}

/// Where an outbox row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum OutboxState {
    /// Waiting to be (re)sent.
    Pending,
    /// The partner has it.
    Delivered,
    /// Given up on; the referral is `failed`.
    Failed,
    /// Cancelled before it was sent: the partner never received it.
    Withdrawn,
}

/// How the sending of a referral stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DispatchState {
    /// Pending, delivered or failed.
    pub state: OutboxState,
    /// Attempts so far (counted when claimed).
    pub attempts: u32,
    /// Not to be sent again before this time.
    pub not_before: DateTime<Utc>,
    /// What went wrong last time, as the connector said it.
    pub last_error: Option<String>,
}

/// A referral with its current state, history and dispatch state.
#[derive(Clone, PartialEq)]
pub struct StoredReferral {
    /// The store's id.
    pub id: ReferralId,
    /// The case it came from.
    pub case_id: CaseId,
    /// The partner it goes to.
    pub partner_id: String,
    /// The needs it asks the partner to meet.
    pub needs: Vec<NeedCode>,
    /// The key the partner receives, stable across retries.
    pub idempotency_key: String,
    /// Current state.
    pub state: TaskState,
    /// Why, when the state needs a reason.
    pub reason: Option<StatusReason>,
    /// When the current state began.
    pub state_changed_at: DateTime<Utc>,
    /// The partner's reference, once delivered.
    pub partner_reference: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the partner first acknowledged it.
    pub sent_at: Option<DateTime<Utc>>,
    /// Every state it has been in, oldest first.
    pub history: Vec<StatusChange>,
    /// How sending it stands.
    pub dispatch: DispatchState,
    /// The payload sent; `None` once its case has been erased. Holds personal data: never
    /// printed in `Debug`.
    pub referral: Option<Referral>,
    /// The referring side's cancel of it, if one was asked for.
    pub cancellation: Option<crate::cancel::Cancellation>,
}

impl fmt::Debug for StoredReferral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredReferral")
            .field("id", &self.id)
            .field("case_id", &self.case_id)
            .field("partner_id", &self.partner_id)
            .field("needs", &self.needs)
            .field("state", &self.state)
            .field("reason", &self.reason)
            .field("partner_reference", &self.partner_reference)
            .field("history", &self.history)
            .field("dispatch", &self.dispatch)
            .field("cancellation", &self.cancellation)
            .finish_non_exhaustive()
    }
}

/// A claimed outbox row: one referral to send now, under a lease.
#[derive(Clone, PartialEq)]
pub struct OutboxItem {
    /// The row; pass it to `finish_outbox`.
    pub id: OutboxItemId,
    /// The referral.
    pub referral_id: ReferralId,
    /// Its case.
    pub case_id: CaseId,
    /// The partner to send to.
    pub partner_id: String,
    /// The key the partner receives.
    pub idempotency_key: String,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// When the referral was accepted: how long it has waited to be delivered.
    pub created_at: DateTime<Utc>,
    /// The claim lapses at this time: finish before it, or another dispatcher may send again
    /// (harmless to the partner thanks to the idempotency key, but wasteful).
    pub lease_until: DateTime<Utc>,
    /// The payload to send. Holds personal data: never printed in `Debug`.
    pub referral: Referral,
}

impl fmt::Debug for OutboxItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxItem")
            .field("id", &self.id)
            .field("referral_id", &self.referral_id)
            .field("partner_id", &self.partner_id)
            .field("attempt", &self.attempt)
            .field("lease_until", &self.lease_until)
            .finish_non_exhaustive()
    }
}

/// How an attempt to send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchOutcome {
    /// The partner acknowledged it with its own reference.
    Delivered {
        /// The partner's reference, from its receipt.
        partner_reference: String,
    },
    /// Try again, not before `not_before` (the dispatcher's backoff, or the partner's
    /// `Retry-After`).
    Retry {
        /// Earliest next attempt.
        not_before: DateTime<Utc>,
        /// What went wrong, for the operator.
        last_error: String,
    },
    /// Stop: a permanent error or the retry budget is spent. The referral becomes `failed`.
    Failed {
        /// Why, for the operator and the pathfinder.
        reason: String,
    },
}

impl StatusSource {
    /// Whether the partner itself reported the change (by its own clock).
    pub fn is_partner(self) -> bool {
        matches!(
            self,
            StatusSource::PartnerPoll | StatusSource::PartnerWebhook | StatusSource::PartnerInbox
        )
    }
}

/// Whether a status change should be recorded, given the referral's current state and
/// reason and the time of the newest change the partner itself reported. Both backends ask
/// this, inside the transaction that would record it.
///
/// A repeat of the current state and reason is not news (polling and callbacks report the
/// same change twice). A partner report older than the newest partner report came late and
/// out of order; it must not undo the newer one. Partner times are compared only with partner
/// times, because the partner's clock and ours may disagree. A partner's `requested` is an
/// acknowledgement of receipt: news only while the referral is still a draft (it overtook
/// the dispatcher's record of the delivery), never a step back from where it has got to.
pub(crate) fn should_record(
    current: (TaskState, Option<StatusReason>),
    newest_partner_report: Option<DateTime<Utc>>,
    change: &StatusChange,
) -> bool {
    if (change.state, change.reason) == current {
        return false;
    }
    // A final state is final: no later report (a late or confused partner, a stray poll) makes
    // the referral live again, which would also break "one live referral per step" once the
    // step has been referred anew.
    if current.0.is_final() {
        return false;
    }
    if change.source.is_partner()
        && change.state == TaskState::Requested
        && current.0 != TaskState::Draft
    {
        return false;
    }
    !(change.source.is_partner() && newest_partner_report.is_some_and(|newest| change.at < newest))
}

/// How long a queued referral whose stored payload cannot be opened (a missing data key, an
/// altered row) is set aside before it is tried again, so it never blocks the others.
pub(crate) fn unreadable_wait() -> chrono::Duration {
    chrono::Duration::hours(1)
}

/// The dispatch error recorded for such a referral: says what is wrong, never the value.
pub(crate) fn unreadable_note(error: &crate::error::StoreError) -> String {
    format!(
        "not sent: {error}; it is set aside for an hour at a time until the data keys \
         (storage.key_file) can open it, and nothing else waits for it"
    )
}

/// The longest lease a claim gets: a dispatcher that has not finished in a day is gone, and
/// its work should be picked up.
pub(crate) const MAX_LEASE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// When a lease taken at `now` runs out (capped at [`MAX_LEASE`]), at the databases'
/// microsecond precision.
pub(crate) fn lease_until(now: DateTime<Utc>, lease: std::time::Duration) -> DateTime<Utc> {
    let lease =
        chrono::Duration::from_std(lease.min(MAX_LEASE)).unwrap_or(chrono::Duration::zero());
    crate::codec::truncate(now + lease)
}

/// A referral that has stayed in one state too long (e.g. `requested` for days).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StuckReferral {
    /// The referral.
    pub referral_id: ReferralId,
    /// Its case, for finding the pathfinder.
    pub case_id: CaseId,
    /// The partner that has not answered.
    pub partner_id: String,
    /// The state it is stuck in.
    pub state: TaskState,
    /// Since when.
    pub since: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn change(state: TaskState, source: StatusSource, secs: i64) -> StatusChange {
        StatusChange { state, reason: None, note: None, source, at: at(secs) }
    }

    #[test]
    fn a_partner_clock_behind_ours_does_not_lose_its_report() {
        // Delivered at 10 by our clock; the partner's clock says it accepted at 5.
        let accepted = change(TaskState::Accepted, StatusSource::PartnerWebhook, 5);
        assert!(should_record((TaskState::Requested, None), None, &accepted));
    }

    #[test]
    fn repeats_and_out_of_order_partner_reports_are_dropped() {
        let accepted = change(TaskState::Accepted, StatusSource::PartnerPoll, 20);
        assert!(!should_record((TaskState::Accepted, None), Some(at(20)), &accepted));
        let late = change(TaskState::OnHold, StatusSource::PartnerPoll, 25);
        assert!(!should_record((TaskState::InProgress, None), Some(at(30)), &late));
        let cancel = change(TaskState::Cancelled, StatusSource::Referrer, 25);
        assert!(should_record((TaskState::InProgress, None), Some(at(30)), &cancel), "ours");
    }

    #[test]
    fn a_partners_acknowledgement_never_moves_a_referral_back() {
        let ack = change(TaskState::Requested, StatusSource::PartnerWebhook, 40);
        assert!(should_record((TaskState::Draft, None), None, &ack), "overtook the dispatcher");
        for current in [TaskState::Accepted, TaskState::InProgress, TaskState::Completed] {
            assert!(!should_record((current, None), Some(at(30)), &ack), "{current:?}");
        }
    }

    #[test]
    fn nothing_moves_a_referral_out_of_a_final_state() {
        for done in
            [TaskState::Completed, TaskState::Rejected, TaskState::Failed, TaskState::Cancelled]
        {
            for source in
                [StatusSource::PartnerWebhook, StatusSource::PartnerPoll, StatusSource::Dispatcher]
            {
                let back = change(TaskState::InProgress, source, 50);
                assert!(!should_record((done, None), Some(at(10)), &back), "{done:?} {source:?}");
            }
        }
    }

    #[test]
    fn leases_are_capped_at_a_day() {
        let week = std::time::Duration::from_secs(7 * 24 * 3600);
        assert_eq!(lease_until(at(0), week), at(24 * 3600));
        assert_eq!(lease_until(at(0), std::time::Duration::from_secs(30)), at(30));
    }
}

/// What became of a partner's callback ([`Store::record_partner_event`](crate::Store)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerEvent {
    /// Its status change is now the referral's state.
    Recorded,
    /// New, but it told nothing new (a repeat of the current state) or something older than
    /// what is known: kept out of the history.
    Unchanged,
    /// Its `webhook-id` was received before: ignored.
    Replay,
}
