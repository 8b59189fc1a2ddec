//! [`PlanRules`]: what a council configures about planning: who leads a plan, where a client can
//! turn when no partner can help, the words plans are said in, and the names of the referring
//! organisations.

use std::collections::BTreeMap;

use pathways_core::NeedCode;
use serde::{Deserialize, Serialize};

use crate::messages::Messages;
use crate::signposts::SignpostCatalogue;

/// The configurable rules the planner follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRules {
    /// Who leads, tried in order; when none applies the referring organisation leads.
    pub lead_rules: Vec<LeadRule>,
    /// Signposts for unmet needs and for the wait before a service can start.
    pub signposts: SignpostCatalogue,
    /// The client-facing words, per language.
    pub messages: Messages,
    /// Referring organisations by id (`[organisations]`): their names and networks.
    pub organisations: BTreeMap<String, Organisation>,
}

impl Default for PlanRules {
    /// [`LeadRule::defaults`], the built-in signposts and English.
    fn default() -> Self {
        Self {
            lead_rules: LeadRule::defaults(),
            signposts: SignpostCatalogue::builtin(),
            messages: Messages::builtin(),
            organisations: BTreeMap::new(),
        }
    }
}

impl PlanRules {
    /// The network organisation `id` belongs to: as configured, else the built-in network
    /// whose id starts it (`citizens-advice-kc` is in `citizens-advice`).
    pub fn network_of(&self, id: &str) -> Option<String> {
        if let Some(network) = self.organisations.get(id).and_then(|o| o.network.clone()) {
            return Some(network);
        }
        KNOWN_NETWORKS
            .iter()
            .find(|n| id == **n || id.starts_with(&format!("{n}-")))
            .map(|n| (*n).to_string())
    }
}

/// Networks whose national lines the built-in signposts mark.
const KNOWN_NETWORKS: &[&str] = &["citizens-advice"];

/// A referring organisation (`[organisations.<id>]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// Its name, as a client knows it, e.g. `Citizens Advice Kensington and Chelsea`.
    pub name: String,
    /// The national network it belongs to, e.g. `citizens-advice`: the plan never signposts
    /// its clients to that network's own national line.
    #[serde(default)]
    pub network: Option<String>,
}

/// One rule for choosing the lead coordinator (`[[orchestrator.lead_rules]]`):
///
/// ```toml
/// [[orchestrator.lead_rules]]
/// when_need = "domestic_abuse"
/// lead = "partner_serving_need"
/// because = "your safety comes first"
///
/// [[orchestrator.lead_rules]]
/// when_need = "safeguarding"
/// lead = "statutory"
/// partner = "kc-adult-social-care"
///
/// [[orchestrator.lead_rules]]
/// lead = "client_preference"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadRule {
    /// The rule applies when the case has this need; absent means always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_need: Option<NeedCode>,
    /// Who leads when it applies.
    pub lead: LeadChoice,
    /// For `statutory`: the partner (or organisation) id that leads by law.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
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
    /// The partner the plan refers the most needs to (at least two; ties go to the earlier
    /// step); the rule does not apply otherwise.
    MostSteps,
    /// The rule's `partner`, named in configuration, whether or not the plan refers to it
    /// (e.g. adult social care leads on safeguarding).
    Statutory,
    /// The organisation the case's `lead_preference` names, when it is the referrer or a
    /// partner the plan refers to.
    ClientPreference,
}

impl LeadRule {
    /// The default: a specialist domestic-abuse service leads when that need is referred
    /// (docs/domain.md); otherwise the referring organisation does.
    pub fn defaults() -> Vec<LeadRule> {
        vec![LeadRule {
            when_need: Some(NeedCode::DomesticAbuse),
            lead: LeadChoice::PartnerServingNeed,
            partner: None,
            because: Some("your safety comes first".into()),
        }]
    }

    /// What is wrong with the rule, if anything, for the configuration check.
    pub fn problem(&self) -> Option<String> {
        match (self.lead, &self.partner, self.when_need) {
            (LeadChoice::Statutory, None, _) => {
                Some("`lead = \"statutory\"` needs `partner`, the id of the statutory lead".into())
            }
            (LeadChoice::Statutory, Some(_), None) => Some(
                "`lead = \"statutory\"` needs `when_need`: a statutory lead is for a need".into(),
            ),
            (LeadChoice::PartnerServingNeed, _, None) => {
                Some("`lead = \"partner_serving_need\"` needs `when_need`".into())
            }
            (LeadChoice::Statutory, Some(_), Some(_)) => None,
            (_, Some(_), _) => Some("`partner` is only for `lead = \"statutory\"`".into()),
            _ => None,
        }
    }
}
