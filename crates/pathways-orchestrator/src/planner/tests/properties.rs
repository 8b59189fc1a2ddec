//! Invariants of the planner over generated cases and answers (proptest): every need exactly
//! once; no offer that is not eligible or has no capacity chosen while a viable one exists;
//! safety and emergencies first; the same plan whatever order the answers arrive in; no
//! partner named that was not asked or did not answer; no `refer` step whose partner's
//! prerequisites are missing; and amendments keep all of these.

use std::collections::BTreeSet;

use chrono::{Days, TimeZone, Utc};
use pathways_core::{
    missing_prerequisites, ActionPlan, Amendment, Capability, Capacity, Case, ClientField,
    Eligibility, NeedCode, Offer, OfferLocation, PartnerOutcome, Personal, Prerequisite,
    Requirement, ServiceChannel, StepAction, Urgency,
};
use proptest::prelude::*;
use proptest::sample::subsequence;
use serde_json::json;

use crate::planner::{amend_plan, build_plan, Amender, PathwayCounts, PathwayStats, PlanRules};
use crate::testing::{case_edited, manifest, today};
use crate::PartnerAnswer;

fn urgency() -> impl Strategy<Value = Urgency> {
    prop_oneof![
        Just(Urgency::Emergency),
        Just(Urgency::Urgent),
        Just(Urgency::Soon),
        Just(Urgency::Routine)
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let needs = subsequence(NeedCode::ALL.to_vec(), 1..=6).prop_shuffle();
    let consent = prop_oneof![
        Just(json!({"lawful_basis": "consent", "share_with": "planned_partners"})),
        Just(json!({"lawful_basis": "consent", "share_with": "none"})),
        Just(json!({"lawful_basis": "consent", "share_with": ["p0", "p3"]})),
        Just(json!({"lawful_basis": "safeguarding", "share_with": "none"})),
    ];
    (needs, proptest::collection::vec(urgency(), 6), consent, any::<bool>()).prop_map(
        |(codes, urgencies, consent, safe_contact)| {
            let needs: Vec<(NeedCode, Urgency)> = codes.into_iter().zip(urgencies).collect();
            case_edited(&needs, |c| {
                c["client"]["safe_contact"] = json!(safe_contact);
                c["consent"]["lawful_basis"] = consent["lawful_basis"].clone();
                c["consent"]["share_with"] = consent["share_with"].clone();
            })
        },
    )
}

fn offer(needs: Vec<NeedCode>) -> impl Strategy<Value = Offer> {
    let eligibility = prop_oneof![
        3 => Just(Eligibility::Eligible),
        1 => Just(Eligibility::Unknown),
        1 => Just(Eligibility::NotEligible { reason: "only for over 60s".into() }),
    ];
    let capacity = prop_oneof![
        Just(Capacity::Capacity),
        Just(Capacity::Waitlist),
        Just(Capacity::AssessmentRequired),
        Just(Capacity::Unknown),
        Just(Capacity::NoCapacity),
    ];
    let channel = prop_oneof![
        Just(None),
        Just(Some(ServiceChannel::Online)),
        Just(Some(ServiceChannel::Phone))
    ];
    (
        proptest::sample::select(needs),
        0u8..3,
        eligibility,
        capacity,
        proptest::option::of(0u64..40),
        proptest::option::of(0u32..20_000),
        channel,
        proptest::option::of("[a-z ]{0,12}"),
    )
        .prop_map(|(need, service, eligibility, capacity, start, distance, channel, wait)| {
            Offer {
                need,
                service: pathways_core::ServiceRef {
                    id: format!("s{service}"),
                    name: format!("Service {service}"),
                },
                eligibility,
                capacity,
                earliest_start: start.and_then(|d| today().checked_add_days(Days::new(d))),
                wait_estimate: wait,
                channel,
                location: distance.map(|m| OfferLocation {
                    name: "Hall".into(),
                    postcode: None,
                    distance_m: Some(m),
                }),
                contact: None,
                route: None,
            }
        })
}

/// Up to five partners `p0`..`p4`, each asked about some of the case's needs (and sometimes a
/// need the case does not have), with any outcome, offering for those needs and strays.
fn answers(case: &Case) -> impl Strategy<Value = Vec<PartnerAnswer>> {
    let case_needs: Vec<NeedCode> = case.needs.iter().map(|n| n.code).collect();
    let partner = {
        let case_needs = case_needs.clone();
        (
            subsequence(case_needs.clone(), 1..=case_needs.len()),
            prop_oneof![
                6 => Just(PartnerOutcome::Answered),
                1 => Just(PartnerOutcome::TimedOut),
                1 => Just(PartnerOutcome::Failed),
                1 => Just(PartnerOutcome::CircuitOpen),
            ],
            any::<bool>(),
            any::<bool>(),
        )
            .prop_flat_map(|(asked, outcome, takes_referrals, requires_email)| {
                // Offers may name any need, so stray offers (not asked, not in the case) occur.
                let offerable: Vec<NeedCode> =
                    asked.iter().copied().chain([NeedCode::Transport]).collect();
                let offers = proptest::collection::vec(offer(offerable), 0..5);
                (Just(asked), Just(outcome), Just((takes_referrals, requires_email)), offers)
            })
    };
    proptest::collection::vec(partner, 0..=5).prop_map(|partners| {
        partners
            .into_iter()
            .enumerate()
            .map(|(i, (asked, outcome, (takes_referrals, requires_email), offers))| {
                let id = format!("p{i}");
                let mut m = manifest(&id, &asked);
                if !takes_referrals {
                    m.capabilities = vec![Capability::Availability];
                }
                if requires_email {
                    // The generated cases record no email address: such a partner's referable
                    // steps are blocked.
                    let field = ClientField::Email;
                    let what = Prerequisite::ClientField { field };
                    m.requires = vec![Requirement { needs: Vec::new(), what }];
                }
                let answered = outcome == PartnerOutcome::Answered;
                PartnerAnswer {
                    name: format!("Partner {id}"),
                    partner_id: id,
                    domestic_abuse_confirmed: m.is_domestic_abuse_service(),
                    manifest: m,
                    asked,
                    outcome,
                    latency_ms: 40,
                    detail: (!answered).then(|| "no answer".to_string()),
                    offers: if answered { offers } else { Vec::new() },
                }
            })
            .collect()
    })
}

fn stats() -> impl Strategy<Value = PathwayStats> {
    proptest::collection::vec((0usize..5, 0u32..50, 0u32..50, 0u32..50), 0..4).prop_map(|rows| {
        rows.into_iter()
            .map(|(p, sent, accepted, completed)| {
                (format!("p{p}"), NeedCode::Food, PathwayCounts { sent, accepted, completed })
            })
            .collect()
    })
}

fn inputs() -> impl Strategy<Value = (Case, Vec<PartnerAnswer>, PathwayStats)> {
    case().prop_flat_map(|case| {
        let answers = answers(&case);
        (Just(case), answers, stats())
    })
}

fn plan_of(case: &Case, answers: &[PartnerAnswer], stats: &PathwayStats) -> ActionPlan {
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    build_plan(case, answers, stats, &PlanRules::default(), today(), at)
}

fn is_viable(offer: &Offer) -> bool {
    !matches!(offer.eligibility, Eligibility::NotEligible { .. })
        && offer.capacity != Capacity::NoCapacity
}

/// Few cases, so the suite stays quick in CI; each case is a whole random plan.
fn config() -> ProptestConfig {
    ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_need_appears_exactly_once((case, answers, stats) in inputs()) {
        let plan = plan_of(&case, &answers, &stats);
        let mut covered = plan.steps.iter().map(|s| s.need).collect::<Vec<_>>();
        let mut expected: Vec<NeedCode> = case.needs.iter().map(|n| n.code).collect();
        covered.sort();
        expected.sort();
        prop_assert_eq!(covered, expected);
        for unmet in plan.unmet() {
            prop_assert!(!unmet.why.is_empty() && !unmet.signposts().is_empty(), "{:?}", unmet);
        }
    }

    #[test]
    fn never_chooses_an_offer_that_is_not_viable_while_a_viable_one_exists(
        (case, answers, stats) in inputs()
    ) {
        let plan = plan_of(&case, &answers, &stats);
        for need in &case.needs {
            let viable_exists = answers.iter()
                .filter(|a| a.outcome == PartnerOutcome::Answered && a.asked.contains(&need.code))
                .flat_map(|a| &a.offers)
                .any(|o| o.need == need.code && is_viable(o));
            let step = plan.steps.iter().find(|s| s.need == need.code && !s.is_unmet());
            prop_assert_eq!(step.is_some(), viable_exists, "{}", need.code);
            let Some(step) = step else { continue };
            let chosen = answers.iter()
                .filter(|a| Some(a.partner_id.as_str()) == step.partner_id())
                .flat_map(|a| &a.offers)
                .filter(|o| o.need == need.code && Some(&o.service) == step.service())
                .collect::<Vec<_>>();
            prop_assert!(chosen.iter().any(|o| is_viable(o)), "chose a non-viable offer: {:?}", step);
            // Eligible with space or a waitlist beats anything worse.
            let strong = |o: &Offer| o.eligibility == Eligibility::Eligible
                && matches!(o.capacity, Capacity::Capacity | Capacity::Waitlist);
            let strong_exists = answers.iter()
                .filter(|a| a.outcome == PartnerOutcome::Answered && a.asked.contains(&need.code))
                .flat_map(|a| &a.offers)
                .any(|o| o.need == need.code && strong(o));
            if strong_exists {
                prop_assert!(chosen.iter().any(|o| strong(o)), "{:?}", step);
            }
        }
    }

    #[test]
    fn safety_and_emergencies_come_first((case, answers, stats) in inputs()) {
        let plan = plan_of(&case, &answers, &stats);
        let urgency = |need: NeedCode| case.needs.iter().find(|n| n.code == need).unwrap().urgency;
        let key = |need: NeedCode| {
            let safety = need.is_safety()
                || (need == NeedCode::HousingHomelessness && urgency(need) == Urgency::Emergency);
            (!safety, urgency(need))
        };
        for pair in plan.steps.windows(2) {
            prop_assert!(key(pair[0].need) <= key(pair[1].need), "{:?} before {:?}", pair[0].need, pair[1].need);
        }
        let orders: Vec<u32> = plan.steps.iter().map(|s| s.order).collect();
        prop_assert_eq!(orders, (1..=plan.steps.len() as u32).collect::<Vec<_>>());
    }

    #[test]
    fn same_inputs_same_plan_in_any_answer_order(
        (case, answers, stats) in inputs(),
        seed in any::<u64>(),
    ) {
        let first = plan_of(&case, &answers, &stats);
        prop_assert_eq!(&first, &plan_of(&case, &answers, &stats));
        let mut shuffled = answers.clone();
        let mut rng = seed;
        for answer in shuffled.iter_mut() {
            answer.offers.reverse();
        }
        // A Fisher-Yates shuffle driven by the generated seed (deterministic per case).
        for i in (1..shuffled.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = usize::try_from(rng >> 33).unwrap_or(0) % (i + 1);
            shuffled.swap(i, j);
        }
        prop_assert_eq!(first, plan_of(&case, &shuffled, &stats));
    }

    #[test]
    fn names_only_partners_that_were_asked_and_answered((case, answers, stats) in inputs()) {
        let plan = plan_of(&case, &answers, &stats);
        let answered: BTreeSet<&str> = answers.iter()
            .filter(|a| a.outcome == PartnerOutcome::Answered)
            .map(|a| a.partner_id.as_str())
            .collect();
        for step in plan.steps.iter().filter(|s| !s.is_unmet()) {
            let partner = step.partner_id().unwrap_or("");
            prop_assert!(answered.contains(partner), "step names {}", partner);
            let asked = answers.iter().any(|a| a.partner_id == partner && a.asked.contains(&step.need));
            prop_assert!(asked, "{} was not asked about {}", partner, step.need);
            for fallback in step.fallbacks() {
                prop_assert!(answered.contains(fallback.chosen.partner.id.as_str()));
                prop_assert!(fallback.chosen.partner.id != partner || step.fallbacks().len() <= 2);
            }
            prop_assert!(step.fallbacks().len() <= 2);
        }
        let lead = plan.lead.id();
        prop_assert!(lead == case.referrer.organisation || answered.contains(lead), "lead {}", lead);
        let reported: Vec<&str> = plan.partners.iter().map(|p| p.partner_id.as_str()).collect();
        prop_assert_eq!(reported.len(), answers.len());
    }
}

/// The properties every version of a plan keeps, whatever was amended.
fn check_invariants(
    case: &Case,
    answers: &[PartnerAnswer],
    plan: &ActionPlan,
) -> Result<(), TestCaseError> {
    let mut ids: Vec<&str> = plan.need_ids();
    ids.sort_unstable();
    let mut expected: Vec<&str> = case.needs.iter().map(|n| n.id.as_str()).collect();
    expected.sort_unstable();
    prop_assert_eq!(ids, expected, "every need exactly once");
    let first = |need_id: &str| {
        let need = case.need(need_id).unwrap();
        need.is_safety() || need.urgency == Urgency::Emergency
    };
    let firsts: Vec<bool> = plan.steps.iter().map(|s| first(&s.need_id)).collect();
    prop_assert!(
        firsts.windows(2).all(|w| w[0] || !w[1]),
        "safety and emergencies first: {:?}",
        firsts
    );
    let orders: Vec<u32> = plan.steps.iter().map(|s| s.order).collect();
    prop_assert_eq!(orders, (1..=plan.steps.len() as u32).collect::<Vec<_>>());
    for step in &plan.steps {
        let answer = |id: &str| answers.iter().find(|a| a.partner_id == id).unwrap();
        let manifest = |id: &str| &answer(id).manifest;
        let confirmed = |id: &str| answer(id).domestic_abuse_confirmed;
        match &step.action {
            StepAction::Refer(r) => {
                let missing = missing_prerequisites(
                    case,
                    manifest(&r.chosen.partner.id),
                    step.need,
                    confirmed(&r.chosen.partner.id),
                );
                prop_assert!(missing.is_empty(), "a refer step lacking {:?}", missing);
            }
            StepAction::Blocked { chosen, missing, .. } => {
                prop_assert!(!missing.is_empty());
                prop_assert_eq!(
                    missing,
                    &missing_prerequisites(
                        case,
                        manifest(&chosen.partner.id),
                        step.need,
                        confirmed(&chosen.partner.id)
                    )
                );
            }
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_refer_step_lacks_what_its_partner_requires((case, answers, stats) in inputs()) {
        check_invariants(&case, &answers, &plan_of(&case, &answers, &stats))?;
    }

    #[test]
    fn amendments_keep_every_property(
        (case, answers, stats) in inputs(),
        picks in proptest::collection::vec((0u8..5, any::<u8>()), 1..6),
    ) {
        let first = plan_of(&case, &answers, &stats);
        // Amendments a pathfinder could make to this plan, chosen by `picks`.
        let mut amendments = Vec::new();
        for (kind, index) in picks {
            let step = &first.steps[usize::from(index) % first.steps.len()];
            let need_id = step.need_id.clone();
            let amendment = match kind {
                0 => match step.fallbacks().get(usize::from(index) % 2) {
                    Some(f) => Amendment::Choose {
                        need_id,
                        partner_id: f.chosen.partner.id.clone(),
                        service_id: f.chosen.service.id.clone(),
                    },
                    None => continue,
                },
                1 => Amendment::Decline { need_id, reason: Personal::new("not now".to_string()) },
                2 => Amendment::InHouse { need_id, service: "our own adviser".into() },
                3 => Amendment::Goal { text: Personal::new("stay in my home".to_string()) },
                _ => {
                    let mut rest: Vec<String> = first
                        .steps
                        .iter()
                        .filter(|s| {
                            let need = case.need(&s.need_id).unwrap();
                            !(need.is_safety() || need.urgency == Urgency::Emergency)
                        })
                        .map(|s| s.need_id.clone())
                        .collect();
                    let by = usize::from(index) % rest.len().max(1);
                    rest.rotate_left(by);
                    Amendment::Reorder { need_ids: rest }
                }
            };
            amendments.push(amendment);
        }
        prop_assume!(!amendments.is_empty());
        let count = amendments.len();
        let who = Amender { by: "pf-1", reason: Some("with the client"), at: Utc.with_ymd_and_hms(2026, 11, 20, 11, 0, 0).unwrap() };
        let second = amend_plan(&case, &answers, &stats, &PlanRules::default(), &first, amendments, &who)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(second.version, 2);
        prop_assert_eq!(second.planned_on, first.planned_on, "due dates do not drift");
        prop_assert_eq!(second.amendments.len(), count);
        check_invariants(&case, &answers, &second)?;
    }
}
