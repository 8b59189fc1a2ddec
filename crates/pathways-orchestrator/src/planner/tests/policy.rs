//! Lead rules, consent bases, `signpost` and `self_help` steps, and pathway statistics.

use chrono::{TimeZone, Utc};
use pathways_core::{Capability, Case, LawfulBasis, NeedCode, ServiceChannel, Urgency};
use serde_json::json;

use super::{chosen, plan};
use crate::planner::{build_plan, LeadChoice, LeadRule, PathwayCounts, PathwayStats, PlanRules};
use crate::testing::{answered, case_edited, case_with_needs, offer, today};
use crate::PartnerAnswer;

fn plan_with(
    case: &Case,
    answers: &[PartnerAnswer],
    stats: &PathwayStats,
    rules: &PlanRules,
) -> pathways_core::ActionPlan {
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    build_plan(case, answers, stats, rules, today(), at)
}

fn step(plan: &pathways_core::ActionPlan, need: NeedCode) -> &pathways_core::PlanStep {
    plan.steps.iter().find(|s| s.need == need).expect("a step for the need")
}

fn rules(lead_rules: Vec<LeadRule>) -> PlanRules {
    PlanRules { lead_rules, ..PlanRules::default() }
}

#[test]
fn configured_lead_rules_apply_in_order_and_skip_a_need_without_a_referral() {
    let case = case_with_needs(&[
        (NeedCode::Safeguarding, Urgency::Urgent),
        (NeedCode::HousingHomelessness, Urgency::Soon),
        (NeedCode::Food, Urgency::Urgent),
    ]);
    let answers = vec![
        answered(
            "housing-options",
            vec![offer(NeedCode::HousingHomelessness, "h", "Housing Options")],
        ),
        answered("foodbank", vec![offer(NeedCode::Food, "f", "Food Bank")]),
    ];
    let lead_rules = vec![
        // Safeguarding is unmet here, so this rule does not apply...
        LeadRule {
            when_need: Some(NeedCode::Safeguarding),
            lead: LeadChoice::PartnerServingNeed,
            partner: None,
            because: None,
        },
        // ...and the next one does, with the default wording.
        LeadRule {
            when_need: Some(NeedCode::HousingHomelessness),
            lead: LeadChoice::PartnerServingNeed,
            partner: None,
            because: None,
        },
    ];
    let plan = plan_with(&case, &answers, &PathwayStats::new(), &rules(lead_rules));
    assert_eq!(plan.lead.id(), "housing-options");
    assert_eq!(
        plan.lead.why(),
        "Housing Options will lead your plan, because they are helping you with somewhere to live; \
         they will work with citizens-advice-kc on the other steps."
    );
}

#[test]
fn a_referrer_rule_stops_later_rules_and_says_why() {
    let case = case_with_needs(&[(NeedCode::DomesticAbuse, Urgency::Urgent)]);
    let answers =
        vec![answered("refuge", vec![offer(NeedCode::DomesticAbuse, "idva", "Refuge IDVA")])];
    let mut lead_rules = vec![LeadRule {
        when_need: Some(NeedCode::DomesticAbuse),
        lead: LeadChoice::Referrer,
        partner: None,
        because: Some("they already know you.".into()),
    }];
    lead_rules.extend(LeadRule::defaults());
    let plan = plan_with(&case, &answers, &PathwayStats::new(), &rules(lead_rules));
    assert_eq!(plan.lead.id(), "citizens-advice-kc");
    assert!(
        plan.lead.why().starts_with(
            "citizens-advice-kc will coordinate your plan, because they already know you; "
        ),
        "{}",
        plan.lead.why()
    );
    let no_rules = plan_with(&case, &answers, &PathwayStats::new(), &rules(vec![]));
    assert_eq!(no_rules.lead.id(), "citizens-advice-kc", "no rule: the referrer leads");
}

#[test]
fn share_with_none_plans_every_step_but_each_needs_consent() {
    let case = case_edited(
        &[(NeedCode::Food, Urgency::Urgent), (NeedCode::DebtMoney, Urgency::Soon)],
        |c| c["consent"]["share_with"] = json!("none"),
    );
    let answers = vec![
        answered("foodbank", vec![offer(NeedCode::Food, "f", "Food Bank")]),
        answered("advice", vec![offer(NeedCode::DebtMoney, "d", "Debt Advice")]),
    ];
    let plan = plan(&case, &answers);
    assert_eq!(plan.steps.len(), 2);
    for step in &plan.steps {
        assert!(step.is_refer());
        assert!(step.needs_consent(), "{step:?}");
        assert!(step.why.contains("We need your agreement"), "{}", step.why);
    }
}

#[test]
fn safeguarding_basis_shares_for_protective_steps_only() {
    for basis in [LawfulBasis::Safeguarding, LawfulBasis::VitalInterests] {
        let case = case_edited(
            &[
                (NeedCode::Safeguarding, Urgency::Urgent),
                (NeedCode::HousingHomelessness, Urgency::Emergency),
                (NeedCode::DebtMoney, Urgency::Soon),
            ],
            |c| {
                c["consent"]["lawful_basis"] = json!(basis);
                c["consent"]["share_with"] = json!("none");
            },
        );
        let answers = vec![
            answered("social-care", vec![offer(NeedCode::Safeguarding, "s", "Adult Social Care")]),
            answered("housing", vec![offer(NeedCode::HousingHomelessness, "h", "Housing Options")]),
            answered("advice", vec![offer(NeedCode::DebtMoney, "d", "Debt Advice")]),
        ];
        let plan = plan(&case, &answers);
        for need in [NeedCode::Safeguarding, NeedCode::HousingHomelessness] {
            let protective = step(&plan, need);
            assert!(!protective.needs_consent(), "{basis:?} {need}");
            assert!(protective.why.contains("even without your agreement"), "{}", protective.why);
        }
        let debt = step(&plan, NeedCode::DebtMoney);
        assert!(debt.needs_consent(), "{basis:?}: protecting someone does not cover debt advice");
    }
}

#[test]
fn partner_without_referrals_gives_a_signpost_step_and_an_online_one_self_help() {
    let case =
        case_with_needs(&[(NeedCode::Food, Urgency::Urgent), (NeedCode::DebtMoney, Urgency::Soon)]);
    let mut pantry = answered("pantry", vec![offer(NeedCode::Food, "p", "Community Pantry")]);
    pantry.manifest.capabilities = vec![Capability::Availability];
    let mut online = offer(NeedCode::DebtMoney, "calc", "Benefits Calculator");
    online.channel = Some(ServiceChannel::Online);
    let mut calculator = answered("calculator", vec![online]);
    calculator.manifest.capabilities = vec![Capability::Availability];
    let plan = plan(&case, &[pantry, calculator]);

    let food = step(&plan, NeedCode::Food);
    assert_eq!(food.action.kind(), "signpost");
    assert_eq!(food.partner_id(), Some("pantry"));
    assert!(food.shares().is_empty() && !food.needs_consent(), "nothing is shared: {food:?}");
    assert!(food.why.contains("please contact them yourself"), "{}", food.why);
    let debt = step(&plan, NeedCode::DebtMoney);
    assert_eq!(debt.action.kind(), "self_help");
    assert!(debt.why.contains("You can use it yourself online"), "{}", debt.why);
}

#[test]
fn a_partner_taking_referrals_beats_an_equal_one_that_does_not() {
    let case = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]);
    let mut walk_in = answered("a-walk-in", vec![offer(NeedCode::Food, "w", "Walk-in Pantry")]);
    walk_in.manifest.capabilities = vec![Capability::Availability];
    let referral = answered("b-foodbank", vec![offer(NeedCode::Food, "f", "Food Bank")]);
    let plan = plan(&case, &[walk_in, referral]);
    assert_eq!(chosen(&plan, NeedCode::Food), Some("b-foodbank"));
    assert_eq!(plan.steps[0].fallbacks()[0].chosen.partner.id, "a-walk-in");
}

#[test]
fn pathway_statistics_break_ties_but_never_beat_capacity() {
    let case = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]);
    let answers = vec![
        answered("a-poor", vec![offer(NeedCode::Food, "a", "Pantry A")]),
        answered("b-good", vec![offer(NeedCode::Food, "b", "Pantry B")]),
    ];
    let mut stats = PathwayStats::new();
    stats.insert("a-poor", NeedCode::Food, PathwayCounts { sent: 30, accepted: 10, completed: 4 });
    stats.insert("b-good", NeedCode::Food, PathwayCounts { sent: 30, accepted: 28, completed: 25 });
    let plan = plan_with(&case, &answers, &stats, &PlanRules::default());
    assert_eq!(chosen(&plan, NeedCode::Food), Some("b-good"));
    assert!(
        plan.steps[0]
            .why
            .contains("Of the 30 people we have referred to them for food, 25 got the help."),
        "{}",
        plan.steps[0].why
    );
    let without = plan_with(&case, &answers, &PathwayStats::new(), &PlanRules::default());
    assert_eq!(chosen(&without, NeedCode::Food), Some("a-poor"), "no history: the id decides");

    let mut waitlist = answers;
    waitlist[1].offers[0].capacity = pathways_core::Capacity::Waitlist;
    let plan = plan_with(&case, &waitlist, &stats, &PlanRules::default());
    assert_eq!(chosen(&plan, NeedCode::Food), Some("a-poor"), "space now beats a better record");
}

#[test]
fn equal_records_leave_the_choice_to_fewer_hand_offs() {
    let case =
        case_with_needs(&[(NeedCode::DebtMoney, Urgency::Urgent), (NeedCode::Food, Urgency::Soon)]);
    let answers = vec![
        answered(
            "hub",
            vec![
                offer(NeedCode::DebtMoney, "d", "Hub Debt"),
                offer(NeedCode::Food, "f", "Hub Food"),
            ],
        ),
        answered("a-pantry", vec![offer(NeedCode::Food, "p", "Pantry")]),
    ];
    let mut stats = PathwayStats::new();
    // The same record for both, so the same band: the hub, already chosen for the more
    // urgent debt need, takes food too.
    stats.insert("a-pantry", NeedCode::Food, PathwayCounts { sent: 1, accepted: 1, completed: 1 });
    stats.insert("hub", NeedCode::Food, PathwayCounts { sent: 1, accepted: 1, completed: 1 });
    let plan = plan_with(&case, &answers, &stats, &PlanRules::default());
    assert_eq!(chosen(&plan, NeedCode::Food), Some("hub"), "same band: fewer hand-offs decide");
}
