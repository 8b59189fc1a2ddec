//! Behaviour of the planner, one rule per test: the shape of a plan here, the choice of
//! offer in `ranking`, lead rules, consent, step kinds and statistics in `policy`, and the
//! invariants over generated inputs in `properties`.

mod policy;
mod properties;
mod ranking;
mod words;

use chrono::{TimeZone, Utc};
use pathways_core::{
    ActionPlan, Capacity, Case, ClientField, Eligibility, NeedCode, PartnerOutcome, Urgency,
};
use serde_json::json;

use super::{build_plan, PathwayStats, PlanRules};
use crate::fanout::PartnerAnswer;
use crate::testing::{answered, case_edited, case_with_needs, manifest, offer, offer_with, today};

pub(super) fn plan(case: &Case, answers: &[PartnerAnswer]) -> ActionPlan {
    let generated_at = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    build_plan(case, answers, &PathwayStats::new(), &PlanRules::default(), today(), generated_at)
}

pub(super) fn plan_of(case: &Case, answers: Vec<PartnerAnswer>) -> ActionPlan {
    plan(case, &answers)
}

pub(super) fn chosen(plan: &ActionPlan, need: NeedCode) -> Option<&str> {
    plan.steps.iter().find(|s| s.need == need)?.partner_id()
}

fn assert_every_need_once(case: &Case, plan: &ActionPlan) {
    let mut covered = plan.steps.iter().map(|s| s.need).collect::<Vec<_>>();
    let mut expected: Vec<NeedCode> = case.needs.iter().map(|n| n.code).collect();
    covered.sort();
    expected.sort();
    assert_eq!(covered, expected, "every need exactly once: {plan:#?}");
}

#[test]
fn every_need_appears_exactly_once_in_steps_or_unmet() {
    let case = case_with_needs(&[
        (NeedCode::Food, Urgency::Urgent),
        (NeedCode::DebtMoney, Urgency::Soon),
        (NeedCode::MentalHealth, Urgency::Soon),
        (NeedCode::Digital, Urgency::Routine),
    ]);
    let mut stray = answered("advice", vec![offer(NeedCode::DebtMoney, "d", "Debt Advice")]);
    // Offers for needs it was not asked about, or the case does not have, are ignored.
    stray.offers.push(offer(NeedCode::Transport, "t", "Minibus"));
    stray.offers.push(offer(NeedCode::Food, "f2", "Pantry"));
    let answers = vec![
        answered(
            "foodbank",
            vec![offer(NeedCode::Food, "f", "Food Bank"), offer(NeedCode::Food, "f", "Food Bank")],
        ),
        stray,
        answered(
            "talking",
            vec![offer_with(
                NeedCode::MentalHealth,
                "m",
                Capacity::NoCapacity,
                Eligibility::Eligible,
            )],
        ),
    ];
    let plan = plan(&case, &answers);
    assert_every_need_once(&case, &plan);
    assert_eq!(chosen(&plan, NeedCode::Food), Some("foodbank"));
    assert_eq!(chosen(&plan, NeedCode::DebtMoney), Some("advice"));
    assert_eq!(
        plan.unmet().map(|u| u.need).collect::<Vec<_>>(),
        [NeedCode::MentalHealth, NeedCode::Digital]
    );
    assert_eq!(plan.steps.iter().map(|s| s.order).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert!(plan.steps[0].fallbacks().is_empty(), "a repeated offer is not its own fallback");
}

#[test]
fn steps_are_ordered_safety_first_then_urgency() {
    let case = case_with_needs(&[
        (NeedCode::Food, Urgency::Emergency),
        (NeedCode::DebtMoney, Urgency::Urgent),
        (NeedCode::DomesticAbuse, Urgency::Routine),
        (NeedCode::HousingHomelessness, Urgency::Emergency),
        (NeedCode::Safeguarding, Urgency::Soon),
        (NeedCode::Digital, Urgency::Routine),
    ]);
    let answers: Vec<PartnerAnswer> = case
        .needs
        .iter()
        .map(|n| answered(&format!("p-{}", n.code), vec![offer(n.code, "s", "Service")]))
        .collect();
    let plan = plan(&case, &answers);
    let order: Vec<NeedCode> = plan.steps.iter().map(|s| s.need).collect();
    assert_eq!(
        order,
        [
            NeedCode::HousingHomelessness,
            NeedCode::Safeguarding,
            NeedCode::DomesticAbuse,
            NeedCode::Food,
            NeedCode::DebtMoney,
            NeedCode::Digital,
        ]
    );
    assert_eq!(plan.steps[0].due_by, today());
}

#[test]
fn plan_is_the_same_whatever_order_the_answers_arrive_in() {
    let case =
        case_with_needs(&[(NeedCode::Food, Urgency::Urgent), (NeedCode::DebtMoney, Urgency::Soon)]);
    let mut answers = vec![
        answered(
            "x",
            vec![offer(NeedCode::Food, "1", "One"), offer(NeedCode::DebtMoney, "2", "Two")],
        ),
        answered("y", vec![offer(NeedCode::Food, "3", "Three")]),
        answered(
            "w",
            vec![offer_with(NeedCode::DebtMoney, "4", Capacity::Waitlist, Eligibility::Unknown)],
        ),
    ];
    let first = plan(&case, &answers);
    assert_eq!(first, plan(&case, &answers), "same inputs, same plan");
    answers.reverse();
    assert_eq!(first, plan(&case, &answers), "answer order does not matter");
}

#[test]
fn safe_contact_client_shares_no_contact_details_except_with_a_domestic_abuse_service() {
    let case = case_edited(
        &[(NeedCode::DomesticAbuse, Urgency::Emergency), (NeedCode::Food, Urgency::Urgent)],
        |c| c["client"]["safe_contact"] = json!(true),
    );
    let mut refuge =
        answered("refuge", vec![offer(NeedCode::DomesticAbuse, "idva", "Refuge IDVA")]);
    refuge.manifest = manifest("refuge", &[NeedCode::DomesticAbuse]);
    let answers = vec![refuge, answered("foodbank", vec![offer(NeedCode::Food, "f", "Food Bank")])];
    let plan = plan(&case, &answers);
    let shares = |need| plan.steps.iter().find(|s| s.need == need).unwrap().shares().to_vec();
    assert_eq!(shares(NeedCode::Food), [ClientField::Name, ClientField::Household]);
    assert!(shares(NeedCode::DomesticAbuse).contains(&ClientField::Address));
    assert!(shares(NeedCode::DomesticAbuse).contains(&ClientField::Phone));
    let food_why = &plan.steps.iter().find(|s| s.need == NeedCode::Food).unwrap().why;
    assert!(food_why.contains("through citizens-advice-kc, not directly"), "{food_why}");
}

#[test]
fn a_self_declared_domestic_abuse_service_gets_no_contact_details_nor_does_its_other_steps() {
    let case = case_edited(
        &[
            (NeedCode::DomesticAbuse, Urgency::Emergency),
            (NeedCode::HousingHomelessness, Urgency::Urgent),
        ],
        |c| c["client"]["safe_contact"] = json!(true),
    );
    let refuge_offers = vec![
        offer(NeedCode::DomesticAbuse, "idva", "Refuge IDVA"),
        offer(NeedCode::HousingHomelessness, "beds", "Refuge beds"),
    ];
    let mut refuge = answered("refuge", refuge_offers);
    refuge.manifest = manifest("refuge", &[NeedCode::DomesticAbuse, NeedCode::HousingHomelessness]);
    let contact = |plan: &pathways_core::ActionPlan, need| {
        let step = plan.steps.iter().find(|s| s.need == need).unwrap();
        step.shares().contains(&ClientField::Address) || step.shares().contains(&ClientField::Phone)
    };
    // Confirmed by the council: contact details on the abuse step only.
    let confirmed = plan(&case, std::slice::from_ref(&refuge));
    assert!(contact(&confirmed, NeedCode::DomesticAbuse));
    assert!(!contact(&confirmed, NeedCode::HousingHomelessness), "not on its other step");
    // The manifest alone: none at all.
    refuge.domestic_abuse_confirmed = false;
    let unconfirmed = plan(&case, &[refuge]);
    assert!(!contact(&unconfirmed, NeedCode::DomesticAbuse), "self-declared is not enough");
}

#[test]
fn needs_consent_when_share_with_lists_other_partners() {
    let case = case_edited(
        &[(NeedCode::Food, Urgency::Urgent), (NeedCode::DebtMoney, Urgency::Soon)],
        |c| c["consent"]["share_with"] = json!(["foodbank"]),
    );
    let answers = vec![
        answered("foodbank", vec![offer(NeedCode::Food, "f", "Food Bank")]),
        answered("advice", vec![offer(NeedCode::DebtMoney, "d", "Debt Advice")]),
    ];
    let plan = plan(&case, &answers);
    let step = |need| plan.steps.iter().find(|s| s.need == need).unwrap();
    assert!(!step(NeedCode::Food).needs_consent());
    assert!(step(NeedCode::DebtMoney).needs_consent());
    assert!(step(NeedCode::DebtMoney)
        .why
        .ends_with("We need your agreement before we share your details with them."));
}

#[test]
fn domestic_abuse_service_leads_when_it_takes_the_referral_else_the_referrer() {
    let case = case_with_needs(&[
        (NeedCode::Food, Urgency::Urgent),
        (NeedCode::DomesticAbuse, Urgency::Urgent),
    ]);
    let food = answered("foodbank", vec![offer(NeedCode::Food, "f", "Food Bank")]);
    let refuge = answered("refuge", vec![offer(NeedCode::DomesticAbuse, "idva", "Refuge IDVA")]);
    let with_refuge = plan(&case, &[food.clone(), refuge]);
    assert_eq!(with_refuge.lead.id(), "refuge");
    assert!(
        with_refuge.lead.why().starts_with("Refuge IDVA will lead your plan"),
        "{}",
        with_refuge.lead.why()
    );

    let without = plan(&case, &[food]);
    assert_eq!(without.lead.id(), "citizens-advice-kc");
    assert!(without.lead.why().starts_with("citizens-advice-kc will coordinate your plan"));
}

#[test]
fn unmet_needs_say_why_and_where_to_turn() {
    let case = case_with_needs(&[
        (NeedCode::HousingHomelessness, Urgency::Emergency),
        (NeedCode::Food, Urgency::Urgent),
    ]);
    let mut silent = answered("foodbank", vec![]);
    silent.asked = vec![NeedCode::Food];
    silent.outcome = PartnerOutcome::TimedOut;
    let plan = plan(&case, &[silent]);
    assert_eq!(plan.partners[0].outcome, PartnerOutcome::TimedOut);
    let housing = &plan.unmet().next().unwrap();
    assert_eq!(housing.need, NeedCode::HousingHomelessness);
    assert!(housing.why.starts_with(
        "None of the services we work with in your area helps with somewhere to live"
    ));
    assert!(housing
        .signposts()
        .iter()
        .any(|s| s.to_string().contains("Shelter") && s.to_string().contains("0808 800 4444")));
    let food = &plan.unmet().nth(1).unwrap();
    assert!(food.why.contains("Partner foodbank did not answer in time"), "{}", food.why);
    assert!(!food.signposts().is_empty());
    assert!(crate::testing::taken(&plan).iter().all(|s| s.is_refer()));
}
