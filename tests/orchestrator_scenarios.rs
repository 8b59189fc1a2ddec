//! The orchestrator end to end through real plugins over real HTTP: the food bank cdylib,
//! loaded by `pathways-host`, against sandbox food banks that hang or fail. The plan still
//! comes back at the deadline with the right outcome for each partner, a hung call is
//! cancelled down to the plugin, and a failing partner's breaker opens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pathways_core::{ActionPlan, NeedCode, PartnerOutcome};
use pathways_host::{DylibPartner, PluginLibrary};
use pathways_orchestrator::{
    BreakerPolicy, BreakerState, ConfiguredPartner, Orchestrator, OrchestratorSettings, PlanRules,
};
use pathways_sandbox::{Faults, Sandbox, SandboxConfig};
use pathways_testkit::{load_case, plugin_library, workspace_root};
use serde_json::json;

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

async fn sandbox(faults: Faults) -> Sandbox {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    sandbox.set_foodbank_faults(faults);
    sandbox
}

/// The food bank plugin as partner `id`, against `sandbox`, with a plugin-side timeout longer
/// than any deadline here, so only the orchestrator cuts calls off.
fn foodbank(id: &str, sandbox: &Sandbox) -> (Arc<DylibPartner>, ConfiguredPartner) {
    let library = PluginLibrary::open(&plugin_library("pathways_plugin_foodbank")).unwrap();
    let settings = json!({"base_url": sandbox.foodbank_url(), "timeout_ms": 30_000});
    let partner = Arc::new(library.instantiate(id, &settings).expect("food bank plugin loads"));
    let configured = ConfiguredPartner {
        id: id.into(),
        name: format!("Food bank {id}"),
        areas: vec!["E09000020".into()],
        partner: partner.clone(),
        domestic_abuse_service: false,
    };
    (partner, configured)
}

fn settings(deadline_ms: u64, breaker_failures: u32) -> OrchestratorSettings {
    OrchestratorSettings {
        plan_deadline: Duration::from_millis(deadline_ms),
        partner_timeout: Duration::from_secs(20),
        partner_concurrency: 8,
        breaker: BreakerPolicy { failures: breaker_failures, cooldown: Duration::from_secs(60) },
    }
}

fn outcome(plan: &ActionPlan, id: &str) -> PartnerOutcome {
    plan.partners.iter().find(|p| p.partner_id == id).expect("partner reported").outcome
}

fn debt_food_eviction() -> pathways_core::Case {
    load_case(&workspace_root().join("examples/cases/debt-food-eviction.json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_food_bank_is_cut_off_at_the_deadline_and_the_healthy_one_plans_the_food() {
    let hung_sandbox = sandbox(Faults { hang_rate: 1.0, ..Faults::none() }).await;
    let healthy_sandbox = sandbox(Faults::none()).await;
    let (hung, hung_partner) = foodbank("hung-foodbank", &hung_sandbox);
    let (_, healthy_partner) = foodbank("healthy-foodbank", &healthy_sandbox);
    let orchestrator = Orchestrator::new(
        vec![hung_partner, healthy_partner],
        settings(800, 0),
        PlanRules::default(),
    );
    let case = debt_food_eviction();

    let started = Instant::now();
    let plan = orchestrator.plan(&case, today()).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_millis(1000),
        "the plan came back at the 800 ms deadline, not later: {took:?}"
    );
    assert_eq!(outcome(&plan, "hung-foodbank"), PartnerOutcome::TimedOut);
    assert_eq!(outcome(&plan, "healthy-foodbank"), PartnerOutcome::Answered);
    let food = plan.steps.iter().find(|s| s.need == NeedCode::Food).expect("food is planned");
    assert_eq!((food.action.kind(), food.partner_id()), ("refer", Some("healthy-foodbank")));
    // Housing and debt have no partner here: unmet, with signposts.
    assert_eq!(plan.unmet().count(), 2);

    // The abandoned call was cancelled through the plugin's `cancel`: its completion arrives.
    let mut stats = hung.call_stats();
    for _ in 0..50 {
        if stats.in_flight == 0 && stats.completions == stats.started {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stats = hung.call_stats();
    }
    assert_eq!((stats.started, stats.in_flight), (1, 0), "{stats:?}");
    assert_eq!(stats.completions, 1, "the plugin completed the cancelled call: {stats:?}");
    drop(orchestrator);
    hung_sandbox.shutdown().await;
    healthy_sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_food_bank_is_reported_failed_then_its_circuit_opens() {
    let failing_sandbox = sandbox(Faults { error_rate: 1.0, ..Faults::none() }).await;
    let (failing, partner) = foodbank("failing-foodbank", &failing_sandbox);
    let orchestrator = Orchestrator::new(vec![partner], settings(2000, 2), PlanRules::default());
    let case = debt_food_eviction();

    for _ in 0..2 {
        let started = Instant::now();
        let plan = orchestrator.plan(&case, today()).await;
        assert!(started.elapsed() < Duration::from_millis(1000), "a failure does not wait");
        assert_eq!(outcome(&plan, "failing-foodbank"), PartnerOutcome::Failed);
        let report = &plan.partners[0];
        assert!(report.detail.as_deref().unwrap_or("").contains("transient"), "{report:?}");
        let food = plan.unmet().find(|u| u.need == NeedCode::Food).expect("food unmet");
        assert!(food.why.contains("had a problem with its system"), "{}", food.why);
    }
    assert!(matches!(orchestrator.partner_states()[0].breaker, BreakerState::Open { .. }));

    let calls_before = failing.call_stats().started;
    let plan = orchestrator.plan(&case, today()).await;
    assert_eq!(outcome(&plan, "failing-foodbank"), PartnerOutcome::CircuitOpen);
    assert_eq!(failing.call_stats().started, calls_before, "the plugin was not called");
    drop(orchestrator);
    failing_sandbox.shutdown().await;
}
