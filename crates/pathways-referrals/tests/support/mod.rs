//! In-process fake partners, a host holding a swappable partner set, and a SQLite store in a
//! temporary folder: what the dispatcher's tests and benchmark run on.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use pathways_core::{
    parse_case, Availability, AvailabilityQuery, Capability, Case, ClientField, Health,
    HealthStatus, Manifest, NeedCode, Partner, PartnerError, PartnerKind, Referral,
    ReferralReceipt, ReferralRef, ReferralStatus, ServiceRef, TaskState,
};
use pathways_orchestrator::{ConfiguredPartner, Orchestrator, OrchestratorSettings, PlanRules};
use pathways_referrals::DispatchHost;
use pathways_store::{AuditEntry, CaseId, DataKeys, DispatchOutcome, ReferralId, Store};

/// How a fake partner answers a send or a status poll.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// At once (after `delay`, when not zero).
    After(Duration),
    /// Never: the call hangs until it is abandoned.
    Hang,
}

/// Counts calls in flight and the most seen at once.
#[derive(Debug, Default)]
pub struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
    total: AtomicUsize,
}

impl Gauge {
    fn enter(&self) -> GaugeGuard<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        self.total.fetch_add(1, Ordering::SeqCst);
        GaugeGuard(self)
    }

    /// Calls made so far.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }

    /// Calls in flight now.
    pub fn now(&self) -> usize {
        self.now.load(Ordering::SeqCst)
    }

    /// The most calls in flight at once so far.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

struct GaugeGuard<'a>(&'a Gauge);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An in-process partner implementing [`Partner`]: sends answer with the idempotency key as
/// the partner's reference; status polls answer `accepted`.
#[derive(Debug)]
pub struct FakePartner {
    manifest: Manifest,
    send: Mutex<Answer>,
    status: Mutex<Answer>,
    /// Sends received.
    pub sends: Gauge,
    /// Status polls received.
    pub polls: Gauge,
    /// Status polls received per partner reference.
    pub polled: Mutex<HashMap<String, usize>>,
}

impl FakePartner {
    pub fn new(id: &str, send: Answer, status: Answer) -> Arc<Self> {
        Arc::new(Self {
            manifest: Manifest {
                plugin: id.to_string(),
                kind: PartnerKind::Other,
                version: "1.0.0".into(),
                description: "in-process fake partner".into(),
                needs: vec![NeedCode::Food],
                areas: Vec::new(),
                shares: vec![ClientField::Name, ClientField::Phone],
                capabilities: vec![Capability::Referral, Capability::Cancel],
                settings_schema: serde_json::Value::Null,
                build: None,
                requires: Vec::new(),
            },
            send: Mutex::new(send),
            status: Mutex::new(status),
            sends: Gauge::default(),
            polls: Gauge::default(),
            polled: Mutex::new(HashMap::new()),
        })
    }

    /// Answers at once, both sends and polls.
    pub fn quick(id: &str) -> Arc<Self> {
        Self::new(id, Answer::After(Duration::ZERO), Answer::After(Duration::ZERO))
    }

    /// Hangs on every call.
    pub fn hung(id: &str) -> Arc<Self> {
        Self::new(id, Answer::Hang, Answer::Hang)
    }

    pub fn set_send(&self, answer: Answer) {
        *self.send.lock().unwrap() = answer;
    }

    /// How many distinct referrals it was polled about.
    pub fn distinct_polled(&self) -> usize {
        self.polled.lock().unwrap().len()
    }
}

async fn behave(answer: Answer) {
    match answer {
        Answer::After(delay) if delay.is_zero() => {}
        Answer::After(delay) => tokio::time::sleep(delay).await,
        Answer::Hang => std::future::pending::<()>().await,
    }
}

#[async_trait]
impl Partner for FakePartner {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn check_availability(
        &self,
        _: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        Ok(Availability { offers: vec![] })
    }

    async fn send_referral(&self, referral: &Referral) -> Result<ReferralReceipt, PartnerError> {
        let _in = self.sends.enter();
        let answer = *self.send.lock().unwrap();
        behave(answer).await;
        Ok(ReferralReceipt {
            partner_reference: referral.idempotency_key.to_string(),
            state: TaskState::Requested,
            received_at: None,
        })
    }

    async fn referral_status(
        &self,
        reference: &ReferralRef,
    ) -> Result<ReferralStatus, PartnerError> {
        let _in = self.polls.enter();
        let answer = *self.status.lock().unwrap();
        behave(answer).await;
        *self.polled.lock().unwrap().entry(reference.partner_reference.clone()).or_default() += 1;
        Ok(ReferralStatus {
            state: TaskState::Accepted,
            reason: None,
            note: None,
            updated_at: None,
        })
    }

    async fn health(&self) -> Result<Health, PartnerError> {
        Ok(Health { status: HealthStatus::Ok, detail: None })
    }

    async fn cancel_referral(
        &self,
        _: &pathways_core::CancelRequest,
    ) -> Result<ReferralStatus, PartnerError> {
        Ok(ReferralStatus {
            state: TaskState::Cancelled,
            reason: None,
            note: None,
            updated_at: None,
        })
    }
}

/// An orchestrator over `partners`, with `slots` send (and poll) slots per partner and a
/// breaker opening after `breaker_failures` (0: off).
pub fn orchestrator(
    partners: &[(&str, Arc<FakePartner>)],
    slots: usize,
    breaker_failures: u32,
) -> Orchestrator {
    let configured = partners
        .iter()
        .map(|(id, partner)| ConfiguredPartner {
            id: (*id).to_string(),
            name: (*id).to_string(),
            areas: vec![],
            partner: partner.clone(),
            domestic_abuse_service: false,
        })
        .collect();
    let mut settings = OrchestratorSettings::default();
    settings.breaker.failures = breaker_failures;
    settings.breaker.cooldown = Duration::from_secs(60);
    Orchestrator::new(configured, settings, PlanRules::default()).with_referral_concurrency(slots)
}

/// A host whose partner set a test may replace, as a reload does.
#[derive(Debug)]
pub struct Host {
    partners: RwLock<Arc<Orchestrator>>,
    /// The audit entries the dispatcher wrote.
    pub audits: Mutex<Vec<AuditEntry>>,
    /// Sends finished, by outcome: delivered, retry, failed.
    pub finished: Mutex<HashMap<&'static str, usize>>,
}

impl Host {
    pub fn new(orchestrator: Orchestrator) -> Arc<Self> {
        Arc::new(Self {
            partners: RwLock::new(Arc::new(orchestrator)),
            audits: Mutex::default(),
            finished: Mutex::default(),
        })
    }

    /// Swaps in a new partner set, carrying over lanes and statistics as the daemon does.
    pub fn reload(&self, orchestrator: Orchestrator) -> Vec<String> {
        let mut current = self.partners.write().unwrap();
        let kept = orchestrator.adopt(&current);
        *current = Arc::new(orchestrator);
        kept
    }

    pub fn delivered(&self) -> usize {
        self.finished.lock().unwrap().get("delivered").copied().unwrap_or(0)
    }
}

#[async_trait]
impl DispatchHost for Host {
    fn partners(&self) -> Arc<Orchestrator> {
        self.partners.read().unwrap().clone()
    }

    fn send_finished(&self, _: &str, outcome: &DispatchOutcome, _: Duration) {
        let label = match outcome {
            DispatchOutcome::Delivered { .. } => "delivered",
            DispatchOutcome::Retry { .. } => "retry",
            DispatchOutcome::Failed { .. } => "failed",
        };
        *self.finished.lock().unwrap().entry(label).or_default() += 1;
    }

    async fn audit(&self, entry: AuditEntry) {
        self.audits.lock().unwrap().push(entry);
    }
}

/// A SQLite store in a new temporary folder (kept as long as the folder is).
pub async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}/pathways.db", dir.path().display());
    let store = pathways_store::open(&url, DataKeys::ephemeral()).await.expect("open SQLite");
    (store, dir)
}

/// A case to refer.
pub fn case() -> Case {
    let json = r#"{
      "reference": "BENCH-1", "channel": "phone",
      "referrer": {"organisation": "citizens-advice-kc", "worker": "pf-1"},
      "client": {"name": "Test Person", "date_of_birth": "1989-04-02", "postcode": "W10 5AB",
        "address": "1 Test Road", "local_authority": "E09000020", "phone": "07700 900123",
        "email": null, "preferred_language": "en", "safe_contact": false,
        "household": {"adults": 1, "children_ages": []}},
      "needs": [{"code": "food", "urgency": "urgent"}],
      "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
        "recorded_by": "pf-1", "recorded_at": "2026-11-20T10:00:00Z"}
    }"#;
    parse_case(json.as_bytes()).expect("the case is valid")
}

/// Queues `count` referrals to `partner` (each on a case of its own, 200 to a batch).
pub async fn queue(store: &Arc<dyn Store>, partner: &str, count: usize) -> Vec<ReferralId> {
    let case = case();
    let mut ids = Vec::with_capacity(count);
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let first = NEXT.fetch_add(count, Ordering::SeqCst);
    let keys: Vec<String> = (first..first + count).map(|i| format!("{partner}-{i}")).collect();
    for chunk in keys.chunks(200) {
        let case_id: CaseId = store.insert_case("citizens-advice-kc", &case).await.unwrap();
        let referrals = chunk
            .iter()
            .map(|key| {
                let service = ServiceRef { id: key.clone(), name: "Service".into() };
                let fields = [ClientField::Name, ClientField::Phone];
                Referral::for_partner(
                    &case,
                    &partner.parse().unwrap(),
                    service,
                    &[NeedCode::Food],
                    &fields,
                    false,
                    key.parse().unwrap(),
                )
                .into()
            })
            .collect();
        ids.extend(store.create_referrals(&case_id, referrals, chrono::Utc::now()).await.unwrap());
    }
    ids
}

/// Marks every queued referral delivered (reference: its idempotency key), as a dispatcher
/// would have, without one: the starting point of the polling tests.
pub async fn deliver_all(store: &Arc<dyn Store>) -> usize {
    let lease = Duration::from_secs(60);
    let mut delivered = 0;
    loop {
        let now = chrono::Utc::now();
        let items = store.claim_outbox("setup", 500, lease, now).await.unwrap();
        if items.is_empty() {
            return delivered;
        }
        let mut finishing = tokio::task::JoinSet::new();
        for item in items {
            let store = store.clone();
            finishing.spawn(async move {
                let outcome =
                    DispatchOutcome::Delivered { partner_reference: item.idempotency_key.clone() };
                store.finish_outbox(item.id, "setup", outcome, chrono::Utc::now()).await.unwrap()
            });
        }
        while let Some(done) = finishing.join_next().await {
            assert!(done.unwrap());
            delivered += 1;
        }
    }
}

/// Waits up to `within` for `done`, checking every 20 ms; whether it came true.
pub async fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}
