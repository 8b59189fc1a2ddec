//! [`PlanRules`]: what a council configures about planning: who leads a plan, and where a client
//! can turn when no partner can help.

use pathways_core::NeedCode;
use serde::{Deserialize, Serialize};

use crate::signposts::SignpostCatalogue;

/// The configurable rules the planner follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRules {
    /// Who leads, tried in order; when none applies the referring organisation leads.
    pub lead_rules: Vec<LeadRule>,
    /// Signposts for unmet needs.
    pub signposts: SignpostCatalogue,
}

impl Default for PlanRules {
    /// [`LeadRule::defaults`] and the built-in signposts.
    fn default() -> Self {
        Self { lead_rules: LeadRule::defaults(), signposts: SignpostCatalogue::builtin() }
    }
}

/// One rule for choosing the lead coordinator (`[[orchestrator.lead_rules]]`):
///
/// ```toml
/// [[orchestrator.lead_rules]]
/// when_need = "domestic_abuse"
/// lead = "partner_serving_need"
/// because = "your safety comes first"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadRule {
    /// The rule applies when the case has this need.
    pub when_need: NeedCode,
    /// Who leads when it applies.
    pub lead: LeadChoice,
    /// Words to read aloud after "because", e.g. `your safety comes first`.
    #[serde(default)]
    pub because: Option<String>,
}

/// Who a [`LeadRule`] makes the lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadChoice {
    /// The partner the plan refers the rule's need to; the rule does not apply when that need
    /// has no referral (unmet, or a signpost).
    PartnerServingNeed,
    /// The referring organisation (stops later rules from applying).
    Referrer,
}

impl LeadRule {
    /// The default: a specialist domestic-abuse service leads when that need is referred
    /// (DOMAIN.md); otherwise the referring organisation does.
    pub fn defaults() -> Vec<LeadRule> {
        vec![LeadRule {
            when_need: NeedCode::DomesticAbuse,
            lead: LeadChoice::PartnerServingNeed,
            because: Some("your safety comes first".into()),
        }]
    }
}
