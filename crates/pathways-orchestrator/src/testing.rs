//! Test helpers: cases, manifests, offers, answers, and a [`StubPartner`] whose behaviour a test
//! chooses (answer, answer slowly, fail, panic).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use pathways_core::{
    parse_case, Availability, AvailabilityQuery, Capability, Capacity, Case, ClientField,
    Eligibility, Health, HealthStatus, Manifest, NeedCode, Offer, Partner, PartnerError,
    PartnerKind, PartnerOutcome, ReferralReceipt, ReferralRef, ReferralStatus, ServiceRef, Urgency,
};
use serde_json::{json, Value};

use crate::fanout::PartnerAnswer;

/// The entries of a plan that are not `unmet`.
pub fn taken(plan: &pathways_core::ActionPlan) -> Vec<&pathways_core::PlanStep> {
    plan.steps.iter().filter(|s| !s.is_unmet()).collect()
}

/// A date from `YYYY-MM-DD`.
pub fn date(text: &str) -> NaiveDate {
    text.parse().expect("test date")
}

/// The day the test plans are made.
pub fn today() -> NaiveDate {
    date("2026-11-20")
}

/// A valid case in Kensington & Chelsea (E09000020) with `needs`, after `edit` changes its JSON.
pub fn case_edited(needs: &[(NeedCode, Urgency)], edit: impl FnOnce(&mut Value)) -> Case {
    let needs: Vec<Value> =
        needs.iter().map(|(code, urgency)| json!({"code": code, "urgency": urgency})).collect();
    let mut value = json!({
        "reference": "TEST-1", "channel": "phone",
        "referrer": {"organisation": "citizens-advice-kc", "worker": "pf-1"},
        "client": {"name": "Test Person", "date_of_birth": "1989-04-02", "postcode": "W10 5AB",
            "address": "1 Test Road", "local_authority": "E09000020", "phone": "07700 900123",
            "email": null, "preferred_language": "en", "safe_contact": false,
            "household": {"adults": 1, "children_ages": [7]}},
        "needs": needs,
        "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
            "recorded_by": "pf-1", "recorded_at": "2026-11-20T10:00:00Z"}
    });
    edit(&mut value);
    parse_case(value.to_string().as_bytes()).expect("test case is valid")
}

/// A valid case with `needs` and nothing else special.
pub fn case_with_needs(needs: &[(NeedCode, Urgency)]) -> Case {
    case_edited(needs, |_| {})
}

/// A manifest for a connector serving `needs` anywhere, sharing name, contact and household.
pub fn manifest(plugin: &str, needs: &[NeedCode]) -> Manifest {
    Manifest {
        plugin: plugin.to_string(),
        kind: PartnerKind::Other,
        version: "1.0.0".into(),
        description: "test partner".into(),
        needs: needs.to_vec(),
        areas: Vec::new(),
        shares: vec![
            ClientField::Name,
            ClientField::Phone,
            ClientField::Address,
            ClientField::Postcode,
            ClientField::Household,
        ],
        capabilities: vec![Capability::Availability, Capability::Referral],
        settings_schema: Value::Null,
        build: None,
        requires: Vec::new(),
    }
}

/// An eligible offer with capacity and no date or place.
pub fn offer(need: NeedCode, service_id: &str, name: &str) -> Offer {
    Offer {
        need,
        service: ServiceRef { id: service_id.into(), name: name.into() },
        eligibility: Eligibility::Eligible,
        capacity: Capacity::Capacity,
        earliest_start: None,
        wait_estimate: None,
        channel: None,
        location: None,
        contact: None,
        route: None,
    }
}

/// `offer` with a different capacity.
pub fn offer_with(
    need: NeedCode,
    service_id: &str,
    capacity: Capacity,
    eligibility: Eligibility,
) -> Offer {
    Offer { capacity, eligibility, ..offer(need, service_id, &format!("Service {service_id}")) }
}

/// An answer from `partner_id`, asked about the needs its offers cover.
pub fn answered(partner_id: &str, offers: Vec<Offer>) -> PartnerAnswer {
    let mut asked: Vec<NeedCode> = offers.iter().map(|o| o.need).collect();
    asked.dedup();
    PartnerAnswer {
        partner_id: partner_id.to_string(),
        name: format!("Partner {partner_id}"),
        manifest: manifest(partner_id, &asked),
        // Test partners that serve domestic abuse are confirmed, as a council would.
        domestic_abuse_confirmed: asked.contains(&NeedCode::DomesticAbuse),
        asked,
        outcome: PartnerOutcome::Answered,
        latency_ms: 40,
        detail: None,
        offers,
    }
}

/// What a [`StubPartner`] does when asked about availability.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Answers at once with these offers.
    Answer(Vec<Offer>),
    /// Answers with these offers after a delay.
    Slow(Duration, Vec<Offer>),
    /// Fails with this error.
    Fail(PartnerError),
    /// Panics.
    Panic,
}

/// An in-process partner for tests.
#[derive(Debug)]
pub struct StubPartner {
    manifest: Manifest,
    behaviour: Mutex<Behaviour>,
    /// Every query it received.
    pub queries: Mutex<Vec<AvailabilityQuery>>,
    /// Set when a call of it was dropped before finishing.
    pub cancelled: Arc<AtomicBool>,
}

impl StubPartner {
    /// A partner with `manifest` that behaves as told.
    pub fn new(manifest: Manifest, behaviour: Behaviour) -> Self {
        Self {
            manifest,
            behaviour: Mutex::new(behaviour),
            queries: Mutex::new(Vec::new()),
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Changes what it does from the next call on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// How many availability calls it has received.
    pub fn calls(&self) -> usize {
        self.queries.lock().unwrap().len()
    }

    /// A partner that answers at once with `offers`.
    pub fn answering(manifest: Manifest, offers: Vec<Offer>) -> Self {
        Self::new(manifest, Behaviour::Answer(offers))
    }
}

/// Sets its flag when dropped while armed: a call abandoned mid-way.
struct CancelGuard(Arc<AtomicBool>, bool);

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl Partner for StubPartner {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn check_availability(
        &self,
        query: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        self.queries.lock().unwrap().push(query.clone());
        let behaviour = self.behaviour.lock().unwrap().clone();
        match &behaviour {
            Behaviour::Answer(offers) => Ok(Availability { offers: offers.clone() }),
            Behaviour::Slow(delay, offers) => {
                let mut guard = CancelGuard(self.cancelled.clone(), true);
                tokio::time::sleep(*delay).await;
                guard.1 = false;
                Ok(Availability { offers: offers.clone() })
            }
            Behaviour::Fail(error) => Err(error.clone()),
            Behaviour::Panic => panic!("stub partner told to panic"),
        }
    }

    async fn send_referral(
        &self,
        _: &pathways_core::Referral,
    ) -> Result<ReferralReceipt, PartnerError> {
        Err(PartnerError::permanent("the stub takes no referrals"))
    }

    async fn referral_status(&self, _: &ReferralRef) -> Result<ReferralStatus, PartnerError> {
        Err(PartnerError::permanent("the stub has no referrals"))
    }

    async fn health(&self) -> Result<Health, PartnerError> {
        Ok(Health { status: HealthStatus::Ok, detail: None })
    }
}
