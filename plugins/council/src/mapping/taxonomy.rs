//! Which taxonomy terms mean which need, and which circumstances a service's eligibility
//! terms name.
//!
//! Open Referral UK directories tag services with terms of the LGA's ESD lists, written as
//! CURIEs: `esdNeed:N` (what a person needs), `esdServiceType:N` (what a service does) and
//! `esdCircumstance:N` (who it is for). The built-in table is the one the sandbox directory
//! uses; only `esdNeed:69` (loneliness and social isolation) is taken from the published list,
//! the other numbers must be checked against a real directory's taxonomy, and a council whose
//! directory differs sets `taxonomy_terms` in the partner's settings.
//!
//! | need | terms searched |
//! |---|---|
//! | debt_money | `esdNeed:33` money and debt, `esdServiceType:116` welfare rights advice |
//! | fuel_utilities | `esdNeed:34` heating and energy costs, `esdServiceType:133` energy advice and grants |
//! | housing_conditions | `esdNeed:46` poor housing conditions, `esdServiceType:52` housing standards enforcement |
//! | social_isolation | `esdNeed:69` loneliness and social isolation, `esdServiceType:23` befriending |
//! | digital | `esdNeed:101` getting online, `esdServiceType:178` digital inclusion |
//! | carer_care | `esdNeed:12` help with daily living, `esdServiceType:34` care assessment, `esdServiceType:35` carers assessment |
//! | employment_skills | `esdNeed:25` work and skills, `esdServiceType:61` employment support |
//! | family_children | `esdNeed:40` family support, `esdServiceType:89` family hub |
//! | transport | `esdNeed:91` getting about, `esdServiceType:156` community transport |
//! | physical_health_disability | `esdNeed:55` mobility and disability, `esdServiceType:20` Blue Badge |
//!
//! Eligibility terms (`esdCircumstance:7` unpaid carer, `:21` family with children, `:22`
//! expecting a baby) map to the case's circumstances.

use std::collections::BTreeMap;

use pathways_sdk::{Circumstance, NeedCode};

/// The built-in need → terms table (see the module doc).
const DEFAULT_TERMS: &[(NeedCode, &[&str])] = &[
    (NeedCode::DebtMoney, &["esdNeed:33", "esdServiceType:116"]),
    (NeedCode::FuelUtilities, &["esdNeed:34", "esdServiceType:133"]),
    (NeedCode::HousingConditions, &["esdNeed:46", "esdServiceType:52"]),
    (NeedCode::SocialIsolation, &["esdNeed:69", "esdServiceType:23"]),
    (NeedCode::Digital, &["esdNeed:101", "esdServiceType:178"]),
    (NeedCode::CarerCare, &["esdNeed:12", "esdServiceType:34", "esdServiceType:35"]),
    (NeedCode::EmploymentSkills, &["esdNeed:25", "esdServiceType:61"]),
    (NeedCode::FamilyChildren, &["esdNeed:40", "esdServiceType:89"]),
    (NeedCode::Transport, &["esdNeed:91", "esdServiceType:156"]),
    (NeedCode::PhysicalHealthDisability, &["esdNeed:55", "esdServiceType:20"]),
];

/// `esdCircumstance:` terms and the circumstance each means, with words for a pathfinder.
const CIRCUMSTANCES: &[(&str, Circumstance, &str)] = &[
    ("esdCircumstance:7", Circumstance::UnpaidCarer, "unpaid carers"),
    ("esdCircumstance:21", Circumstance::ChildrenInHousehold, "families with children"),
    ("esdCircumstance:22", Circumstance::Pregnant, "expectant parents"),
];

/// The needs the connector serves, in the table's order.
pub(crate) fn served_needs() -> Vec<NeedCode> {
    DEFAULT_TERMS.iter().map(|(need, _)| *need).collect()
}

/// The terms searched for each need: the built-in table with the settings' replacements.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Taxonomy {
    terms: Vec<(NeedCode, Vec<String>)>,
}

impl Taxonomy {
    /// The built-in table, with `overrides` (need code → term ids, already validated) in place
    /// of the built-in terms of the needs they name.
    pub(crate) fn new(overrides: &BTreeMap<String, Vec<String>>) -> Self {
        let terms = DEFAULT_TERMS
            .iter()
            .map(|(need, defaults)| {
                let terms = match overrides.get(need.as_str()) {
                    Some(custom) => custom.iter().map(|t| t.trim().to_string()).collect(),
                    None => defaults.iter().map(|t| (*t).to_string()).collect(),
                };
                (*need, terms)
            })
            .collect();
        Self { terms }
    }

    /// The terms searched for `need` (empty for a need the connector does not serve).
    pub(crate) fn terms_for(&self, need: NeedCode) -> &[String] {
        self.terms.iter().find(|(n, _)| *n == need).map_or(&[], |(_, terms)| terms.as_slice())
    }

    /// Whether `term` (a term id) means `need`.
    pub(crate) fn means(&self, term: &str, need: NeedCode) -> bool {
        self.terms_for(need).iter().any(|t| t == term)
    }
}

/// The circumstance an `esdCircumstance:` term names, and words for it; `None` when the term
/// is not in the table.
pub(crate) fn circumstance(term: &str) -> Option<(Circumstance, &'static str)> {
    CIRCUMSTANCES.iter().find(|(t, _, _)| *t == term).map(|(_, c, words)| (*c, *words))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_need_has_terms_and_overrides_replace_them() {
        let builtin = Taxonomy::new(&BTreeMap::new());
        for need in served_needs() {
            assert!(!builtin.terms_for(need).is_empty(), "{need}");
        }
        assert!(builtin.means("esdNeed:69", NeedCode::SocialIsolation));
        assert!(!builtin.means("esdNeed:69", NeedCode::Digital));
        assert!(builtin.terms_for(NeedCode::Food).is_empty(), "food is the food bank's");
        let custom = Taxonomy::new(&BTreeMap::from([(
            "social_isolation".to_string(),
            vec![" myTerms:lonely ".to_string()],
        )]));
        assert_eq!(custom.terms_for(NeedCode::SocialIsolation), ["myTerms:lonely"]);
        assert!(!custom.means("esdNeed:69", NeedCode::SocialIsolation));
        assert_eq!(custom.terms_for(NeedCode::Digital), builtin.terms_for(NeedCode::Digital));
    }

    #[test]
    fn circumstance_terms_map_to_case_circumstances() {
        assert_eq!(circumstance("esdCircumstance:7").map(|c| c.0), Some(Circumstance::UnpaidCarer));
        assert_eq!(circumstance("esdCircumstance:999"), None);
    }
}
