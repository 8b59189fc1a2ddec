//! The vocabulary of a simulated referral's progress: the FHIR Task statuses and reasons the
//! NHS simulator uses, and the counts it keeps for exactly-once tests.

use std::collections::BTreeMap;

use crate::idempotency::PostCounts;
use serde::{Deserialize, Serialize};

/// FHIR Task statuses a simulated NHS service puts a referral in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NhsTaskStatus {
    /// Received, not yet looked at.
    Requested,
    /// The service will see the client.
    Accepted,
    /// The service turned the referral down (needs a reason).
    Rejected,
    /// Care under way.
    InProgress,
    /// Paused (needs a reason).
    OnHold,
    /// Care given.
    Completed,
    /// Tried and did not work out (needs a reason).
    Failed,
    /// Withdrawn (needs a reason).
    Cancelled,
}

impl NhsTaskStatus {
    /// The FHIR code.
    pub(crate) fn code(self) -> &'static str {
        match self {
            NhsTaskStatus::Requested => "requested",
            NhsTaskStatus::Accepted => "accepted",
            NhsTaskStatus::Rejected => "rejected",
            NhsTaskStatus::InProgress => "in-progress",
            NhsTaskStatus::OnHold => "on-hold",
            NhsTaskStatus::Completed => "completed",
            NhsTaskStatus::Failed => "failed",
            NhsTaskStatus::Cancelled => "cancelled",
        }
    }

    /// Whether FHIR requires a `statusReason` in this state.
    pub(crate) fn needs_reason(self) -> bool {
        matches!(
            self,
            NhsTaskStatus::Rejected
                | NhsTaskStatus::Cancelled
                | NhsTaskStatus::OnHold
                | NhsTaskStatus::Failed
        )
    }

    /// Whether no further change is expected.
    pub(crate) fn is_final(self) -> bool {
        matches!(
            self,
            NhsTaskStatus::Rejected
                | NhsTaskStatus::Completed
                | NhsTaskStatus::Failed
                | NhsTaskStatus::Cancelled
        )
    }
}

/// Why a simulated NHS service rejected, held, failed or cancelled a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NhsTaskReason {
    /// The service is full.
    NoCapacity,
    /// The client does not meet the criteria.
    NotEligible,
    /// The client lives outside the service's area.
    OutOfArea,
    /// The service could not reach the client.
    CouldNotContact,
    /// The referral lacked what the service needs.
    MissingInformation,
    /// The client declined.
    NoLongerInterested,
    /// The referrer revoked the ServiceRequest.
    RevokedByRequester,
    /// Anything else.
    Other,
}

impl NhsTaskReason {
    /// `(code, display)` in the simulator's reason code system.
    pub(crate) fn coding(self) -> (&'static str, &'static str) {
        match self {
            NhsTaskReason::NoCapacity => ("no-capacity", "The service has no capacity"),
            NhsTaskReason::NotEligible => {
                ("not-eligible", "The patient does not meet the criteria")
            }
            NhsTaskReason::OutOfArea => ("out-of-area", "The patient lives outside the area"),
            NhsTaskReason::CouldNotContact => {
                ("could-not-contact", "The service could not contact the patient")
            }
            NhsTaskReason::MissingInformation => {
                ("missing-information", "The referral lacks information")
            }
            NhsTaskReason::NoLongerInterested => ("no-longer-interested", "The patient declined"),
            NhsTaskReason::RevokedByRequester => {
                ("revoked-by-requester", "The referrer withdrew the referral")
            }
            NhsTaskReason::Other => ("other", "Other"),
        }
    }
}

/// What the NHS simulator holds of one referral, for tests (nothing personal): its Task's
/// status and reason now, and the `status` of the ServiceRequest as stored (`active`, or
/// `revoked` once the referrer withdrew it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NhsReferralRecord {
    /// The Task's status.
    pub task_status: NhsTaskStatus,
    /// The Task's reason, if it has one.
    pub task_reason: Option<NhsTaskReason>,
    /// `ServiceRequest.status` as stored.
    pub service_request_status: String,
}

/// Counts of `$process-message` POSTs, for exactly-once tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NhsStats {
    /// Every `POST /$process-message` received, including those answered by an injected fault
    /// and those refused.
    pub total_posts: u64,
    /// Distinct `X-Request-ID` values among those POSTs.
    pub distinct_request_ids: u64,
    /// Referrals created (a ServiceRequest and its Task); a repeated message never creates
    /// another.
    pub referrals_created: u64,
    /// Referrals cancelled by a `revoked` message.
    pub referrals_cancelled: u64,
    /// POSTs received per `X-Request-ID`.
    pub posts_per_request_id: BTreeMap<String, u64>,
}

impl PostCounts for NhsStats {
    fn post_counters(&mut self) -> (&mut u64, &mut u64, &mut BTreeMap<String, u64>) {
        (&mut self.total_posts, &mut self.distinct_request_ids, &mut self.posts_per_request_id)
    }
}
