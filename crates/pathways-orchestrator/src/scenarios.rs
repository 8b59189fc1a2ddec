//! Whole plans for multi-need cases against a simulated area of in-process partners: the sample
//! cases in `examples/cases`, and cases of our own with a partner that hangs, one that errors,
//! one whose breaker is open, and an area with no partners.

use std::sync::Arc;
use std::time::Duration;

use pathways_core::{
    parse_case, ActionPlan, Capacity, Case, Eligibility, NeedCode, Partner, PartnerError,
    PartnerOutcome,
};
use serde_json::json;
use tokio::time::Instant;

use crate::resilience::breaker::BreakerPolicy;
use crate::testing::{case_edited, manifest, offer, offer_with, today, Behaviour, StubPartner};
use crate::{ConfiguredPartner, Orchestrator, OrchestratorSettings, PlanRules};

const KC: &str = "E09000020";
const SHROPSHIRE: &str = "E06000051";

fn partner(
    id: &str,
    areas: &[&str],
    needs: &[NeedCode],
    behaviour: Behaviour,
) -> (Arc<StubPartner>, ConfiguredPartner) {
    let stub = Arc::new(StubPartner::new(manifest(id, needs), behaviour));
    let partner: Arc<dyn Partner> = stub.clone();
    let areas = areas.iter().map(|a| a.to_string()).collect();
    // The council confirms its domestic-abuse services, as configuration would.
    let domestic_abuse_service = needs.contains(&NeedCode::DomesticAbuse);
    (
        stub,
        ConfiguredPartner {
            id: id.into(),
            name: format!("Partner {id}"),
            areas,
            partner,
            domestic_abuse_service,
        },
    )
}

/// Kensington and Chelsea's partners: a food bank, a debt adviser, the housing authority, a
/// domestic-abuse service, a talking-therapies service that hangs, and a council directory
/// that errors; Shropshire's: a care service and a befriending service.
fn area() -> (Vec<ConfiguredPartner>, Arc<StubPartner>, Arc<StubPartner>) {
    let hang = Behaviour::Slow(Duration::from_secs(3600), vec![]);
    let (_, food) = partner(
        "kc-foodbank",
        &[KC],
        &[NeedCode::Food],
        Behaviour::Answer(vec![
            offer_with(NeedCode::Food, "nk", Capacity::NoCapacity, Eligibility::Eligible),
            offer(NeedCode::Food, "ladbroke", "Ladbroke Grove Food Bank"),
        ]),
    );
    let (_, advice) = partner(
        "kc-advice",
        &[KC],
        &[NeedCode::DebtMoney, NeedCode::Food],
        Behaviour::Answer(vec![
            offer(NeedCode::DebtMoney, "debt", "Debt Advice Line"),
            offer_with(NeedCode::Food, "fund", Capacity::Waitlist, Eligibility::Unknown),
        ]),
    );
    let (_, housing) = partner(
        "kc-housing",
        &[KC],
        &[NeedCode::HousingHomelessness],
        Behaviour::Answer(vec![offer(NeedCode::HousingHomelessness, "options", "Housing Options")]),
    );
    let (_, refuge) = partner(
        "kc-refuge",
        &[KC],
        &[NeedCode::DomesticAbuse],
        Behaviour::Answer(vec![offer(NeedCode::DomesticAbuse, "idva", "Refuge IDVA Service")]),
    );
    let (therapy_stub, therapy) =
        partner("kc-talking-therapies", &[KC], &[NeedCode::MentalHealth], hang);
    let (council_stub, council) = partner(
        "kc-council",
        &[KC],
        &[NeedCode::SocialIsolation, NeedCode::Digital],
        Behaviour::Fail(PartnerError::transient("directory answered 503", Some(2000))),
    );
    let (_, care) = partner(
        "shropshire-care",
        &[SHROPSHIRE],
        &[NeedCode::CarerCare, NeedCode::PhysicalHealthDisability],
        Behaviour::Answer(vec![
            offer(NeedCode::CarerCare, "reablement", "Reablement Team"),
            offer_with(
                NeedCode::PhysicalHealthDisability,
                "ot",
                Capacity::Waitlist,
                Eligibility::Eligible,
            ),
        ]),
    );
    let (_, befriend) = partner(
        "shropshire-befriending",
        &[SHROPSHIRE],
        &[NeedCode::SocialIsolation],
        Behaviour::Answer(vec![offer(NeedCode::SocialIsolation, "calls", "Telephone Befriending")]),
    );
    (
        vec![food, advice, housing, refuge, therapy, council, care, befriend],
        therapy_stub,
        council_stub,
    )
}

fn settings() -> OrchestratorSettings {
    OrchestratorSettings {
        plan_deadline: Duration::from_millis(2000),
        partner_timeout: Duration::from_millis(1500),
        partner_concurrency: 8,
        breaker: BreakerPolicy { failures: 2, cooldown: Duration::from_secs(60) },
    }
}

fn sample(name: &str) -> Case {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cases").join(name);
    parse_case(&std::fs::read(&path).expect("sample case")).expect("valid sample")
}

fn report(plan: &ActionPlan, id: &str) -> PartnerOutcome {
    plan.partners.iter().find(|p| p.partner_id == id).map(|p| p.outcome).expect("partner reported")
}

fn step_partner(plan: &ActionPlan, need: NeedCode) -> Option<&str> {
    plan.steps.iter().find(|s| s.need == need)?.partner_id()
}

fn assert_every_need_once(case: &Case, plan: &ActionPlan) {
    let mut covered = plan.steps.iter().map(|s| s.need).collect::<Vec<_>>();
    let mut expected: Vec<NeedCode> = case.needs.iter().map(|n| n.code).collect();
    covered.sort();
    expected.sort();
    assert_eq!(covered, expected, "{plan:#?}");
}

#[tokio::test(start_paused = true)]
async fn debt_food_eviction_sample_gets_one_plan_from_every_local_partner() {
    let (partners, _, _) = area();
    let orchestrator = Orchestrator::new(partners, settings(), PlanRules::default());
    let case = sample("debt-food-eviction.json");
    let plan = orchestrator.plan(&case, today()).await;
    assert_every_need_once(&case, &plan);
    assert_eq!(step_partner(&plan, NeedCode::HousingHomelessness), Some("kc-housing"));
    assert_eq!(step_partner(&plan, NeedCode::DebtMoney), Some("kc-advice"));
    assert_eq!(
        step_partner(&plan, NeedCode::Food),
        Some("kc-foodbank"),
        "space now beats a waitlist"
    );
    let food = plan.steps.iter().find(|s| s.need == NeedCode::Food).unwrap();
    assert_eq!(food.fallbacks().len(), 1, "the full food bank is no fallback: {food:?}");
    assert_eq!(plan.lead.id(), "citizens-advice-kc");
    let asked: Vec<&str> = plan.partners.iter().map(|p| p.partner_id.as_str()).collect();
    assert_eq!(
        asked,
        ["kc-advice", "kc-foodbank", "kc-housing"],
        "only partners serving these needs here"
    );
}

#[tokio::test(start_paused = true)]
async fn older_person_sample_in_shropshire_uses_shropshire_partners_and_signposts_the_rest() {
    let (partners, _, _) = area();
    let orchestrator = Orchestrator::new(partners, settings(), PlanRules::default());
    let case = sample("older-person-care.json");
    let plan = orchestrator.plan(&case, today()).await;
    assert_every_need_once(&case, &plan);
    assert_eq!(step_partner(&plan, NeedCode::CarerCare), Some("shropshire-care"));
    assert_eq!(step_partner(&plan, NeedCode::PhysicalHealthDisability), Some("shropshire-care"));
    assert_eq!(step_partner(&plan, NeedCode::SocialIsolation), Some("shropshire-befriending"));
    let digital = plan.unmet().find(|u| u.need == NeedCode::Digital).expect("no digital partner");
    assert!(
        digital.why.starts_with("None of the services we work with in your area"),
        "{}",
        digital.why
    );
    assert!(
        !plan.partners.iter().any(|p| p.partner_id.starts_with("kc-")),
        "no Kensington partner asked"
    );
}

#[tokio::test(start_paused = true)]
async fn single_need_sample_in_an_area_without_a_food_partner_is_unmet_with_signposts() {
    let (partners, _, _) = area();
    let orchestrator = Orchestrator::new(partners, settings(), PlanRules::default());
    let case = sample("single-need-food.json");
    let plan = orchestrator.plan(&case, today()).await;
    assert!(crate::testing::taken(&plan).is_empty() && plan.partners.is_empty());
    assert!(
        plan.unmet().next().unwrap().signposts().iter().any(|s| s.to_string().contains("Trussell")),
        "{:?}",
        plan.unmet().next().unwrap()
    );
}

#[tokio::test(start_paused = true)]
async fn abuse_and_homelessness_tonight_with_a_hanging_and_an_erroring_partner() {
    let (partners, therapy, council) = area();
    let orchestrator = Orchestrator::new(partners, settings(), PlanRules::default());
    let case = case_edited(
        &[
            (NeedCode::Food, pathways_core::Urgency::Urgent),
            (NeedCode::MentalHealth, pathways_core::Urgency::Soon),
            (NeedCode::HousingHomelessness, pathways_core::Urgency::Emergency),
            (NeedCode::SocialIsolation, pathways_core::Urgency::Routine),
            (NeedCode::DomesticAbuse, pathways_core::Urgency::Urgent),
        ],
        |c| {
            c["client"]["safe_contact"] = json!(true);
            c["circumstances"] = json!(["fleeing_violence", "children_in_household"]);
        },
    );
    let started = Instant::now();
    let plan = orchestrator.plan(&case, today()).await;
    // The hanging partner is cut off at its partner timeout; nothing waits longer.
    assert_eq!(started.elapsed(), Duration::from_millis(1500));
    assert_every_need_once(&case, &plan);
    assert_eq!(report(&plan, "kc-talking-therapies"), PartnerOutcome::TimedOut);
    assert_eq!(report(&plan, "kc-council"), PartnerOutcome::Failed);

    let order: Vec<NeedCode> = plan.steps.iter().map(|s| s.need).collect();
    assert_eq!(
        order,
        [
            NeedCode::HousingHomelessness,
            NeedCode::DomesticAbuse,
            NeedCode::Food,
            NeedCode::MentalHealth,
            NeedCode::SocialIsolation
        ]
    );
    assert_eq!(plan.lead.id(), "kc-refuge", "the domestic-abuse service leads");
    let food = plan.steps.iter().find(|s| s.need == NeedCode::Food).unwrap();
    assert!(food.shares().iter().all(|f| !f.is_contact()), "safe contact: {:?}", food.shares());
    let unmet: Vec<NeedCode> = plan.unmet().map(|u| u.need).collect();
    assert_eq!(unmet, [NeedCode::MentalHealth, NeedCode::SocialIsolation]);
    assert!(plan.unmet().all(|u| u.why.contains("so we do not know yet whether they can help")));

    // The council errors again; its breaker (2 failures) opens, and the next plan reports it
    // `circuit_open` without calling it, while the hanging partner times out once more and
    // opens too. The third plan waits for no one.
    let _ = orchestrator.plan(&case, today()).await;
    assert_eq!((therapy.calls(), council.calls()), (2, 2));
    let started = Instant::now();
    let plan = orchestrator.plan(&case, today()).await;
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(report(&plan, "kc-council"), PartnerOutcome::CircuitOpen);
    assert_eq!(report(&plan, "kc-talking-therapies"), PartnerOutcome::CircuitOpen);
    assert_eq!((therapy.calls(), council.calls()), (2, 2), "open circuits are not called");
    let taken = crate::testing::taken(&plan);
    assert_eq!(taken.len(), 3, "the partners that work still plan");
    assert!(taken.iter().all(|s| s.is_refer()));
    assert!(!plan.complete && plan.incomplete.len() == 2, "{:?}", plan.incomplete);
}
