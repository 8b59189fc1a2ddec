//! Cases and plans as the store hands them back.

use std::fmt;

use chrono::{DateTime, Utc};
use pathways_core::{ActionPlan, Case};

use crate::erasure::LegalHold;
use crate::ids::CaseId;

/// A case as stored: the id the store gave it, the organisation that owns it, and the case.
///
/// `Debug` leaves the case out: it holds personal data, and this type travels through code
/// that logs.
#[derive(Clone, PartialEq)]
pub struct StoredCase {
    /// The store's id for it.
    pub id: CaseId,
    /// The organisation whose API key created it: the only one that sees it whole.
    pub organisation: String,
    /// The case itself.
    pub case: Case,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// A safeguarding or legal hold that stops erasure, if one stands.
    pub legal_hold: Option<LegalHold>,
}

impl fmt::Debug for StoredCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCase")
            .field("id", &self.id)
            .field("organisation", &self.organisation)
            .field("created_at", &self.created_at)
            .field("legal_hold", &self.legal_hold)
            .finish_non_exhaustive()
    }
}

/// A plan as stored for a case.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPlan {
    /// The case it is for.
    pub case_id: CaseId,
    /// The plan.
    pub plan: ActionPlan,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}
