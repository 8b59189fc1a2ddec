//! The FHIR R4 resources this connector reads and writes, as small typed serde structs.
//!
//! Why not a FHIR model crate: the maintained Rust ones either lack R4 (`fhir-model` 0.13 has
//! STU3, R4B and R5) or take minutes to compile on a two-core machine (`fhirbolt` 0.4 with R4:
//! 155 s for a clean debug build of the crate and its dependencies, 2.7 GB of compiler
//! memory), for the seven resources used here.
//!
//! The same structs serve both directions. Reading is tolerant, as FHIR clients must be:
//! unknown elements are ignored, codes are kept as strings and judged by the mapping, and any
//! resource type not listed is [`Resource::Other`]. Writing leaves out empty elements, so what
//! is sent is valid R4 (no empty arrays or objects). Personal values are [`Personal`], which
//! serialises as the value and prints `[redacted]`.

use pathways_sdk::Personal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Any resource, by its `resourceType`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "resourceType")]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Resource {
    /// A Bundle (searchset or message).
    Bundle(Bundle),
    /// The first entry of a message.
    MessageHeader(MessageHeader),
    /// The referral.
    ServiceRequest(ServiceRequest),
    /// The person referred.
    Patient(Patient),
    /// The referring organisation.
    Organization(Organization),
    /// The receiver's tracking of a referral.
    Task(Task),
    /// A directory entry.
    HealthcareService(HealthcareService),
    /// Where a directory entry sees people (included in a service search).
    Location(Location),
    /// An error answer.
    OperationOutcome(OperationOutcome),
    /// A resource this connector does not read.
    #[serde(other)]
    Other,
}

/// FHIR `Bundle`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bundle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry: Vec<BundleEntry>,
}

/// FHIR `Bundle.entry`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BundleEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
}

/// FHIR `Coding`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Coding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl Coding {
    /// A coding with a system and a code.
    pub(crate) fn code(system: &str, code: &str) -> Self {
        Self { system: Some(system.into()), code: Some(code.into()), display: None }
    }

    /// A coding with a system, a code and a display.
    pub(crate) fn new(system: &str, code: &str, display: &str) -> Self {
        Self { system: Some(system.into()), code: Some(code.into()), display: Some(display.into()) }
    }
}

/// FHIR `CodeableConcept`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct CodeableConcept {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coding: Vec<Coding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl CodeableConcept {
    /// Whether any coding has `system` and `code`.
    pub(crate) fn has(&self, system: &str, code: &str) -> bool {
        self.coding
            .iter()
            .any(|c| c.system.as_deref() == Some(system) && c.code.as_deref() == Some(code))
    }
}

/// FHIR `Identifier`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Identifier {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigner: Option<Box<Reference>>,
}

/// FHIR `Reference`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Reference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl Reference {
    /// A literal reference, e.g. `urn:uuid:...`.
    pub(crate) fn to(reference: impl Into<String>) -> Self {
        Self { reference: Some(reference.into()), ..Self::default() }
    }
}

/// FHIR `Period`: dates or dateTimes as FHIR writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Period {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

/// FHIR `Extension`, with the value types this connector reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Extension {
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_codeable_concept: Option<CodeableConcept>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_range: Option<Range>,
}

/// FHIR `Range`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<Quantity>,
}

/// FHIR `Quantity`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Quantity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// FHIR `MessageHeader`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_coding: Option<Coding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination: Vec<MessageDestination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<MessageSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<CodeableConcept>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<MessageResponse>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub focus: Vec<Reference>,
}

/// FHIR `MessageHeader.destination`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct MessageDestination {
    #[serde(default)]
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<Reference>,
}

/// FHIR `MessageHeader.source`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct MessageSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default)]
    pub endpoint: String,
}

/// FHIR `MessageHeader.response`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct MessageResponse {
    #[serde(default)]
    pub identifier: String,
    #[serde(default)]
    pub code: String,
}

/// FHIR `ServiceRequest`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<Identifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requisition: Option<Identifier>,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub intent: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub category: Vec<CodeableConcept>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence_period: Option<Period>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authored_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub performer: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_code: Vec<CodeableConcept>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub note: Vec<Annotation>,
    /// Written only for the core `request-statusReason` of a revoked ServiceRequest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension>,
}

/// FHIR `Annotation`: free text, personal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Annotation {
    pub text: Personal<String>,
}

/// FHIR `Patient`: only demographics a referral may carry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Patient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub name: Vec<HumanName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub telecom: Vec<ContactPoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<Personal<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<Address>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communication: Vec<PatientCommunication>,
}

/// FHIR `HumanName`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct HumanName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Personal<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Personal<String>>,
}

/// FHIR `ContactPoint`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ContactPoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Personal<String>>,
}

/// FHIR `Address`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "use")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Personal<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<Personal<String>>,
}

/// FHIR `Patient.communication`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PatientCommunication {
    pub language: CodeableConcept,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred: Option<bool>,
}

/// FHIR `Organization`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Organization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<Identifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// FHIR `Task`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Task {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<CodeableConcept>,
    #[serde(default)]
    pub intent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<Reference>,
    /// `Task.for`: the patient, as the receiver holds them.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub patient: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authored_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// FHIR `HealthcareService`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HealthcareService {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<Identifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub category: Vec<CodeableConcept>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eligibility: Vec<ServiceEligibility>,
    /// `ContactPoint`s, kept as JSON: read by the mapping, a malformed one is skipped.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub telecom: Value,
    /// `availableTime` entries, kept as JSON for the same reason.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub available_time: Value,
    /// How to be referred, in the service's words (markdown).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub extra_details: Value,
}

/// FHIR `Location`, kept as JSON: a directory's venue is public data read only for its name
/// and address, and a malformed one must not fail the search it came with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Location {
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub id: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub name: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub address: Value,
}

/// FHIR `HealthcareService.eligibility`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ServiceEligibility {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeableConcept>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// FHIR `OperationOutcome`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct OperationOutcome {
    #[serde(default)]
    pub issue: Vec<OutcomeIssue>,
}

/// FHIR `OperationOutcome.issue`. `diagnostics` is never copied into an error message: a
/// receiver may echo what it was sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct OutcomeIssue {
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<CodeableConcept>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expression: Vec<String>,
}
