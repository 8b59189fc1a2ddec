//! What the plan says and to whom: the lead rules beyond the defaults, a referring network's
//! own national line, interpreters, and a second language's catalogue.

use pathways_core::{Lead, LeadReason, NeedCode, Urgency};
use serde_json::json;

use super::plan;
use crate::messages::Messages;
use crate::planner::{build_plan, LeadChoice, LeadRule, Organisation, PathwayStats, PlanRules};
use crate::testing::{answered, case_edited, case_with_needs, offer, today};

fn rule(lead: LeadChoice, when_need: Option<NeedCode>, partner: Option<&str>) -> LeadRule {
    LeadRule { when_need, lead, partner: partner.map(str::to_string), because: None }
}

fn with_rules(lead_rules: Vec<LeadRule>) -> PlanRules {
    PlanRules { lead_rules, ..PlanRules::default() }
}

fn planned(
    case: &pathways_core::Case,
    answers: &[crate::PartnerAnswer],
    rules: &PlanRules,
) -> pathways_core::ActionPlan {
    let at = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 20, 10, 0, 0).unwrap();
    build_plan(case, answers, &PathwayStats::new(), rules, today(), at)
}

#[test]
fn the_partner_with_the_most_steps_leads_when_a_council_says_so() {
    let case = case_with_needs(&[
        (NeedCode::Food, Urgency::Urgent),
        (NeedCode::DebtMoney, Urgency::Soon),
        (NeedCode::Digital, Urgency::Routine),
    ]);
    let hub = answered(
        "hub",
        vec![
            offer(NeedCode::DebtMoney, "d", "Money Advice"),
            offer(NeedCode::Digital, "g", "Get Online"),
        ],
    );
    let pantry = answered("pantry", vec![offer(NeedCode::Food, "f", "Pantry")]);
    let rules = with_rules(vec![rule(LeadChoice::MostSteps, None, None)]);
    let plan = planned(&case, &[pantry.clone(), hub], &rules);
    match &plan.lead {
        Lead::Partner { partner, reason, why, .. } => {
            assert_eq!((partner.id.as_str(), *reason), ("hub", LeadReason::MostSteps));
            assert!(why.contains("because they are helping you with the most things"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // One step each: nobody has the most, so the referrer leads.
    let only = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]);
    let plan = planned(&only, &[pantry], &rules);
    assert!(
        matches!(plan.lead, Lead::Referrer { reason: LeadReason::Default, .. }),
        "{:?}",
        plan.lead
    );
}

#[test]
fn a_statutory_lead_leads_for_its_need_even_when_the_plan_does_not_refer_to_it() {
    let case = case_with_needs(&[
        (NeedCode::Safeguarding, Urgency::Urgent),
        (NeedCode::Food, Urgency::Urgent),
    ]);
    let mut rules =
        with_rules(vec![rule(LeadChoice::Statutory, Some(NeedCode::Safeguarding), Some("asc"))]);
    rules
        .organisations
        .insert("asc".into(), Organisation { name: "Adult Social Care".into(), network: None });
    let plan =
        planned(&case, &[answered("pantry", vec![offer(NeedCode::Food, "f", "Pantry")])], &rules);
    match &plan.lead {
        Lead::Partner { partner, service, reason, why } => {
            assert_eq!((partner.id.as_str(), partner.name.as_str()), ("asc", "Adult Social Care"));
            assert_eq!((service, *reason), (&None, LeadReason::Statutory));
            assert!(why.starts_with("Adult Social Care will lead your plan, because they are responsible for keeping you safe"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_client_can_ask_for_the_organisation_that_coordinates() {
    let needs = [(NeedCode::Food, Urgency::Urgent), (NeedCode::DebtMoney, Urgency::Soon)];
    let answers = [
        answered("pantry", vec![offer(NeedCode::Food, "f", "Pantry")]),
        answered("advice", vec![offer(NeedCode::DebtMoney, "d", "Debt Advice")]),
    ];
    let rules = with_rules(vec![rule(LeadChoice::ClientPreference, None, None)]);
    let prefers = |id: &str| case_edited(&needs, |c| c["lead_preference"] = json!(id));
    let plan = planned(&prefers("advice"), &answers, &rules);
    assert_eq!(
        (plan.lead.id(), plan.lead.why().contains("because you asked for them to")),
        ("advice", true)
    );
    let plan = planned(&prefers("citizens-advice-kc"), &answers, &rules);
    assert!(matches!(plan.lead, Lead::Referrer { reason: LeadReason::ClientPreference, .. }));
    // A preference for a partner the plan does not refer to is not honoured: the next rule (none) applies.
    let plan = planned(&prefers("elsewhere"), &answers, &rules);
    assert!(matches!(plan.lead, Lead::Referrer { reason: LeadReason::Default, .. }));
}

#[test]
fn a_client_is_never_signposted_to_their_own_referrers_national_line() {
    let case = case_with_needs(&[(NeedCode::DebtMoney, Urgency::Soon)]);
    let names = |plan: &pathways_core::ActionPlan| -> Vec<String> {
        plan.unmet().flat_map(|u| u.signposts()).map(|s| s.name.clone()).collect()
    };
    let from_citizens_advice = plan(&case, &[]);
    assert!(
        !names(&from_citizens_advice).iter().any(|n| n.starts_with("Citizens Advice")),
        "{:?}",
        names(&from_citizens_advice)
    );
    let from_council = case_edited(&[(NeedCode::DebtMoney, Urgency::Soon)], |c| {
        c["referrer"]["organisation"] = json!("kc-council");
    });
    assert!(names(&plan(&from_council, &[])).iter().any(|n| n == "Citizens Advice Adviceline"));
}

#[test]
fn a_client_with_limited_english_gets_an_interpreter_named_in_their_language() {
    let case = case_edited(&[(NeedCode::Food, Urgency::Urgent)], |c| {
        c["client"]["preferred_language"] = json!("pl");
        c["circumstances"] = json!(["limited_english"]);
    });
    let plan = plan(&case, &[answered("pantry", vec![offer(NeedCode::Food, "f", "Pantry")])]);
    assert_eq!(plan.interpreter.as_deref(), Some("pl"));
    assert_eq!(plan.language, "en", "no Polish catalogue: English words");
    assert!(
        plan.steps[0].why.contains("We will ask them to arrange an interpreter in Polish."),
        "{}",
        plan.steps[0].why
    );
}

#[test]
fn a_second_language_catalogue_speaks_to_the_client_and_falls_back_to_english() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cy.ftl"),
        "step-signpost = Nid ydynt yn derbyn atgyfeiriadau gennym ni, felly cysylltwch â nhw eich hun.\n",
    )
    .unwrap();
    let rules =
        PlanRules { messages: Messages::load_dir(dir.path()).unwrap(), ..PlanRules::default() };
    let case = case_edited(&[(NeedCode::Food, Urgency::Urgent)], |c| {
        c["client"]["preferred_language"] = json!("cy");
    });
    let mut pantry = answered("pantry", vec![offer(NeedCode::Food, "f", "Pantry")]);
    pantry.manifest.capabilities = vec![pathways_core::Capability::Availability];
    let plan = planned(&case, &[pantry], &rules);
    assert_eq!(plan.language, "cy");
    let why = &plan.steps[0].why;
    assert!(why.contains("cysylltwch â nhw eich hun"), "Welsh where translated: {why}");
    assert!(why.starts_with("Pantry can help with food"), "English where not: {why}");
}
