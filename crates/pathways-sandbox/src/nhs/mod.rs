//! The NHS partner simulator: a FHIR R4 server in the shape of the NHS Booking and Referral
//! Standard (BaRS), with a service directory whose entries carry the HL7 Gravity SDOH capacity
//! status, on one loopback listener.
//!
//! Every answer of the FHIR API is FHIR R4 JSON (`application/fhir+json`); every error is an
//! `OperationOutcome` shaped like BaRS's published examples (issue type in `code`, BaRS error
//! code such as `REC_BAD_REQUEST` in `details.coding`, FHIRPath of the element at fault in
//! `expression`; diagnostics name elements, never values). When an API key is configured,
//! every FHIR route needs `Authorization: Bearer KEY` (401 `SEND_UNAUTHORIZED` otherwise).
//!
//! # Directory
//! - `GET /HealthcareService?active=true&coverage-area:identifier=http://statistics.data.gov.uk/id/statistical-geography|E09000020&service-category=http://terminology.hl7.org/CodeSystem/service-category|22,http://terminology.hl7.org/CodeSystem/service-category|12`
//!   → a `searchset` Bundle of HealthcareService. Parameters: `active`, `service-category`
//!   (HL7 service categories: `22` Mental Health, `12` Drug/Alcohol, `32` Support Group/s,
//!   `7` Community Health Care, `34` Allied Health, `2` Aged Care), `coverage-area:identifier`
//!   (the ONS code of a local authority), `identifier` (Directory of Services id, system
//!   `http://fhir.nhs.uk/Id/dos-service-id`), `_id`, `_count`, and
//!   `_include=HealthcareService:location` (the services' Locations follow the matches, with
//!   `search.mode: include`). Any other parameter → 400.
//!   Each HealthcareService has `identifier` (its DoS id, which is also its BaRS target),
//!   `active`, `providedBy`, `category`, `type`, `name`, `comment`, `extraDetails` (how to be
//!   referred), `telecom` (`phone`, and where it has them `email` and `url`; `use: work`,
//!   ranked), `availableTime` (`daysOfWeek` codes such as `mon`, `availableStartTime` and
//!   `availableEndTime` as `HH:MM:SS` local time) with `availabilityExceptions`, `coverageArea`
//!   (logical reference by ONS identifier), `referralMethod`, `location` (`Location/{id}` with
//!   its display; absent for phone and online services; `GET /Location/{id}` reads it, its
//!   `address` having `line`, `city` and `postalCode`), `eligibility` (text; for age limits, `code` is
//!   usage-context-type `age` and the R5 cross-version extension
//!   `http://hl7.org/fhir/5.0/StructureDefinition/extension-HealthcareService.eligibility.value`
//!   holds a `valueRange` in years), and the extension
//!   `http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ExtensionHealthcareServiceCapacityStatus`
//!   with sub-extensions `capacityStatus` (`capacity | no-capacity | waitlist |
//!   additional-assessment-required`, system
//!   `http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes`) and
//!   `capacityNotes` (e.g. "~15 on waitlist; 4–6 weeks"). `GET /HealthcareService/{id}` reads
//!   one. The `capacity` fault knob overrides every service's status.
//!
//! # Referrals: `POST /$process-message`
//! Headers `X-Request-ID` and `X-Correlation-ID` (UUIDs) and `NHSD-Target-Identifier` (base64
//! of `{"system": "http://fhir.nhs.uk/Id/dos-service-id", "value": "<DoS id>"}`) are required
//! (400 `SEND_BAD_REQUEST`, 400 `PROXY_BAD_REQUEST`, or 404 `PROXY_NOT_FOUND` for an unknown
//! target). The body is a BaRS `servicerequest-request` message Bundle; what is checked is
//! listed in the `message` module. Outcomes:
//! - a new referral (ServiceRequest `status: active`) → 200 with a `message` Bundle: a
//!   MessageHeader with `response: {identifier: <request Bundle.id>, code: ok}` and `focus` →
//!   the Task, then the Task (`status: requested`, or `rejected` with `statusReason`
//!   `no-capacity` when the service is full), then the ServiceRequest as stored, with this
//!   receiver's ids;
//! - a repeated `X-Request-ID`, or an active ServiceRequest whose `identifier` (or id) this
//!   receiver already holds → 409 `REC_CONFLICT` / `duplicate`, creating nothing;
//! - `status: revoked` for a referral it holds (found by the ServiceRequest's `identifier` or
//!   id) → 200 as above with the Task `cancelled` and the stored ServiceRequest `revoked`.
//!   The Task's `statusReason` is `no-longer-interested` when the update's
//!   `request-statusReason` extension says the patient withdrew or no longer needs it
//!   (`consent-withdrawn`, `no-longer-needed`, `no-longer-interested`, `patient-declined`),
//!   else `revoked-by-requester`. The update's `subject` may be the Patient in the Bundle or
//!   the Patient this receiver holds (`Patient/{id}`, as the Task's `for` names it; another
//!   patient → 400 `REC_BAD_REQUEST` / `invariant`). For a referral that has ended (cancelled
//!   included) → 409 `REC_CONFLICT` / `conflict`; for one it does not hold → 404
//!   `REC_NOT_FOUND`;
//! - another BaRS event (e.g. `booking-request`) → 422 `REC_UNPROCESSABLE_ENTITY`.
//!
//! # Tracking
//! - `GET /Task/{id}` → the Task: `intent: order`, `focus` and `basedOn` → the
//!   ServiceRequest, `for` → the Patient, `owner` → the HealthcareService, `authoredOn`,
//!   `lastModified`, `status` moved by the sandbox clock (`requested → accepted | rejected →
//!   in-progress → completed`), `statusReason` whenever FHIR requires one (codes in
//!   `https://example.invalid/pathways/fhir/CodeSystem/referral-status-reason`: `no-capacity,
//!   not-eligible, out-of-area, could-not-contact, missing-information, no-longer-interested,
//!   revoked-by-requester, other`).
//! - `GET /Task?focus=ServiceRequest/{id}` → a searchset of Tasks.
//! - `GET /ServiceRequest/{id}`; `GET /ServiceRequest?identifier=system|value` with optional
//!   `_revinclude=Task:focus` → the ServiceRequests (and their Tasks, `search.mode: include`).
//! - `GET /metadata` → the CapabilityStatement.
//!
//! # Sandbox control (never faulted, never authenticated; plain JSON)
//! - `GET /_sandbox/stats` → [`NhsStats`].
//! - `GET /_sandbox/faults`, `PUT /_sandbox/faults` with a [`crate::Faults`] JSON body.
//! - `POST /_sandbox/tasks/{id}/status` with `{"status": "completed", "reason": null}`.

mod book;
mod data;
mod headers;
mod inbound;
mod message;
mod outcome;
mod resources;
mod routes;
mod search;
mod status;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

pub use status::{NhsReferralRecord, NhsStats, NhsTaskReason, NhsTaskStatus};

use crate::clock::ClockConfig;
use crate::faults::{FaultInjector, Faults};
use crate::sim::{self, FaultSetup, SimState, Simulator};
use crate::webhook::{Progress, WebhookConfig, WebhookSetup};
use crate::SandboxError;

/// Seeds of the NHS simulator's random streams, derived from the sandbox seed so that faults
/// and ids do not share one stream.
const FAULT_STREAM: u64 = 0x0045_0001;
const ID_STREAM: u64 = 0x0045_0002;

/// Configuration of the NHS simulator (`[nhs]` in `config/sandbox.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NhsSimConfig {
    /// Address to listen on; port 0 picks a free port (see [`crate::Sandbox::nhs_url`]).
    pub listen: SocketAddr,
    /// When set, every FHIR route requires `Authorization: Bearer <api_key>`.
    pub api_key: Option<String>,
    /// Latency and failure knobs; `capacity` overrides every service's capacity status.
    pub faults: Faults,
    /// Where referral events are posted, if anywhere (see the `webhook` module).
    pub webhook: Option<WebhookConfig>,
}

impl Default for NhsSimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: None,
            faults: Faults::default(),
            webhook: None,
        }
    }
}

/// Everything the NHS simulator's handlers share.
#[derive(Debug)]
pub(crate) struct NhsState {
    book: Mutex<book::ReferralBook>,
    faults: Arc<FaultInjector>,
    api_key: Option<String>,
}

impl NhsState {
    fn book(&self) -> MutexGuard<'_, book::ReferralBook> {
        sim::lock(&self.book)
    }
}

impl SimState for NhsState {
    type Stats = NhsStats;

    fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    fn progress(&self) -> Vec<Progress> {
        self.book().progress()
    }

    fn stats(&self) -> NhsStats {
        self.book().stats.clone()
    }
}

/// A running NHS simulator.
pub(crate) type NhsSim = Simulator<NhsState>;

/// Starts the simulator on `config.listen`, its Tasks moved by `clock`.
pub(crate) async fn start(
    config: &NhsSimConfig,
    seed: u64,
    clock: &ClockConfig,
) -> Result<NhsSim, SandboxError> {
    let book = book::ReferralBook::new(seed ^ ID_STREAM, clock.clone(), seed);
    let faults = FaultSetup { faults: config.faults.clone(), seed: seed ^ FAULT_STREAM };
    let state =
        |faults| NhsState { book: Mutex::new(book), faults, api_key: config.api_key.clone() };
    let webhook =
        config.webhook.clone().map(|config| WebhookSetup { config, step_ms: clock.step_ms });
    Simulator::start("nhs", config.listen, faults, webhook, state, routes::router).await
}

impl Simulator<NhsState> {
    /// The message Bundles accepted so far (the last hundred), oldest first.
    pub(crate) fn messages(&self) -> Vec<serde_json::Value> {
        self.state().book().messages()
    }

    /// What the simulator holds of the referral whose Task has `task_id`.
    pub(crate) fn referral(&self, task_id: &str) -> Option<NhsReferralRecord> {
        self.state().book().record(task_id)
    }

    /// Fixes a Task's status, as the service would.
    pub(crate) fn set_task_status(
        &self,
        task_id: &str,
        status: NhsTaskStatus,
        reason: Option<NhsTaskReason>,
    ) -> Result<(), SandboxError> {
        if self.state().book().set_status(task_id, status, reason) {
            Ok(())
        } else {
            Err(SandboxError::UnknownTask(task_id.to_string()))
        }
    }
}

#[cfg(test)]
mod tests;
