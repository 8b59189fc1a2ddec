//! Cancelling a referral: what the referring side asked, and how far it has got.
//!
//! A cancel is its own small queue beside the outbox (table `cancellations`, one row per
//! referral), claimed under a lease and retried like a send:
//! 1. [`Store::request_cancel`](crate::Store::request_cancel) records the order. A referral
//!    still queued and not being sent right now is withdrawn on the spot, in the same
//!    transaction: its outbox row becomes `withdrawn`, the referral `cancelled`, and nothing
//!    ever reaches the partner. Otherwise the cancel waits, not before the lease of a send in
//!    flight runs out.
//! 2. [`claim_cancels`](crate::Store::claim_cancels) hands the dispatcher the cancels that
//!    need the partner: it settles the others itself (a send that has since gone back to the
//!    queue is withdrawn after all; a referral that reached a final state meanwhile needs no
//!    cancel).
//! 3. [`finish_cancel`](crate::Store::finish_cancel) records the partner's answer: its state
//!    (`cancelled`, or the final state it had already reached), "not supported" (the referral
//!    is cancelled here with a note that the partner must be told by phone), retry later, or
//!    failed.

use std::fmt;

use chrono::{DateTime, Utc};
use pathways_core::{CancelReason, ReferralStatus, TaskState};
use serde::{Deserialize, Serialize};

use crate::ids::{CaseId, ReferralId};
use crate::referral::{StatusChange, StatusSource};

/// What the referring side asks: cancel, why, and who.
#[derive(Clone, PartialEq, Eq)]
pub struct CancelOrder {
    /// Why, as the partner is told it.
    pub reason: CancelReason,
    /// The pathfinder's own words; kept here, sealed, never sent to the partner.
    pub note: Option<String>,
    /// Who asked: an API key id or a console user id.
    pub requested_by: String,
}

impl fmt::Debug for CancelOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelOrder")
            .field("reason", &self.reason)
            .field("note_chars", &self.note.as_ref().map(|n| n.chars().count()))
            .field("requested_by", &self.requested_by)
            .finish()
    }
}

/// How a cancel stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum CancelState {
    /// Waiting to be sent to the partner (or retried).
    Pending,
    /// The partner confirmed it: the referral is cancelled there.
    Confirmed,
    /// The referral had not been sent: it never reached the partner.
    Withdrawn,
    /// The partner's system cannot take a cancel: the referral is cancelled here, and the
    /// partner must be told another way.
    Unsupported,
    /// The partner refused it, or it had already finished the referral; see the error.
    Failed,
}

/// A referral's cancel, as recorded.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Cancellation {
    /// Why.
    pub reason: CancelReason,
    /// The pathfinder's words (sealed at rest; shown to the referring organisation only).
    pub note: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// How it stands.
    pub state: CancelState,
    /// Attempts to tell the partner so far.
    pub attempts: u32,
    /// What went wrong last, or why the partner could not take it.
    pub last_error: Option<String>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for Cancellation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancellation")
            .field("reason", &self.reason)
            .field("note_chars", &self.note.as_ref().map(|n| n.chars().count()))
            .field("requested_by", &self.requested_by)
            .field("requested_at", &self.requested_at)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("last_error", &self.last_error)
            .finish()
    }
}

/// What [`Store::request_cancel`](crate::Store::request_cancel) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRequested {
    /// It had not been sent: withdrawn, and the referral is `cancelled`.
    Withdrawn,
    /// The partner will be asked to cancel it.
    Queued,
    /// A cancel was asked for before; nothing new was recorded.
    Already(CancelState),
    /// It is already in this final state: there is nothing to cancel.
    Final(TaskState),
}

/// A claimed cancel: one referral to withdraw at its partner now, under a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelItem {
    /// The referral.
    pub referral_id: ReferralId,
    /// Its case.
    pub case_id: CaseId,
    /// The partner to tell.
    pub partner_id: String,
    /// The referral's idempotency key.
    pub idempotency_key: String,
    /// The partner's reference for it.
    pub partner_reference: String,
    /// Why.
    pub reason: CancelReason,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// When the cancel was asked for.
    pub requested_at: DateTime<Utc>,
    /// The claim lapses at this time.
    pub lease_until: DateTime<Utc>,
}

/// How an attempt to cancel at the partner ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The partner answered with the referral's state: `cancelled`, or a final state it had
    /// already reached.
    Answered(ReferralStatus),
    /// The partner's system (or its connector) cannot cancel: cancelled here only.
    Unsupported {
        /// What the connector said.
        message: String,
    },
    /// Try again, not before `not_before`.
    Retry {
        /// Earliest next attempt.
        not_before: DateTime<Utc>,
        /// What went wrong.
        last_error: String,
    },
    /// Stop: the partner refused it, or the retry budget is spent. The referral keeps its
    /// state; the pathfinder must tell the partner another way.
    Failed {
        /// Why.
        reason: String,
    },
}

impl CancelState {
    /// What a cancel comes to when the partner answers `state`: confirmed when cancelled,
    /// failed otherwise.
    pub fn from_answer(state: TaskState) -> CancelState {
        answered_state(state).0
    }
}

/// The history entry of a referral withdrawn before it was sent.
pub(crate) fn withdrawn_change(reason: CancelReason, now: DateTime<Utc>) -> StatusChange {
    StatusChange {
        state: TaskState::Cancelled,
        reason: Some(reason.status_reason()),
        note: Some(format!(
            "Withdrawn before it was sent ({}): the partner never received it.",
            reason.describe().to_lowercase()
        )),
        source: StatusSource::Referrer,
        at: now,
    }
}

/// The history entry of a referral cancelled here because its partner cannot take a cancel.
pub(crate) fn unsupported_change(reason: CancelReason, now: DateTime<Utc>) -> StatusChange {
    StatusChange {
        state: TaskState::Cancelled,
        reason: Some(reason.status_reason()),
        note: Some(format!(
            "Cancelled here ({}). The partner's system cannot take a cancellation: tell them \
             by phone.",
            reason.describe().to_lowercase()
        )),
        source: StatusSource::Referrer,
        at: now,
    }
}

/// The history entry of the partner's answer to a cancel (recorded only if it is news).
pub(crate) fn answered_change(status: &ReferralStatus, now: DateTime<Utc>) -> StatusChange {
    StatusChange {
        state: status.state,
        reason: status.reason,
        note: status.note.clone(),
        source: StatusSource::Dispatcher,
        at: status.updated_at.unwrap_or(now),
    }
}

/// What a cancel comes to when the partner answered `state`: confirmed when cancelled,
/// otherwise failed with the reason.
pub(crate) fn answered_state(state: TaskState) -> (CancelState, Option<String>) {
    match state {
        TaskState::Cancelled | TaskState::EnteredInError => (CancelState::Confirmed, None),
        done if done.is_final() => {
            (CancelState::Failed, Some(format!("the partner had already {} it", past_tense(done))))
        }
        live => (
            CancelState::Failed,
            Some(format!(
                "the partner answered the cancel with `{}`, not `cancelled`: tell them by phone",
                live.as_str()
            )),
        ),
    }
}

/// What a pending cancel comes to when the referral reached `state` (final) before it was
/// sent to the partner.
pub(crate) fn moot_state(state: TaskState) -> (CancelState, Option<String>) {
    answered_state(state)
}

fn past_tense(state: TaskState) -> &'static str {
    match state {
        TaskState::Rejected => "rejected",
        TaskState::Completed => "completed",
        TaskState::Failed => "closed as failed",
        _ => "closed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partner_that_had_already_finished_fails_the_cancel_with_its_state() {
        assert_eq!(answered_state(TaskState::Cancelled), (CancelState::Confirmed, None));
        let (state, why) = answered_state(TaskState::Completed);
        assert_eq!(state, CancelState::Failed);
        assert!(why.unwrap().contains("already completed"));
        let (state, why) = answered_state(TaskState::Accepted);
        assert_eq!(state, CancelState::Failed);
        assert!(why.unwrap().contains("`accepted`"));
    }

    #[test]
    fn the_notes_say_what_happened_without_the_pathfinders_words() {
        let now = Utc::now();
        let w = withdrawn_change(CancelReason::ConsentWithdrawn, now);
        assert_eq!(w.state, TaskState::Cancelled);
        assert!(w.note.unwrap().contains("never received"));
        let u = unsupported_change(CancelReason::Other, now);
        assert!(u.note.unwrap().contains("by phone"));
        let order = CancelOrder {
            reason: CancelReason::Other,
            note: Some("moved to Leeds".into()),
            requested_by: "usr_1".into(),
        };
        assert!(!format!("{order:?}").contains("Leeds"));
    }
}
