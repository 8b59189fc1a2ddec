//! Fan-out with in-process test partners: deadlines, timeouts, failures, selection here; the
//! breaker and the bulkhead across plans in `resilience`.

mod lanes;
mod resilience;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use pathways_core::{NeedCode, Partner, PartnerError, PartnerOutcome, Urgency};
use tokio::time::Instant;

use crate::testing::{case_with_needs, manifest, offer, today, Behaviour, StubPartner};
use crate::{ConfiguredPartner, Orchestrator, OrchestratorSettings, PlanRules};

pub(super) fn settings(deadline_ms: u64, partner_timeout_ms: u64) -> OrchestratorSettings {
    OrchestratorSettings {
        plan_deadline: Duration::from_millis(deadline_ms),
        partner_timeout: Duration::from_millis(partner_timeout_ms),
        ..OrchestratorSettings::default()
    }
}

pub(super) fn stub(
    id: &str,
    needs: &[NeedCode],
    behaviour: Behaviour,
) -> (Arc<StubPartner>, ConfiguredPartner) {
    let stub = Arc::new(StubPartner::new(manifest(id, needs), behaviour));
    let partner: Arc<dyn Partner> = stub.clone();
    (
        stub,
        ConfiguredPartner {
            id: id.into(),
            name: format!("Partner {id}"),
            areas: vec!["E09000020".into()],
            partner,
            domestic_abuse_service: false,
        },
    )
}

pub(super) fn outcome(plan: &pathways_core::ActionPlan, id: &str) -> (PartnerOutcome, u64, String) {
    let report = plan.partners.iter().find(|p| p.partner_id == id).expect("partner reported");
    (report.outcome, report.latency_ms, report.detail.clone().unwrap_or_default())
}

#[tokio::test(start_paused = true)]
async fn slow_partner_times_out_at_the_plan_deadline_and_the_plan_still_returns() {
    let case =
        case_with_needs(&[(NeedCode::Food, Urgency::Urgent), (NeedCode::DebtMoney, Urgency::Soon)]);
    let (_, fast) = stub(
        "fast",
        &[NeedCode::Food],
        Behaviour::Answer(vec![offer(NeedCode::Food, "f", "Food Bank")]),
    );
    let (slow_stub, slow) = stub(
        "slow",
        &[NeedCode::DebtMoney],
        Behaviour::Slow(
            Duration::from_secs(10),
            vec![offer(NeedCode::DebtMoney, "d", "Debt Advice")],
        ),
    );
    let orchestrator =
        Orchestrator::new(vec![fast, slow], settings(2000, 5000), PlanRules::default());

    let started = Instant::now();
    let plan = orchestrator.plan(&case, today()).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(2000) && waited < Duration::from_millis(2100),
        "{waited:?}"
    );

    assert_eq!(outcome(&plan, "fast").0, PartnerOutcome::Answered);
    let (slow_outcome, latency, detail) = outcome(&plan, "slow");
    assert_eq!(slow_outcome, PartnerOutcome::TimedOut);
    assert_eq!(latency, 2000);
    assert!(detail.contains("plan deadline of 2000 ms"), "{detail}");
    assert_eq!(
        crate::testing::taken(&plan).iter().map(|s| s.need).collect::<Vec<_>>(),
        [NeedCode::Food]
    );
    assert_eq!(plan.unmet().map(|u| u.need).collect::<Vec<_>>(), [NeedCode::DebtMoney]);

    // The abandoned call is dropped (cancelled), not left running in the background.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(slow_stub.cancelled.load(Ordering::SeqCst), "the straggler's call was cancelled");
}

#[tokio::test(start_paused = true)]
async fn partner_timeout_cuts_off_one_partner_before_the_plan_deadline() {
    let case = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]);
    let (_, slow) =
        stub("slow", &[NeedCode::Food], Behaviour::Slow(Duration::from_secs(3), vec![]));
    let orchestrator = Orchestrator::new(vec![slow], settings(2000, 500), PlanRules::default());
    let started = Instant::now();
    let plan = orchestrator.plan(&case, today()).await;
    assert!(started.elapsed() < Duration::from_millis(600), "did not wait for the plan deadline");
    let (slow_outcome, latency, detail) = outcome(&plan, "slow");
    assert_eq!((slow_outcome, latency), (PartnerOutcome::TimedOut, 500));
    assert!(detail.contains("partner timeout of 500 ms"), "{detail}");
}

#[tokio::test(start_paused = true)]
async fn failing_and_panicking_partners_are_reported_failed_and_the_rest_still_plan() {
    let case =
        case_with_needs(&[(NeedCode::Food, Urgency::Urgent), (NeedCode::DebtMoney, Urgency::Soon)]);
    let (_, failing) = stub(
        "failing",
        &[NeedCode::Food],
        Behaviour::Fail(PartnerError::transient("partner answered 503", None)),
    );
    let (_, panicking) = stub("panicking", &[NeedCode::Food], Behaviour::Panic);
    let (_, good) = stub(
        "good",
        &[NeedCode::DebtMoney],
        Behaviour::Answer(vec![offer(NeedCode::DebtMoney, "d", "Debt Advice")]),
    );
    let orchestrator = Orchestrator::new(
        vec![failing, panicking, good],
        settings(2000, 1500),
        PlanRules::default(),
    );
    let plan = orchestrator.plan(&case, today()).await;
    let (failed, _, detail) = outcome(&plan, "failing");
    assert_eq!(failed, PartnerOutcome::Failed);
    assert!(detail.contains("503"), "{detail}");
    let (panicked, _, detail) = outcome(&plan, "panicking");
    assert_eq!(panicked, PartnerOutcome::Failed);
    assert_eq!(detail, "plugin fault: the connector panicked");
    assert_eq!(crate::testing::taken(&plan).len(), 1);
    assert!(
        plan.unmet().next().unwrap().why.contains("we do not know yet whether they can help"),
        "{}",
        plan.unmet().next().unwrap().why
    );
}

#[tokio::test(start_paused = true)]
async fn area_without_partners_leaves_every_need_unmet_with_signposts() {
    let case =
        case_with_needs(&[(NeedCode::Food, Urgency::Urgent), (NeedCode::DebtMoney, Urgency::Soon)]);
    let (stub_elsewhere, mut elsewhere) =
        stub("shropshire", &[NeedCode::Food, NeedCode::DebtMoney], Behaviour::Answer(vec![]));
    elsewhere.areas = vec!["E06000051".into()];
    let orchestrator =
        Orchestrator::new(vec![elsewhere], settings(2000, 1500), PlanRules::default());
    let plan = orchestrator.plan(&case, today()).await;
    assert!(crate::testing::taken(&plan).is_empty() && plan.partners.is_empty());
    assert_eq!(plan.unmet().count(), 2);
    assert!(plan
        .unmet()
        .all(|u| !u.signposts().is_empty() && u.why.starts_with("None of the services")));
    assert!(
        stub_elsewhere.queries.lock().unwrap().is_empty(),
        "a partner out of area is not asked"
    );
}

#[tokio::test(start_paused = true)]
async fn partner_is_asked_once_about_its_needs_without_personal_data() {
    let case = case_with_needs(&[
        (NeedCode::Food, Urgency::Urgent),
        (NeedCode::MentalHealth, Urgency::Soon),
        (NeedCode::DebtMoney, Urgency::Soon),
    ]);
    let (hub_stub, hub) =
        stub("hub", &[NeedCode::DebtMoney, NeedCode::Food], Behaviour::Answer(vec![]));
    let orchestrator = Orchestrator::new(vec![hub], settings(2000, 1500), PlanRules::default());
    orchestrator.plan(&case, today()).await;
    let queries = hub_stub.queries.lock().unwrap();
    assert_eq!(queries.len(), 1);
    let needs: Vec<NeedCode> = queries[0].needs.iter().map(|n| n.code).collect();
    assert_eq!(needs, [NeedCode::Food, NeedCode::DebtMoney]);
    let sent = serde_json::to_string(&queries[0]).unwrap();
    for personal in ["Test Person", "W10 5AB", "07700", "1989", "Test Road"] {
        assert!(!sent.contains(personal), "query leaked `{personal}`: {sent}");
    }
}

#[tokio::test(start_paused = true)]
async fn partner_that_does_not_answer_availability_is_skipped() {
    let case = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]);
    let (stub_ref, mut referral_only) =
        stub("referral-only", &[NeedCode::Food], Behaviour::Answer(vec![]));
    let mut m = manifest("referral-only", &[NeedCode::Food]);
    m.capabilities = vec![pathways_core::Capability::Referral];
    referral_only.partner = Arc::new(StubPartner::new(m, Behaviour::Answer(vec![])));
    let orchestrator =
        Orchestrator::new(vec![referral_only], settings(2000, 1500), PlanRules::default());
    let plan = orchestrator.plan(&case, today()).await;
    assert_eq!(outcome(&plan, "referral-only").0, PartnerOutcome::Skipped);
    assert!(stub_ref.queries.lock().unwrap().is_empty());
}
