//! What a referral needs beyond consent, declared by a connector in its manifest
//! (`requires`), and the one function that says what a case is missing for a step.
//!
//! The planner marks a step `blocked` with exactly what [`missing_prerequisites`] returns, and
//! the referral intake refuses a step for exactly the same list, so no step is planned as
//! sendable and then refused for a reason known when planning.

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::need::NeedCode;
use crate::partner::Manifest;
use crate::referral::ClientField;

/// One thing a connector requires of a referral, for some needs or for all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Requirement {
    /// The needs it applies to; empty means every need the connector serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<NeedCode>,
    /// What is required.
    #[serde(flatten)]
    pub what: Prerequisite,
}

impl Requirement {
    /// Whether it applies to a referral for `need`.
    pub fn applies_to(&self, need: NeedCode) -> bool {
        self.needs.is_empty() || self.needs.contains(&need)
    }
}

/// What a connector requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Prerequisite {
    /// The three Duty to Refer facts (Homelessness Reduction Act 2017, s.213B): consent to
    /// refer, consent to share contact details, and the housing authority the client chose,
    /// which must be one of `authorities` when that list is not empty.
    DutyToRefer {
        /// ONS codes of the authorities this partner refers to; empty means any.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        authorities: Vec<String>,
    },
    /// The case must record this client field (a phone number, an email address...).
    ClientField {
        /// Which field.
        field: ClientField,
    },
    /// The partner must be able to contact the client directly: a phone number or an email
    /// address that is not withheld for the client's safety.
    DirectContact,
    /// A requirement this host does not know (declared by a newer SDK): never blocks a step.
    #[serde(other)]
    Unknown,
}

/// Something a case lacks for one step.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Missing {
    /// Duty to Refer: the client's consent to be referred to a housing authority.
    ConsentToRefer,
    /// Duty to Refer: the client's consent to share their contact details with it.
    ConsentToShareContact,
    /// Duty to Refer: which housing authority the client chooses.
    ChosenAuthority,
    /// Duty to Refer: the chosen authority is not one this partner refers to.
    AuthorityNotServed {
        /// The authority the case names.
        chosen: String,
    },
    /// A client field the case does not record.
    ClientField {
        /// Which field.
        field: ClientField,
    },
    /// A way for the partner to contact the client directly.
    DirectContact,
}

impl Missing {
    /// What to ask the client, for the pathfinder ("may we refer you to the housing
    /// authority?"). The planner's client-facing words come from the message catalogue; this
    /// is the pathfinder's and the API's wording.
    pub fn ask(&self) -> String {
        match self {
            Missing::ConsentToRefer => {
                "may we refer you to the housing authority? (Duty to Refer: consent to refer)".into()
            }
            Missing::ConsentToShareContact => {
                "may we give the housing authority your contact details? (Duty to Refer: consent to share contact details)".into()
            }
            Missing::ChosenAuthority => {
                "which housing authority do you want to be referred to? (Duty to Refer: chosen authority)".into()
            }
            Missing::AuthorityNotServed { chosen } => format!(
                "the client chose housing authority {chosen}, which this partner does not refer to: refer through a partner for that authority, or ask whether another authority will do"
            ),
            Missing::ClientField { field } => {
                format!("the client's {} (this partner needs it)", field.describe())
            }
            Missing::DirectContact => {
                "a phone number or email address the partner may use to contact the client directly".into()
            }
        }
    }
}

/// What to ask the client before a step lacking `missing` can be referred: the same words in
/// the plan's note for the pathfinder and in the referral intake's refusal.
pub fn what_to_ask(missing: &[Missing]) -> String {
    let asks: Vec<String> = missing.iter().map(Missing::ask).collect();
    format!("ask the client: {}", asks.join("; "))
}

/// Everything `case` lacks for a referral of `need` to a partner with `manifest`, in a fixed
/// order; empty when the step can be sent (consent aside: that is [`crate::Consent::cover`]).
/// `confirmed_domestic_abuse_service`: the council confirmed the partner as one, so a
/// safe-contact client's contact details may reach it for that need
/// ([`crate::receives_safe_contact_details`]); for anyone else they are withheld, and a
/// requirement for them is missing however much the case records.
pub fn missing_prerequisites(
    case: &Case,
    manifest: &Manifest,
    need: NeedCode,
    confirmed_domestic_abuse_service: bool,
) -> Vec<Missing> {
    let withheld = case.client.safe_contact
        && !crate::receives_safe_contact_details(confirmed_domestic_abuse_service, manifest, need);
    let mut missing = Vec::new();
    for requirement in manifest.requires.iter().filter(|r| r.applies_to(need)) {
        match &requirement.what {
            Prerequisite::DutyToRefer { authorities } => match &case.consent.duty_to_refer {
                None => missing.extend([
                    Missing::ConsentToRefer,
                    Missing::ConsentToShareContact,
                    Missing::ChosenAuthority,
                ]),
                Some(dtr) => {
                    if !dtr.consent_to_refer {
                        missing.push(Missing::ConsentToRefer);
                    }
                    if !dtr.consent_to_share_contact {
                        missing.push(Missing::ConsentToShareContact);
                    }
                    let chosen = dtr.chosen_authority.trim();
                    if chosen.is_empty() {
                        missing.push(Missing::ChosenAuthority);
                    } else if !authorities.is_empty() && !authorities.iter().any(|a| a == chosen) {
                        missing.push(Missing::AuthorityNotServed { chosen: chosen.to_string() });
                    }
                }
            },
            Prerequisite::ClientField { field } => {
                if !case.records(*field) || (withheld && field.is_contact()) {
                    missing.push(Missing::ClientField { field: *field });
                }
            }
            Prerequisite::DirectContact => {
                let reachable =
                    !withheld && (case.client.phone.is_some() || case.client.email.is_some());
                if !reachable {
                    missing.push(Missing::DirectContact);
                }
            }
            Prerequisite::Unknown => {}
        }
    }
    missing.sort();
    missing.dedup();
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(requires: Vec<Requirement>) -> Manifest {
        let json = serde_json::json!({
            "plugin": "housing", "kind": "housing", "version": "1", "description": "d",
            "needs": ["housing_homelessness"], "shares": ["name"], "capabilities": ["referral"],
            "requires": requires,
        });
        serde_json::from_value(json).unwrap()
    }

    fn case(dtr: Option<serde_json::Value>) -> Case {
        let mut json: serde_json::Value = serde_json::from_str(include_str!(
            "../../../examples/cases/fleeing-abuse-housing.json"
        ))
        .unwrap();
        match dtr {
            Some(dtr) => json["consent"]["duty_to_refer"] = dtr,
            None => {
                json["consent"].as_object_mut().unwrap().remove("duty_to_refer");
            }
        }
        crate::parse_case(json.to_string().as_bytes()).unwrap()
    }

    fn dtr() -> Requirement {
        Requirement {
            needs: vec![NeedCode::HousingHomelessness],
            what: Prerequisite::DutyToRefer { authorities: vec!["E09000020".into()] },
        }
    }

    #[test]
    fn without_duty_to_refer_facts_all_three_are_missing() {
        let missing = missing_prerequisites(
            &case(None),
            &manifest(vec![dtr()]),
            NeedCode::HousingHomelessness,
            false,
        );
        assert_eq!(
            missing,
            vec![Missing::ConsentToRefer, Missing::ConsentToShareContact, Missing::ChosenAuthority]
        );
        // The requirement is for housing only.
        assert!(missing_prerequisites(&case(None), &manifest(vec![dtr()]), NeedCode::Food, false)
            .is_empty());
    }

    #[test]
    fn each_missing_fact_is_named_and_an_unserved_authority_too() {
        let given = serde_json::json!({"consent_to_refer": true, "consent_to_share_contact": false,
            "chosen_authority": "E09000033"});
        let missing = missing_prerequisites(
            &case(Some(given)),
            &manifest(vec![dtr()]),
            NeedCode::HousingHomelessness,
            false,
        );
        assert_eq!(
            missing,
            vec![
                Missing::ConsentToShareContact,
                Missing::AuthorityNotServed { chosen: "E09000033".into() }
            ]
        );
        let all = serde_json::json!({"consent_to_refer": true, "consent_to_share_contact": true,
            "chosen_authority": "E09000020"});
        assert!(missing_prerequisites(
            &case(Some(all)),
            &manifest(vec![dtr()]),
            NeedCode::HousingHomelessness,
            false
        )
        .is_empty());
    }

    #[test]
    fn contact_details_withheld_for_safety_are_missing_except_for_a_confirmed_abuse_service() {
        // The sample client is in danger (safe contact) and has an address and a phone.
        let case = case(None);
        assert!(case.client.safe_contact && case.records(ClientField::Address));
        let address = Requirement {
            needs: Vec::new(),
            what: Prerequisite::ClientField { field: ClientField::Address },
        };
        let direct = Requirement { needs: Vec::new(), what: Prerequisite::DirectContact };
        let mut m = manifest(vec![address, direct]);
        m.needs.push(NeedCode::DomesticAbuse);
        let council = missing_prerequisites(&case, &m, NeedCode::HousingHomelessness, false);
        assert_eq!(
            council,
            [Missing::ClientField { field: ClientField::Address }, Missing::DirectContact],
            "recorded, but never given to this partner"
        );
        // The council's confirmed domestic-abuse service receives them for that need only.
        assert!(missing_prerequisites(&case, &m, NeedCode::DomesticAbuse, true).is_empty());
        assert_eq!(missing_prerequisites(&case, &m, NeedCode::HousingHomelessness, true), council);
    }

    #[test]
    fn an_unknown_requirement_from_a_newer_sdk_reads_and_blocks_nothing() {
        let json = serde_json::json!({"kind": "biometric_proof", "needs": ["food"], "level": 3});
        let requirement: Requirement = serde_json::from_value(json).unwrap();
        assert_eq!(requirement.what, Prerequisite::Unknown);
        assert!(missing_prerequisites(
            &case(None),
            &manifest(vec![requirement]),
            NeedCode::Food,
            false
        )
        .is_empty());
    }
}
