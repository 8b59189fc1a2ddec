//! Cases and plans as the store hands them back.

use std::fmt;

use chrono::{DateTime, Utc};
use pathways_core::{ActionPlan, Case, StepAction};

use crate::ids::CaseId;

/// A case as stored: the id the store gave it, the organisation that owns it, and the case.
///
/// `Debug` leaves the case out: it holds personal data, and this type travels through code
/// that logs.
#[derive(Clone, PartialEq)]
pub struct StoredCase {
    /// The store's id for it.
    pub id: CaseId,
    /// The organisation whose API key created it; it (and partners in its plan) may read it.
    pub organisation: String,
    /// The case itself.
    pub case: Case,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for StoredCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCase")
            .field("id", &self.id)
            .field("organisation", &self.organisation)
            .field("created_at", &self.created_at)
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

/// The partners a plan lets see its case: the lead, and every partner a `refer` step sends to
/// with the client's consent. Fallbacks and steps still awaiting consent are left out: they
/// may never receive the referral, so they have no reason to see the case.
pub(crate) fn plan_partner_ids(plan: &ActionPlan) -> Vec<String> {
    let mut ids: Vec<String> = std::iter::once(plan.lead.partner_id.clone())
        .chain(
            plan.steps
                .iter()
                .filter(|s| s.action == StepAction::Refer && !s.needs_consent)
                .filter_map(|s| s.partner_id.clone()),
        )
        .filter(|id| !id.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}
