//! A configuration reload keeps what the daemon has learnt about partners that stay: each
//! one's lane (its circuit breaker, shared by plans and the dispatcher) and the planner's
//! pathway statistics. A partner that is dropped and added back starts afresh.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathways_core::{
    Availability, AvailabilityQuery, Capability, ClientField, Health, HealthStatus, Manifest,
    NeedCode, Partner, PartnerError, PartnerKind, Referral, ReferralReceipt, ReferralRef,
    ReferralStatus,
};
use pathways_daemon::{hash_token, new_token, ApiKey, Daemon, KeyRing, Limits, Live, Role};
use pathways_orchestrator::{
    BreakerPolicy, ConfiguredPartner, Orchestrator, OrchestratorSettings, PathwayCounts,
    PathwayStats, PlanRules,
};

/// A partner whose system answers 503 to everything.
struct Down(Manifest);

impl Down {
    fn new(id: &str) -> Self {
        Self(Manifest {
            plugin: id.into(),
            kind: PartnerKind::Other,
            version: "1.0.0".into(),
            description: "a partner that is down".into(),
            needs: vec![NeedCode::Food],
            areas: vec![],
            shares: vec![ClientField::Name],
            capabilities: vec![Capability::Availability, Capability::Referral],
            settings_schema: serde_json::Value::Null,
            build: None,
            requires: Vec::new(),
        })
    }
}

#[async_trait]
impl Partner for Down {
    fn manifest(&self) -> &Manifest {
        &self.0
    }
    async fn check_availability(
        &self,
        _: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        Err(PartnerError::transient("503", None))
    }
    async fn send_referral(&self, _: &Referral) -> Result<ReferralReceipt, PartnerError> {
        Err(PartnerError::transient("503", None))
    }
    async fn referral_status(&self, _: &ReferralRef) -> Result<ReferralStatus, PartnerError> {
        Err(PartnerError::transient("503", None))
    }
    async fn health(&self) -> Result<Health, PartnerError> {
        Ok(Health { status: HealthStatus::Ok, detail: None })
    }
}

fn orchestrator(ids: &[&str]) -> Arc<Orchestrator> {
    let partners = ids
        .iter()
        .map(|id| ConfiguredPartner {
            id: (*id).into(),
            name: (*id).into(),
            areas: vec![],
            partner: Arc::new(Down::new(id)),
            domestic_abuse_service: false,
        })
        .collect();
    let settings = OrchestratorSettings {
        breaker: BreakerPolicy { failures: 2, cooldown: Duration::from_secs(600) },
        ..OrchestratorSettings::default()
    };
    Arc::new(Orchestrator::new(partners, settings, PlanRules::default()))
}

fn live(orchestrator: &Arc<Orchestrator>, token: &str) -> Live {
    let keys =
        KeyRing::new(vec![ApiKey::new("pf", "org", Role::Pathfinder, &hash_token(token)).unwrap()])
            .unwrap();
    Live {
        orchestrator: orchestrator.clone(),
        keys: Arc::new(keys),
        webhook_secrets: Arc::default(),
    }
}

/// Each partner's breaker as `GET /v1/partners` reports it.
async fn breakers(daemon: &Daemon, token: &str) -> Vec<(String, String)> {
    let (status, body) = daemon.request("GET", "/v1/partners", token, &[], None).await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["partners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().into(), p["breaker"].as_str().unwrap().into()))
        .collect()
}

#[tokio::test]
async fn a_reload_keeps_the_breakers_and_statistics_of_partners_that_stay() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/p.db", dir.path().display());
    let store = pathways_store::open(&url, pathways_store::DataKeys::ephemeral()).await.unwrap();
    let token = new_token();
    let first = orchestrator(&["fb", "nhs"]);
    let daemon = Daemon::new(store, live(&first, &token), Limits::default());

    // The dispatcher's status polls to `fb` fail twice: its circuit opens, for plans too.
    let lane = first.referral_lane("fb").unwrap();
    let reference =
        ReferralRef { partner_reference: "R".into(), idempotency_key: "k".parse().unwrap() };
    for _ in 0..2 {
        assert!(lane.status(&reference, Duration::from_secs(5)).await.is_err());
    }
    let stats: PathwayStats =
        [("nhs".to_string(), NeedCode::Food, PathwayCounts { sent: 9, accepted: 6, completed: 3 })]
            .into_iter()
            .collect();
    first.set_pathway_stats(stats);
    let open_closed = vec![("fb".into(), "open".into()), ("nhs".into(), "closed".into())];
    assert_eq!(breakers(&daemon, &token).await, open_closed);

    // Reload: both partners stay (new connector instances), a third arrives.
    let second = orchestrator(&["nhs", "fb", "council"]);
    assert_eq!(daemon.reload(live(&second, &token)), ["nhs", "fb"]);
    assert_eq!(
        breakers(&daemon, &token).await,
        [("nhs", "closed"), ("fb", "open"), ("council", "closed")]
            .map(|(id, b)| (id.to_string(), b.to_string()))
    );
    assert_eq!(
        second.pathway_stats().get("nhs", NeedCode::Food),
        Some(PathwayCounts { sent: 9, accepted: 6, completed: 3 }),
        "plans right after the reload are weighed as before"
    );

    // Dropped, then back: a partner that left starts afresh.
    let third = orchestrator(&["nhs"]);
    assert_eq!(daemon.reload(live(&third, &token)), ["nhs"]);
    let fourth = orchestrator(&["nhs", "fb"]);
    assert_eq!(daemon.reload(live(&fourth, &token)), ["nhs"]);
    assert_eq!(
        breakers(&daemon, &token).await,
        [("nhs", "closed"), ("fb", "closed")].map(|(id, b)| (id.to_string(), b.to_string()))
    );
}
