//! Retention, erasure and legal holds (UK GDPR Art. 5(1)(e) and 17).
//!
//! Erasing a case removes every piece of the client's personal data from every table in one
//! transaction: the case document, its plans, each referral's payload, the partners' status
//! notes and the dispatch errors, and the referrer's own reference for the case (kept plain
//! for the console's case list: pseudonymous, but it leads back to the client in the
//! referrer's records). What the statistics and the audit need stays: the case's id,
//! organisation, dates and council area (an ONS local authority code, not personal data),
//! the unmet needs of its newest plan with that plan's time, each referral's partner, needs,
//! states and times, and the audit log (which never held personal data). So pathway reports
//! and unmet needs give the same figures before and after. Referrals still waiting in the
//! outbox, never sent, are cancelled in the same transaction; a partner that already has a
//! referral keeps its copy (it is that partner's record now, under its own retention). The
//! partner's later status reports still move the referral on (the statistics count them), but
//! their notes are not kept.
//!
//! A legal hold (a safeguarding enquiry, litigation) refuses erasure, by request or by the
//! retention sweep, until an admin lifts it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a case was erased: a code, so that no free text (and no personal data) is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ErasureReason {
    /// The client asked (Art. 17).
    ClientRequest,
    /// The case was recorded by mistake (wrong person, duplicate).
    EnteredInError,
    /// The retention period ran out (the background sweep).
    RetentionExpired,
    /// Anything else the data protection officer decided.
    Other,
}

impl ErasureReason {
    /// Its code, as stored and as the API writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErasureReason::ClientRequest => "client_request",
            ErasureReason::EnteredInError => "entered_in_error",
            ErasureReason::RetentionExpired => "retention_expired",
            ErasureReason::Other => "other",
        }
    }

    /// Every reason, for documentation and error messages.
    pub const ALL: [ErasureReason; 4] = [
        ErasureReason::ClientRequest,
        ErasureReason::EnteredInError,
        ErasureReason::RetentionExpired,
        ErasureReason::Other,
    ];
}

impl fmt::Display for ErasureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErasureReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
            format!("`{s}` is not an erasure reason ({})", known.join(", "))
        })
    }
}

/// What an erasure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Erasure {
    /// Referrals whose payloads were erased.
    pub referrals: u64,
    /// Of those, referrals still queued and never sent, now cancelled.
    pub cancelled: u64,
    /// Plans removed.
    pub plans: u64,
}

/// A safeguarding or legal hold on a case: erasure is refused while it stands.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LegalHold {
    /// Why, in the admin's words (sealed at rest; never logged).
    pub reason: String,
    /// Who set it (a key or user id).
    pub set_by: String,
    /// When.
    pub set_at: DateTime<Utc>,
}

impl fmt::Debug for LegalHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegalHold")
            .field("set_by", &self.set_by)
            .field("set_at", &self.set_at)
            .finish_non_exhaustive()
    }
}

/// How a re-sealing pass ([`Store::reseal`](crate::Store::reseal)) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ResealProgress {
    /// Values re-sealed by this call.
    pub resealed: u64,
    /// Values still not sealed under the current key after it.
    pub remaining: u64,
}
