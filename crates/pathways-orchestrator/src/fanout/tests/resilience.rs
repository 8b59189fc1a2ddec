//! The breaker and the bulkhead across plans: one failing or hanging partner stops costing
//! plans anything, and never holds up the others.

use std::sync::Arc;
use std::time::Duration;

use pathways_core::{NeedCode, PartnerError, PartnerOutcome, Urgency};
use tokio::time::Instant;

use super::{outcome, settings, stub};
use crate::resilience::breaker::BreakerPolicy;
use crate::testing::{case_with_needs, offer, today, Behaviour};
use crate::{BreakerState, Orchestrator, OrchestratorSettings, PlanRules};

fn with_breaker(
    failures: u32,
    cooldown_ms: u64,
    base: OrchestratorSettings,
) -> OrchestratorSettings {
    OrchestratorSettings {
        breaker: BreakerPolicy { failures, cooldown: Duration::from_millis(cooldown_ms) },
        ..base
    }
}

fn food_case() -> pathways_core::Case {
    case_with_needs(&[(NeedCode::Food, Urgency::Urgent), (NeedCode::DebtMoney, Urgency::Soon)])
}

#[tokio::test(start_paused = true)]
async fn erroring_partner_opens_its_circuit_and_is_then_not_called_until_the_cooldown() {
    let (failing_stub, failing) = stub(
        "failing",
        &[NeedCode::Food],
        Behaviour::Fail(PartnerError::transient("partner answered 503", None)),
    );
    let (_, good) = stub(
        "good",
        &[NeedCode::DebtMoney],
        Behaviour::Answer(vec![offer(NeedCode::DebtMoney, "d", "Debt Advice")]),
    );
    let orchestrator = Orchestrator::new(
        vec![failing, good],
        with_breaker(3, 10_000, settings(2000, 1500)),
        PlanRules::default(),
    );
    for _ in 0..3 {
        let plan = orchestrator.plan(&food_case(), today()).await;
        assert_eq!(outcome(&plan, "failing").0, PartnerOutcome::Failed);
    }
    assert_eq!(failing_stub.calls(), 3);

    let plan = orchestrator.plan(&food_case(), today()).await;
    let (open, latency, detail) = outcome(&plan, "failing");
    assert_eq!((open, latency), (PartnerOutcome::CircuitOpen, 0));
    assert!(detail.contains("last 3 calls failed") && detail.contains("in 10 s"), "{detail}");
    assert_eq!(failing_stub.calls(), 3, "an open circuit does not call the partner");
    assert_eq!(outcome(&plan, "good").0, PartnerOutcome::Answered, "the others are unaffected");
    assert!(
        plan.unmet().next().unwrap().why.contains("could not ask whether they can help"),
        "{}",
        plan.unmet().next().unwrap().why
    );

    // After the cool-down one probe goes; the partner has recovered, so the circuit closes.
    failing_stub.set_behaviour(Behaviour::Answer(vec![offer(NeedCode::Food, "f", "Food Bank")]));
    tokio::time::advance(Duration::from_secs(10)).await;
    let plan = orchestrator.plan(&food_case(), today()).await;
    assert_eq!(outcome(&plan, "failing").0, PartnerOutcome::Answered);
    assert_eq!(orchestrator.partner_states()[0].breaker, BreakerState::Closed { failures: 0 });
}

#[tokio::test(start_paused = true)]
async fn partner_hanging_past_the_plan_deadline_trips_its_breaker() {
    let (hung_stub, hung) =
        stub("hung", &[NeedCode::Food], Behaviour::Slow(Duration::from_secs(3600), vec![]));
    // The partner timeout is longer than the plan deadline: only the deadline cuts it off.
    let orchestrator = Orchestrator::new(
        vec![hung],
        with_breaker(2, 60_000, settings(300, 5000)),
        PlanRules::default(),
    );
    for _ in 0..2 {
        let started = Instant::now();
        let plan = orchestrator.plan(&food_case(), today()).await;
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        assert_eq!(outcome(&plan, "hung").0, PartnerOutcome::TimedOut);
        tokio::task::yield_now().await; // let the aborted call be dropped
    }
    let started = Instant::now();
    let plan = orchestrator.plan(&food_case(), today()).await;
    assert_eq!(outcome(&plan, "hung").0, PartnerOutcome::CircuitOpen);
    assert_eq!(started.elapsed(), Duration::ZERO, "no waiting for a partner known to hang");
    assert_eq!(hung_stub.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn bulkhead_sheds_calls_beyond_the_limit_at_once_and_others_still_answer() {
    let (slow_stub, slow) = stub(
        "slow",
        &[NeedCode::Food],
        Behaviour::Slow(Duration::from_secs(1), vec![offer(NeedCode::Food, "f", "Food Bank")]),
    );
    let (_, good) = stub(
        "good",
        &[NeedCode::DebtMoney],
        Behaviour::Answer(vec![offer(NeedCode::DebtMoney, "d", "Debt Advice")]),
    );
    let limited = OrchestratorSettings { partner_concurrency: 2, ..settings(2000, 1500) };
    let orchestrator = Arc::new(Orchestrator::new(vec![slow, good], limited, PlanRules::default()));

    let in_flight: Vec<_> = (0..2)
        .map(|_| {
            let orchestrator = orchestrator.clone();
            tokio::spawn(async move { orchestrator.plan(&food_case(), today()).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(10)).await; // both calls are now in flight
    assert_eq!(orchestrator.partner_states()[0].in_flight, 2);

    let started = Instant::now();
    let shed = orchestrator.plan(&food_case(), today()).await;
    assert_eq!(started.elapsed(), Duration::ZERO, "the third plan did not queue");
    let (skipped, _, detail) = outcome(&shed, "slow");
    assert_eq!(skipped, PartnerOutcome::Skipped);
    assert_eq!(detail, "partner busy: 2 calls in flight");
    assert_eq!(outcome(&shed, "good").0, PartnerOutcome::Answered);
    assert_eq!(slow_stub.calls(), 2, "the shed call never reached the partner");

    for plan in in_flight {
        let plan = plan.await.unwrap();
        assert_eq!(outcome(&plan, "slow").0, PartnerOutcome::Answered);
    }
    assert_eq!(orchestrator.partner_states()[0].in_flight, 0, "slots are given back");
    assert_eq!(
        orchestrator.partner_states()[0].breaker,
        BreakerState::Closed { failures: 0 },
        "being shed is not a failure of the partner"
    );
}

#[tokio::test(start_paused = true)]
async fn hung_partner_gives_its_slot_back_at_the_partner_timeout() {
    let (_, hung) =
        stub("hung", &[NeedCode::Food], Behaviour::Slow(Duration::from_secs(3600), vec![]));
    let one_slot = OrchestratorSettings { partner_concurrency: 1, ..settings(2000, 500) };
    let orchestrator = Orchestrator::new(vec![hung], one_slot, PlanRules::default());
    for _ in 0..3 {
        let plan = orchestrator.plan(&food_case(), today()).await;
        let (timed_out, latency, _) = outcome(&plan, "hung");
        assert_eq!(
            (timed_out, latency),
            (PartnerOutcome::TimedOut, 500),
            "never shed, never stuck"
        );
    }
}
