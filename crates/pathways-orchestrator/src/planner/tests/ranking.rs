//! Which offer the planner chooses for a need.

use chrono::Days;
use pathways_core::{Capacity, Eligibility, NeedCode, OfferLocation, Urgency};

use super::{chosen, plan, plan_of};
use crate::testing::{answered, case_with_needs, offer, offer_with, today};

#[test]
fn plan_prefers_capacity_over_waitlist_over_no_capacity() {
    let case = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]);
    let food = |partner: &str, capacity| {
        answered(
            partner,
            vec![offer_with(NeedCode::Food, partner, capacity, Eligibility::Eligible)],
        )
    };
    let answers = vec![
        food("a-none", Capacity::NoCapacity),
        food("b-waitlist", Capacity::Waitlist),
        food("c-capacity", Capacity::Capacity),
    ];
    let plan = plan(&case, &answers);
    assert_eq!(chosen(&plan, NeedCode::Food), Some("c-capacity"));
    let fallbacks: Vec<&str> =
        plan.steps[0].fallbacks().iter().map(|f| f.chosen.partner.id.as_str()).collect();
    assert_eq!(fallbacks, ["b-waitlist"], "a partner with no capacity is never a fallback");

    let without_capacity = plan_of(
        &case,
        vec![food("a-none", Capacity::NoCapacity), food("b-waitlist", Capacity::Waitlist)],
    );
    assert_eq!(chosen(&without_capacity, NeedCode::Food), Some("b-waitlist"));
}

#[test]
fn plan_never_picks_a_not_eligible_offer() {
    let case = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]);
    let not_eligible = Eligibility::NotEligible { reason: "only for people over 60".into() };
    let mut near = offer_with(NeedCode::Food, "near", Capacity::Capacity, not_eligible.clone());
    near.location =
        Some(OfferLocation { name: "Hall".into(), postcode: None, distance_m: Some(100) });
    let far = offer_with(NeedCode::Food, "far", Capacity::Waitlist, Eligibility::Eligible);
    let plan =
        plan_of(&case, vec![answered("a-near", vec![near.clone()]), answered("b-far", vec![far])]);
    assert_eq!(chosen(&plan, NeedCode::Food), Some("b-far"));
    assert!(plan.steps[0].fallbacks().is_empty());

    let only_ineligible = plan_of(&case, vec![answered("a-near", vec![near])]);
    assert!(crate::testing::taken(&only_ineligible).is_empty());
    assert!(
        only_ineligible
            .unmet()
            .next()
            .unwrap()
            .why
            .contains("said you do not qualify: only for people over 60."),
        "{}",
        only_ineligible.unmet().next().unwrap().why
    );
}

#[test]
fn eligible_beats_unknown_eligibility_even_with_less_capacity() {
    let case = case_with_needs(&[(NeedCode::DebtMoney, Urgency::Soon)]);
    let unknown = offer_with(NeedCode::DebtMoney, "u", Capacity::Capacity, Eligibility::Unknown);
    let eligible = offer_with(NeedCode::DebtMoney, "e", Capacity::Waitlist, Eligibility::Eligible);
    let plan = plan_of(
        &case,
        vec![answered("a-unknown", vec![unknown]), answered("b-eligible", vec![eligible])],
    );
    assert_eq!(chosen(&plan, NeedCode::DebtMoney), Some("b-eligible"));
}

#[test]
fn an_offer_in_time_beats_a_nearer_one_that_starts_too_late() {
    let case = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]); // due in 3 days
    let mut late = offer(NeedCode::Food, "late", "Late Pantry");
    late.earliest_start = today().checked_add_days(Days::new(10));
    late.location =
        Some(OfferLocation { name: "Next door".into(), postcode: None, distance_m: Some(50) });
    let mut soon = offer(NeedCode::Food, "soon", "Soon Pantry");
    soon.earliest_start = today().checked_add_days(Days::new(2));
    soon.location =
        Some(OfferLocation { name: "Across town".into(), postcode: None, distance_m: Some(5000) });
    let plan = plan_of(&case, vec![answered("a-late", vec![late]), answered("b-soon", vec![soon])]);
    assert_eq!(chosen(&plan, NeedCode::Food), Some("b-soon"));
    assert!(plan.steps[0].fallbacks()[0]
        .why
        .starts_with("If Soon Pantry cannot help, Late Pantry can see you"));
}

#[test]
fn a_partner_already_chosen_wins_a_tie_for_fewer_hand_offs() {
    let case = case_with_needs(&[
        (NeedCode::Food, Urgency::Urgent),
        (NeedCode::DebtMoney, Urgency::Emergency),
        (NeedCode::Digital, Urgency::Routine),
    ]);
    // Both can meet two of the case's needs; the hub is chosen first, for the more urgent debt.
    let answers = vec![
        answered(
            "a-pantry",
            vec![offer(NeedCode::Food, "p", "Pantry"), offer(NeedCode::Digital, "g", "Data Bank")],
        ),
        answered(
            "z-hub",
            vec![
                offer(NeedCode::DebtMoney, "d", "Hub Debt"),
                offer(NeedCode::Food, "f", "Hub Food"),
            ],
        ),
    ];
    let plan = plan(&case, &answers);
    assert_eq!(chosen(&plan, NeedCode::DebtMoney), Some("z-hub"));
    assert_eq!(
        chosen(&plan, NeedCode::Food),
        Some("z-hub"),
        "ties go to the partner already involved"
    );
    assert!(
        plan.steps[1].why.contains("also helping you with debt and money"),
        "{}",
        plan.steps[1].why
    );
}

#[test]
fn nearer_wins_when_all_else_is_equal_and_partner_id_breaks_exact_ties() {
    let case = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]);
    let at = |id: &str, metres| {
        let mut o = offer(NeedCode::Food, id, id);
        o.location =
            Some(OfferLocation { name: id.into(), postcode: None, distance_m: Some(metres) });
        answered(id, vec![o])
    };
    assert_eq!(
        chosen(&plan_of(&case, vec![at("a", 900), at("b", 300)]), NeedCode::Food),
        Some("b")
    );
    assert_eq!(
        chosen(&plan_of(&case, vec![at("b", 300), at("a", 300)]), NeedCode::Food),
        Some("a")
    );
}

#[test]
fn keeps_at_most_two_fallbacks_in_rank_order() {
    let case = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]);
    let food = |partner: &str, capacity| {
        let mut o = offer_with(NeedCode::Food, partner, capacity, Eligibility::Eligible);
        o.service.name = format!("{partner} pantry");
        answered(partner, vec![o])
    };
    let plan = plan_of(
        &case,
        vec![
            food("d", Capacity::Unknown),
            food("c", Capacity::AssessmentRequired),
            food("b", Capacity::Waitlist),
            food("a", Capacity::Capacity),
        ],
    );
    let step = &plan.steps[0];
    assert_eq!(step.partner_id(), Some("a"));
    let fallbacks: Vec<&str> =
        step.fallbacks().iter().map(|f| f.chosen.partner.id.as_str()).collect();
    assert_eq!(fallbacks, ["b", "c"]);
    assert!(
        step.fallbacks()[0].why.starts_with("If a pantry cannot help, b pantry"),
        "{}",
        step.fallbacks()[0].why
    );
    assert!(
        step.fallbacks()[1].why.starts_with("If neither a pantry nor b pantry can help, c pantry"),
        "{}",
        step.fallbacks()[1].why
    );
}

#[test]
fn a_service_offered_twice_can_be_chosen_when_one_of_its_offers_takes_the_client() {
    use crate::planner::{amend_plan, Amender, PathwayStats, PlanRules};
    use chrono::TimeZone;
    use pathways_core::Amendment;
    // The same service answered twice for food (one offer per location): the first says the
    // client does not qualify there, the second takes them. Choosing it is allowed; the
    // amendment used to read only the first offer and refuse.
    let case = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]);
    let not_eligible = Eligibility::NotEligible { reason: "only for people over 60".into() };
    let first = offer_with(NeedCode::Food, "hall", Capacity::Capacity, not_eligible);
    let second = offer_with(NeedCode::Food, "hall", Capacity::Capacity, Eligibility::Eligible);
    let other = offer_with(NeedCode::Food, "other", Capacity::Capacity, Eligibility::Eligible);
    let answers = vec![answered("a", vec![other]), answered("b", vec![first, second])];
    let plan = plan(&case, &answers);
    let need_id = plan.steps[0].need_id.clone();
    let choose = Amendment::Choose { need_id, partner_id: "b".into(), service_id: "hall".into() };
    let who = Amender {
        by: "pf-1",
        reason: None,
        at: chrono::Utc.with_ymd_and_hms(2026, 11, 20, 11, 0, 0).unwrap(),
    };
    let amended = amend_plan(
        &case,
        &answers,
        &PathwayStats::default(),
        &PlanRules::default(),
        &plan,
        vec![choose],
        &who,
    )
    .expect("an offer of the service takes the client");
    assert_eq!(chosen(&amended, NeedCode::Food), Some("b"));
}
