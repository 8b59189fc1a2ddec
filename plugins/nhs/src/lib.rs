//! NHS connector: finds NHS services for a client's needs in a FHIR R4 directory, refers to
//! them with NHS Booking and Referral Standard (BaRS) messages, and tracks the referrals'
//! Tasks.
//!
//! - Availability: for `mental_health`, `substance_use`, `social_isolation` and
//!   `physical_health_disability`. One `GET /HealthcareService` search by the client's local
//!   authority (coverage area) and the HL7 service categories of the needs asked; each active
//!   service with a BaRS endpoint identifier is offered for each need it meets, with the HL7
//!   Gravity capacity status (`capacity | no-capacity | waitlist |
//!   additional-assessment-required`), its notes as the wait estimate (and a wait they state as
//!   `earliest_start`), and eligibility from its age range. The search includes the services'
//!   Locations (`_include=HealthcareService:location`), so each offer (route `refer`) carries
//!   the service's phone, email, web address, opening times and venue address as its
//!   `contact`. See `mapping` for the vocabularies.
//! - Referral: one `POST /$process-message` carrying a `servicerequest-request` message Bundle
//!   (MessageHeader, ServiceRequest, Patient, Organization), with `X-Request-ID`,
//!   `X-Correlation-ID` and `NHSD-Target-Identifier` headers. Every id is derived from the
//!   referral's idempotency key, so a retry is the same message; a 409 `REC_CONFLICT` or a
//!   `duplicate` OperationOutcome means it already got through, and the receipt is then found
//!   with `GET /ServiceRequest?identifier=...&_revinclude=Task:focus`. See `message` for what
//!   the Bundle carries.
//! - Status: `GET /Task/{id}` (the receipt's reference), FHIR Task states one to one.
//!
//! Shares (the manifest): name and date of birth (an NHS service traces the patient with
//! them), postcode and address (catchment and tracing), phone and email (the service books
//! its own appointment), preferred language (interpreters), and the notes of the needs
//! referred here (a clinician triages on the referrer's description). Not the household. The
//! core withholds contact details from everyone but a domestic-abuse service when contact is
//! unsafe, and notes of needs not referred here; the message then asks the service to contact
//! the client through the referrer.
//!
//! Built as a `cdylib` (the loadable plugin) and an `rlib` (for tests and benches).

mod client;
mod fhir;
mod mapping;
mod message;
mod outcome;
mod settings;

use chrono::Utc;
use pathways_sdk::connector::timed_health;
use pathways_sdk::{
    async_trait, is_ons_local_authority, Availability, AvailabilityQuery, Capability, ClientField,
    Health, Manifest, NeedRequest, Partner, PartnerError, PartnerKind, PartnerPlugin, Referral,
    ReferralReceipt, ReferralRef, ReferralStatus,
};

pub use settings::Settings;

use client::{Delivery, NhsClient};
use fhir::Resource;
use message::{Addressing, MessageIds};

/// The NHS partner: a FHIR R4 service directory and a BaRS receiver.
#[derive(Debug)]
pub struct NhsPartner {
    manifest: Manifest,
    settings: Settings,
    client: NhsClient,
}

impl PartnerPlugin for NhsPartner {
    type Settings = Settings;

    fn describe() -> Manifest {
        Manifest {
            plugin: "nhs".into(),
            kind: PartnerKind::Nhs,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "NHS services over FHIR R4: directory with capacity status, BaRS referrals and Task status".into(),
            needs: mapping::nhs_needs(),
            areas: Vec::new(),
            shares: vec![
                ClientField::Name,
                ClientField::DateOfBirth,
                ClientField::Postcode,
                ClientField::Address,
                ClientField::Phone,
                ClientField::Email,
                ClientField::PreferredLanguage,
                ClientField::NeedNotes,
            ],
            capabilities: vec![Capability::Availability, Capability::Referral, Capability::Status],
            // Nothing beyond consent: a BaRS referral needs the name and date of birth, which
            // every case records, and a client without direct contact is reached through the
            // referrer (the message says so).
            requires: Vec::new(),
            settings_schema: serde_json::Value::Null,
            build: None,
        }
    }

    fn from_settings(settings: Settings) -> Result<Self, String> {
        settings.validate()?;
        let client = NhsClient::new(&settings)?;
        Ok(Self { manifest: pathways_sdk::manifest_of::<Self>(), settings, client })
    }
}

#[async_trait]
impl Partner for NhsPartner {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn check_availability(
        &self,
        query: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        let needs: Vec<NeedRequest> =
            query.needs.iter().filter(|n| mapping::is_nhs_need(n.code)).copied().collect();
        if needs.is_empty() {
            return Ok(Availability::default());
        }
        if !is_ons_local_authority(&query.local_authority) {
            return Err(PartnerError::invalid_request(
                "the query's local_authority is not an ONS local authority code",
            ));
        }
        let answer = self
            .client
            .search_services(&query.local_authority, &mapping::category_tokens(&needs))
            .await?;
        let Resource::Bundle(bundle) = answer else {
            return Err(PartnerError::permanent(
                "partner answered the HealthcareService search with no Bundle",
            ));
        };
        let judged = mapping::Judged {
            age_band: query.age_band,
            today: query.today,
            target_system: &self.settings.target_identifier_system,
            max_per_need: self.settings.max_offers_per_need,
        };
        let offers = mapping::offers(&bundle, &needs, &judged)?;
        Ok(Availability { offers })
    }

    async fn send_referral(&self, referral: &Referral) -> Result<ReferralReceipt, PartnerError> {
        if referral.idempotency_key.trim().is_empty() {
            return Err(PartnerError::invalid_request("the referral has no idempotency key"));
        }
        let ids = MessageIds::new(&referral.idempotency_key, &referral.case_reference);
        let addressing = Addressing {
            target_system: &self.settings.target_identifier_system,
            source_endpoint: &self.settings.source_endpoint,
            now: Utc::now(),
        };
        let message = message::referral_message(referral, &ids, &addressing)?;
        let delivery = self
            .client
            .process_message(&ids, addressing.target_system, &referral.service.id, &message)
            .await?;
        match delivery {
            Delivery::Processed(answer, path) => mapping::receipt_from_response(&answer, &path),
            Delivery::AlreadyDelivered => {
                tracing::info!(partner = %referral.partner_id, "referral already delivered; finding its Task");
                let (found, path) = self.client.find_referral(&ids).await?;
                mapping::receipt_from_search(&found, &path)
            }
        }
    }

    async fn referral_status(
        &self,
        reference: &ReferralRef,
    ) -> Result<ReferralStatus, PartnerError> {
        if reference.partner_reference.trim().is_empty() {
            return Err(PartnerError::invalid_request("the referral reference has no Task id"));
        }
        let (answer, path) = self.client.task(&reference.partner_reference).await?;
        match answer {
            Resource::Task(task) => mapping::status(&task, &path),
            _ => Err(PartnerError::permanent(format!("partner answered `{path}` with no Task"))),
        }
    }

    async fn health(&self) -> Result<Health, PartnerError> {
        timed_health(self.settings.timeout_ms, "FHIR metadata", self.client.metadata()).await
    }
}

pathways_sdk::export_partner!(NhsPartner);

#[cfg(test)]
mod tests;
