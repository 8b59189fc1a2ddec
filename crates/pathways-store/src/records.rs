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
    /// The consents the case had before `case.consent`, oldest first (each change of consent
    /// keeps the one it replaced).
    pub consent_history: Vec<pathways_core::Consent>,
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
    /// What the plan was made from (the partners' answers, no personal data), so an amendment
    /// can make the next version without asking the partners again; opaque to the store.
    pub basis: serde_json::Value,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// How a plan version is kept: the plan and what it was made from, sealed together.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct PlanRecord {
    pub plan: ActionPlan,
    #[serde(default)]
    pub basis: serde_json::Value,
}

impl PlanRecord {
    /// A stored plan from its opened JSON; `None` for a plan kept before plans had versions
    /// (a different shape, made again by the next `POST .../plan`), so an upgrade never turns
    /// an old case into an error.
    pub(crate) fn open(
        case_id: &CaseId,
        value: serde_json::Value,
        created_at: DateTime<Utc>,
    ) -> Result<Option<StoredPlan>, crate::StoreError> {
        if value.get("plan").is_none() {
            return Ok(None);
        }
        let record: PlanRecord = serde_json::from_value(value)
            .map_err(|e| crate::StoreError::corrupt("plan of case", case_id.as_str(), &e))?;
        Ok(Some(StoredPlan {
            case_id: case_id.clone(),
            plan: record.plan,
            basis: record.basis,
            created_at,
        }))
    }
}

/// [`PlanRecord`] borrowed, for sealing.
#[derive(serde::Serialize)]
pub(crate) struct PlanRecordRef<'a> {
    pub plan: &'a ActionPlan,
    pub basis: &'a serde_json::Value,
}
