//! The smallest pathways partner plugin: the template an integrator copies.
//!
//! It "runs" a befriending service that meets `social_isolation`, answering from its settings
//! instead of a partner's API, so it shows the whole plugin contract with nothing else in the
//! way. docs/writing-a-plugin.md walks through it.
//!
//! Build and check it:
//! ```text
//! cargo build -p hello-partner
//! cargo run -p pathways -- plugins check target/debug/libhello_partner.so --settings '{"service_name": "Tea and Talk"}'
//! ```

use pathways_sdk::{
    async_trait, Availability, AvailabilityQuery, Capability, Capacity, ClientField, Eligibility,
    Health, HealthStatus, Manifest, NeedCode, Offer, Partner, PartnerError, PartnerKind,
    PartnerPlugin, Referral, ReferralReceipt, ReferralRef, ReferralStatus, ServiceChannel,
    ServiceRef, TaskState,
};
// Only the SDK is a dependency: serde, schemars and serde_json come through it, at the
// versions it was built with.
use pathways_sdk::{schemars, serde, serde_json};
use serde::Deserialize;

/// Settings, from the partner's `[partners.settings]` table. The doc comments are the
/// operator's documentation: they become the settings schema.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(crate = "pathways_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "pathways_sdk::schemars")]
pub struct Settings {
    /// The name clients know the service by.
    pub service_name: String,
    /// Places left this week; 0 means the service is full.
    #[serde(default = "default_places")]
    pub places: u32,
}

fn default_places() -> u32 {
    5
}

/// A befriending service that answers from its settings.
#[derive(Debug)]
pub struct HelloPartner {
    manifest: Manifest,
    settings: Settings,
}

impl PartnerPlugin for HelloPartner {
    type Settings = Settings;

    fn describe() -> Manifest {
        Manifest {
            plugin: "hello-partner".into(),
            kind: PartnerKind::Voluntary,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A befriending service answering from its settings (template plugin)"
                .into(),
            needs: vec![NeedCode::SocialIsolation],
            areas: vec![],
            // The only client fields a referral to it will ever carry.
            shares: vec![ClientField::Name, ClientField::Phone, ClientField::PreferredLanguage],
            capabilities: vec![Capability::Availability, Capability::Referral, Capability::Status],
            settings_schema: serde_json::Value::Null,
            build: None,
            requires: Vec::new(),
        }
    }

    fn from_settings(settings: Settings) -> Result<Self, String> {
        if settings.service_name.trim().is_empty() {
            return Err("settings key `service_name` must not be empty".into());
        }
        Ok(Self { manifest: pathways_sdk::manifest_of::<Self>(), settings })
    }
}

#[async_trait]
impl Partner for HelloPartner {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn check_availability(
        &self,
        query: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        let offers = query
            .needs
            .iter()
            .filter(|n| n.code == NeedCode::SocialIsolation)
            .map(|n| Offer {
                need: n.code,
                service: ServiceRef {
                    id: "befriending".into(),
                    name: self.settings.service_name.clone(),
                },
                eligibility: Eligibility::Eligible,
                capacity: if self.settings.places > 0 {
                    Capacity::Capacity
                } else {
                    Capacity::NoCapacity
                },
                earliest_start: Some(query.today),
                wait_estimate: None,
                channel: Some(ServiceChannel::Phone),
                location: None,
                contact: None,
                route: None,
            })
            .collect();
        Ok(Availability { offers })
    }

    async fn send_referral(&self, referral: &Referral) -> Result<ReferralReceipt, PartnerError> {
        // Deriving the reference from the idempotency key makes a repeat harmless.
        Ok(ReferralReceipt {
            partner_reference: format!("hello-{}", referral.idempotency_key),
            state: TaskState::Requested,
            received_at: None,
        })
    }

    async fn referral_status(
        &self,
        _reference: &ReferralRef,
    ) -> Result<ReferralStatus, PartnerError> {
        Ok(ReferralStatus {
            state: TaskState::Requested,
            reason: None,
            note: None,
            updated_at: None,
        })
    }

    async fn health(&self) -> Result<Health, PartnerError> {
        Ok(Health {
            status: HealthStatus::Ok,
            detail: Some(format!("{} places", self.settings.places)),
        })
    }
}

pathways_sdk::export_partner!(HelloPartner);
