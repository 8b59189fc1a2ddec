//! When clients are due a follow-up (ONS4 again, and their own account of each need): a
//! number of days, set by each organisation's coordinators, after the last of a case's
//! referrals ended.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::CaseId;

/// The schedule an organisation without one of its own uses: 8 weeks.
pub const DEFAULT_FOLLOW_UP_AFTER_DAYS: u32 = 56;

/// The longest schedule a coordinator may set (a year and a day).
pub const MAX_FOLLOW_UP_AFTER_DAYS: u32 = 366;

/// An organisation's follow-up schedule, as its coordinators set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUpSchedule {
    /// Whose.
    pub organisation: String,
    /// Days after the last referral of a case ended; 0: no follow-ups are scheduled.
    pub after_days: u32,
    /// Who set it (the API key's id or the console user's).
    pub set_by: String,
    /// When.
    pub set_at: DateTime<Utc>,
}

/// A case due a follow-up: every referral of it has ended, one at least completed, the
/// schedule's days have passed since the last ended, and no follow-up was recorded since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUpDue {
    /// The case.
    pub case_id: CaseId,
    /// The referring organisation's reference for it.
    pub reference: String,
    /// When its last referral ended (completed, declined, failed or cancelled).
    pub last_ended_at: DateTime<Utc>,
}
