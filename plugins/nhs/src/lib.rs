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
//! - Cancel: the BaRS way, an update of the ServiceRequest with `status: revoked`. Reads the
//!   Task (`GET /Task/{id}`): a referral that has already ended (cancelled, completed,
//!   rejected, failed) is answered as it stands and nothing is sent. Otherwise reads the
//!   ServiceRequest the Task focuses on (`GET /ServiceRequest/{id}`, which must carry the
//!   identifier derived from the reference's idempotency key), and POSTs a
//!   `servicerequest-request` message (reason `update`) revoking it: same identifier and
//!   correlation id, its own X-Request-ID derived from the key (a retry is the same message),
//!   the receiver's own `Patient/{id}` as subject (no patient details, notes or needs go
//!   again), and why in the core `request-statusReason` extension. The answer's Task is the
//!   answer; a 409 (the update already processed, or the referral ended meanwhile) reads the
//!   Task again. A cancelled Task whose reason says nothing specific answers the cancel's own
//!   reason.
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
    async_trait, is_ons_local_authority, Availability, AvailabilityQuery, CancelReason,
    CancelRequest, Capability, ClientField, Health, Manifest, NeedRequest, Partner, PartnerError,
    PartnerKind, PartnerPlugin, Referral, ReferralReceipt, ReferralRef, ReferralStatus,
    StatusReason, TaskState,
};

pub use settings::Settings;

use client::{Delivery, NhsClient};
use fhir::Resource;
use message::{Addressing, MessageIds, Revoked};

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
            description: "NHS services over FHIR R4: directory with capacity status, BaRS referrals, Task status and revoking a referral".into(),
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
            capabilities: vec![
                Capability::Availability,
                Capability::Referral,
                Capability::Status,
                Capability::Cancel,
            ],
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
        let (task, path) = self.task(&reference.partner_reference).await?;
        mapping::status(&task, &path)
    }

    async fn health(&self) -> Result<Health, PartnerError> {
        timed_health(self.settings.timeout_ms, "FHIR metadata", self.client.metadata()).await
    }

    async fn cancel_referral(
        &self,
        request: &CancelRequest,
    ) -> Result<ReferralStatus, PartnerError> {
        let reference = &request.reference;
        let task_id = reference.partner_reference.trim();
        if task_id.is_empty() {
            return Err(PartnerError::invalid_request("the referral reference has no Task id"));
        }
        let (task, task_path) = self.task(task_id).await?;
        let now = mapping::status(&task, &task_path)?;
        if now.state.is_final() {
            return Ok(cancelled_for(now, request.reason));
        }
        let focus = mapping::referenced_id(task.focus.as_ref(), "ServiceRequest");
        let patient = mapping::referenced_id(task.patient.as_ref(), "Patient");
        let (Some(focus), Some(patient)) = (focus, patient) else {
            return Err(PartnerError::permanent(format!(
                "partner's Task at `{task_path}` names no ServiceRequest or no patient to revoke"
            )));
        };
        let (held, path) = self.client.service_request(focus).await?;
        let Resource::ServiceRequest(held) = held else {
            return Err(PartnerError::permanent(format!(
                "partner answered `{path}` with no ServiceRequest"
            )));
        };
        let case_reference = held.requisition.as_ref().and_then(|r| r.value.clone());
        let ids = MessageIds::revoking(
            &reference.idempotency_key,
            case_reference.as_deref().unwrap_or(&reference.idempotency_key),
        );
        if !ids.identifies(&held) {
            return Err(PartnerError::invalid_request(format!(
                "the Task `{task_id}` does not track the referral sent under this reference's idempotency key"
            )));
        }
        let target_system = self.settings.target_identifier_system.as_str();
        let Some(target) = held.performer.iter().find_map(|p| {
            let id = p.identifier.as_ref()?;
            (id.system.as_deref() == Some(target_system)).then_some(id.value.as_deref()?)
        }) else {
            return Err(PartnerError::permanent(format!(
                "partner's ServiceRequest at `{path}` names no service endpoint to address the withdrawal to"
            )));
        };
        let addressing = Addressing {
            target_system,
            source_endpoint: &self.settings.source_endpoint,
            now: Utc::now(),
        };
        let revoked = Revoked {
            held: &held,
            patient: format!("Patient/{patient}"),
            target,
            reason: request.reason,
        };
        let message = message::revoke_message(&revoked, &ids, &addressing);
        let delivery = self.client.process_message(&ids, target_system, target, &message).await?;
        let after = match delivery {
            Delivery::Processed(answer, path) => mapping::status_from_response(&answer, &path)?,
            Delivery::AlreadyDelivered => {
                // This withdrawal got through before, or the referral ended meanwhile.
                let (task, path) = self.task(task_id).await?;
                let after = mapping::status(&task, &path)?;
                if !after.state.is_final() {
                    return Err(PartnerError::permanent(format!(
                        "partner refused the withdrawal at `/$process-message` as a conflict, yet its Task at `{path}` is still open"
                    )));
                }
                after
            }
        };
        tracing::info!(partner = %self.manifest.plugin, state = %after.state.as_str(), "referral revoked");
        Ok(cancelled_for(after, request.reason))
    }
}

impl NhsPartner {
    /// `GET /Task/{id}` as a Task, with its path.
    async fn task(&self, id: &str) -> Result<(fhir::Task, String), PartnerError> {
        let (answer, path) = self.client.task(id).await?;
        match answer {
            Resource::Task(task) => Ok((task, path)),
            _ => Err(PartnerError::permanent(format!("partner answered `{path}` with no Task"))),
        }
    }
}

/// A cancelled referral whose Task gives no specific reason (`revoked-by-requester` and the
/// like read as `other`) keeps the reason the cancel gave; any other state is as the partner
/// reports it.
fn cancelled_for(mut status: ReferralStatus, reason: CancelReason) -> ReferralStatus {
    if status.state == TaskState::Cancelled
        && matches!(status.reason, None | Some(StatusReason::Other))
    {
        status.reason = Some(reason.status_reason());
    }
    status
}

pathways_sdk::export_partner!(NhsPartner);

#[cfg(test)]
mod tests;
