//! The dispatcher's calls (sends, cancels, status polls) through the partners' lanes: the same
//! breaker as availability, bulkheads of their own, deadlines; and lanes carried over a reload.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pathways_core::{
    Availability, AvailabilityQuery, CancelReason, CancelRequest, Health, HealthStatus, Manifest,
    NeedCode, Partner, PartnerError, PartnerErrorKind, PartnerOutcome, Referral, ReferralReceipt,
    ReferralRef, ReferralStatus, TaskState, Urgency,
};
use tokio::time::Instant;

use super::{outcome, settings};
use crate::planner::{PathwayCounts, PathwayStats};
use crate::resilience::breaker::BreakerPolicy;
use crate::testing::{case_with_needs, manifest, offer, today};
use crate::{BreakerState, ConfiguredPartner, LaneError, Orchestrator, OrchestratorSettings};
use crate::{PlanRules, Slots};

/// What a [`LanePartner`] does when asked anything about a referral.
#[derive(Debug, Clone)]
enum Answer {
    Accepted,
    Hang,
    Fail(PartnerError),
}

/// A partner whose referral calls behave as told; availability answers at once.
#[derive(Debug)]
struct LanePartner {
    manifest: Manifest,
    answer: Mutex<Answer>,
    referral_calls: AtomicUsize,
    availability_calls: AtomicUsize,
}

impl LanePartner {
    fn new(id: &str, answer: Answer) -> Arc<Self> {
        Arc::new(Self {
            manifest: manifest(id, &[NeedCode::Food]),
            answer: Mutex::new(answer),
            referral_calls: AtomicUsize::new(0),
            availability_calls: AtomicUsize::new(0),
        })
    }

    async fn answer(&self) -> Result<ReferralStatus, PartnerError> {
        self.referral_calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.answer.lock().unwrap().clone();
        match answer {
            Answer::Accepted => Ok(ReferralStatus {
                state: TaskState::Accepted,
                reason: None,
                note: None,
                updated_at: None,
            }),
            Answer::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Err(PartnerError::timeout("never"))
            }
            Answer::Fail(error) => Err(error),
        }
    }
}

#[async_trait]
impl Partner for LanePartner {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn check_availability(
        &self,
        _: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        self.availability_calls.fetch_add(1, Ordering::SeqCst);
        Ok(Availability { offers: vec![offer(NeedCode::Food, "f", "Food Bank")] })
    }

    async fn send_referral(&self, _: &Referral) -> Result<ReferralReceipt, PartnerError> {
        self.answer().await.map(|_| ReferralReceipt {
            partner_reference: "R-1".into(),
            state: TaskState::Requested,
            received_at: None,
        })
    }

    async fn referral_status(&self, _: &ReferralRef) -> Result<ReferralStatus, PartnerError> {
        self.answer().await
    }

    async fn health(&self) -> Result<Health, PartnerError> {
        Ok(Health { status: HealthStatus::Ok, detail: None })
    }

    async fn cancel_referral(&self, _: &CancelRequest) -> Result<ReferralStatus, PartnerError> {
        self.answer().await
    }
}

fn configured(id: &str, partner: &Arc<LanePartner>) -> ConfiguredPartner {
    ConfiguredPartner {
        id: id.into(),
        name: format!("Partner {id}"),
        areas: vec!["E09000020".into()],
        partner: partner.clone(),
        domestic_abuse_service: false,
    }
}

fn reference() -> ReferralRef {
    ReferralRef { partner_reference: "R-1".into(), idempotency_key: "k-1".parse().unwrap() }
}

fn cancel() -> CancelRequest {
    CancelRequest { reference: reference(), reason: CancelReason::Other }
}

fn breaker(failures: u32, cooldown_secs: u64) -> OrchestratorSettings {
    OrchestratorSettings {
        breaker: BreakerPolicy { failures, cooldown: Duration::from_secs(cooldown_secs) },
        ..settings(2000, 1500)
    }
}

fn food_case() -> pathways_core::Case {
    case_with_needs(&[(NeedCode::Food, Urgency::Urgent)])
}

#[tokio::test(start_paused = true)]
async fn failed_polls_open_the_breaker_that_plans_see_and_an_open_circuit_calls_nobody() {
    let partner = LanePartner::new("fb", Answer::Fail(PartnerError::transient("503", None)));
    let orchestrator =
        Orchestrator::new(vec![configured("fb", &partner)], breaker(3, 30), PlanRules::default());
    let lane = orchestrator.referral_lane("fb").expect("enabled");
    for _ in 0..3 {
        let error = lane.status(&reference(), Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(error, LaneError::Partner(_)), "{error:?}");
    }
    assert!(matches!(lane.breaker(), BreakerState::Open { .. }));

    // A send now is refused without calling the partner, and says when to come back.
    let started = Instant::now();
    let refused = lane.cancel(&cancel(), Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert!(!refused.reached_partner());
    let as_partner = refused.into_partner_error();
    assert_eq!(as_partner.kind, PartnerErrorKind::Transient { retry_after_ms: Some(30_000) });
    assert!(as_partner.message.starts_with("circuit open"), "{}", as_partner.message);
    assert_eq!(partner.referral_calls.load(Ordering::SeqCst), 3);

    // Plans see the same breaker.
    let plan = orchestrator.plan(&food_case(), today()).await;
    assert_eq!(outcome(&plan, "fb").0, PartnerOutcome::CircuitOpen);
    assert_eq!(partner.availability_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_refusal_about_one_referral_does_not_count_against_the_partner() {
    let partner = LanePartner::new("fb", Answer::Fail(PartnerError::permanent("unknown voucher")));
    let orchestrator =
        Orchestrator::new(vec![configured("fb", &partner)], breaker(2, 30), PlanRules::default());
    let lane = orchestrator.referral_lane("fb").unwrap();
    for _ in 0..5 {
        assert!(lane.cancel(&cancel(), Duration::from_secs(5)).await.is_err());
    }
    assert_eq!(lane.breaker(), BreakerState::Closed { failures: 0 });
}

#[tokio::test(start_paused = true)]
async fn a_hung_partner_holds_only_its_own_send_slots_each_until_the_deadline() {
    let hung = LanePartner::new("hung", Answer::Hang);
    let fine = LanePartner::new("fine", Answer::Accepted);
    let orchestrator = Arc::new(
        Orchestrator::new(
            vec![configured("hung", &hung), configured("fine", &fine)],
            breaker(0, 30),
            PlanRules::default(),
        )
        .with_referral_concurrency(2),
    );
    let lane = orchestrator.referral_lane("hung").unwrap();
    assert_eq!(lane.sends(), Slots { limit: 2, in_flight: 0 });
    let held: Vec<_> = (0..2)
        .map(|_| {
            let lane = lane.clone();
            tokio::spawn(async move { lane.cancel(&cancel(), Duration::from_secs(20)).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(lane.sends(), Slots { limit: 2, in_flight: 2 });
    assert_eq!(lane.polls().in_flight, 0, "polls have their own slots");

    // A third send to it is shed at once; the other partner's sends, its polls and plans go on.
    let started = Instant::now();
    let shed = lane.cancel(&cancel(), Duration::from_secs(20)).await.unwrap_err();
    assert!(matches!(shed, LaneError::Busy(_)), "{shed:?}");
    let fine_lane = orchestrator.referral_lane("fine").unwrap();
    assert!(fine_lane.cancel(&cancel(), Duration::from_secs(20)).await.is_ok());
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(hung.referral_calls.load(Ordering::SeqCst), 2);

    // Each held slot comes back at the deadline, as a timeout.
    for call in held {
        match call.await.unwrap() {
            Err(LaneError::TimedOut(d)) => assert_eq!(d, Duration::from_secs(20)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(started.elapsed(), Duration::from_secs(20) - Duration::from_millis(10));
    assert_eq!(lane.sends().in_flight, 0);
    let timeout = LaneError::TimedOut(Duration::from_secs(20)).into_partner_error();
    assert_eq!(timeout.kind, PartnerErrorKind::Timeout);
    assert_eq!(timeout.message, "no answer within 20000 ms");
}

#[tokio::test(start_paused = true)]
async fn a_reload_carries_over_the_lanes_of_partners_that_stay_and_the_statistics() {
    let failing = LanePartner::new("fb", Answer::Fail(PartnerError::transient("503", None)));
    let other = LanePartner::new("nhs", Answer::Accepted);
    let before = Orchestrator::new(
        vec![configured("fb", &failing), configured("nhs", &other)],
        breaker(2, 60),
        PlanRules::default(),
    );
    let lane = before.referral_lane("fb").unwrap();
    for _ in 0..2 {
        let _ = lane.status(&reference(), Duration::from_secs(5)).await;
    }
    assert!(matches!(lane.breaker(), BreakerState::Open { .. }));
    let stats: PathwayStats =
        [("fb".to_string(), NeedCode::Food, PathwayCounts { sent: 10, accepted: 7, completed: 5 })]
            .into_iter()
            .collect();
    before.set_pathway_stats(stats);

    // The new configuration keeps `fb` (a new connector instance), drops `nhs`, adds `council`.
    let reloaded = LanePartner::new("fb", Answer::Accepted);
    let added = LanePartner::new("council", Answer::Accepted);
    let after = Orchestrator::new(
        vec![configured("council", &added), configured("fb", &reloaded)],
        breaker(2, 60),
        PlanRules::default(),
    );
    assert_eq!(after.adopt(&before), vec!["fb".to_string()]);
    assert!(
        matches!(after.referral_lane("fb").unwrap().breaker(), BreakerState::Open { .. }),
        "the breaker survives the reload"
    );
    assert_eq!(
        after.referral_lane("council").unwrap().breaker(),
        BreakerState::Closed { failures: 0 }
    );
    assert_eq!(
        after.pathway_stats().get("fb", NeedCode::Food),
        Some(PathwayCounts { sent: 10, accepted: 7, completed: 5 })
    );
    let lane = after.referral_lane("fb").unwrap();
    let refused = lane.status(&reference(), Duration::from_secs(5)).await;
    assert!(matches!(refused, Err(LaneError::CircuitOpen(_))));
    assert_eq!(reloaded.referral_calls.load(Ordering::SeqCst), 0, "still not called");

    // Changed lane settings start afresh with the new ones.
    let resized =
        Orchestrator::new(vec![configured("fb", &reloaded)], breaker(2, 60), PlanRules::default())
            .with_referral_concurrency(9);
    assert!(resized.adopt(&after).is_empty());
    assert_eq!(resized.referral_lane("fb").unwrap().sends().limit, 9);
    assert_eq!(
        resized.referral_lane("fb").unwrap().breaker(),
        BreakerState::Closed { failures: 0 }
    );
}
