//! The elements of a `$process-message` Bundle the simulator reads, each with its FHIR R4
//! type: codes as enums, so a value FHIR does not allow is refused with its path. Unknown
//! elements are allowed (BaRS messages carry many this receiver does not use).

use serde::Deserialize;
use serde_json::Value;

/// FHIR R4 `Bundle`: the elements read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BundleIn {
    pub(super) resource_type: String,
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) timestamp: Option<String>,
    #[serde(default)]
    pub(super) entry: Vec<EntryIn>,
}

/// FHIR R4 `Bundle.entry`: the elements read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EntryIn {
    #[serde(default)]
    pub(super) full_url: Option<String>,
    pub(super) resource: Value,
}

/// FHIR R4 `Coding`: the elements read.
#[derive(Debug, Deserialize)]
pub(super) struct CodingIn {
    #[serde(default)]
    pub(super) system: Option<String>,
    #[serde(default)]
    pub(super) code: Option<String>,
}

/// FHIR R4 `CodeableConcept`: the elements read.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CodeableConceptIn {
    #[serde(default)]
    pub(super) coding: Vec<CodingIn>,
}

/// FHIR R4 `Reference`: the elements read.
#[derive(Debug, Deserialize)]
pub(super) struct ReferenceIn {
    #[serde(default)]
    pub(super) reference: Option<String>,
}

/// FHIR R4 `MessageHeader`: the elements read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageHeaderIn {
    pub(super) event_coding: CodingIn,
    #[serde(default)]
    pub(super) destination: Vec<DestinationIn>,
    pub(super) source: SourceIn,
    #[serde(default)]
    pub(super) focus: Vec<ReferenceIn>,
}

/// R4 requires `destination.endpoint`; it is read only to check that it is there.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub(super) struct DestinationIn {
    pub(super) endpoint: String,
}

/// FHIR R4 `MessageHeader.source`: the elements read.
#[derive(Debug, Deserialize)]
pub(super) struct SourceIn {
    pub(super) endpoint: String,
}

/// FHIR R4 `ServiceRequest`: the elements read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServiceRequestIn {
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) identifier: Vec<IdentifierIn>,
    pub(super) status: SrStatus,
    pub(super) intent: SrIntent,
    #[serde(default)]
    pub(super) category: Vec<CodeableConceptIn>,
    pub(super) subject: ReferenceIn,
    #[serde(default)]
    pub(super) occurrence_period: Option<PeriodIn>,
    /// Read for the core `request-statusReason` extension of a revoked ServiceRequest.
    #[serde(default)]
    pub(super) extension: Vec<ExtensionIn>,
}

/// FHIR R4 `Extension`: the elements read (other `value[x]` types are allowed and ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExtensionIn {
    pub(super) url: String,
    #[serde(default)]
    pub(super) value_codeable_concept: Option<CodeableConceptIn>,
}

/// FHIR R4 `Identifier`: the elements read.
#[derive(Debug, Deserialize)]
pub(super) struct IdentifierIn {
    #[serde(default)]
    pub(super) system: Option<String>,
    #[serde(default)]
    pub(super) value: Option<String>,
}

/// FHIR R4 `Period`: the elements read.
#[derive(Debug, Deserialize)]
pub(super) struct PeriodIn {
    #[serde(default)]
    pub(super) start: Option<String>,
    #[serde(default)]
    pub(super) end: Option<String>,
}

/// FHIR R4 `request-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum SrStatus {
    Draft,
    Active,
    OnHold,
    Revoked,
    Completed,
    EnteredInError,
    Unknown,
}

/// FHIR R4 `request-intent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum SrIntent {
    Proposal,
    Plan,
    Directive,
    Order,
    OriginalOrder,
    ReflexOrder,
    FillerOrder,
    InstanceOrder,
    Option,
}

/// FHIR R4 `Patient`: the elements read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PatientIn {
    #[serde(default)]
    pub(super) name: Vec<HumanNameIn>,
    #[serde(default)]
    pub(super) birth_date: Option<String>,
    /// Read only so that a contact point with a system FHIR does not know is refused.
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) telecom: Vec<ContactPointIn>,
}

/// FHIR R4 `HumanName`: the elements read.
#[derive(Debug, Deserialize)]
pub(super) struct HumanNameIn {
    #[serde(default)]
    pub(super) text: Option<String>,
    #[serde(default)]
    pub(super) family: Option<String>,
}

/// FHIR R4 `ContactPoint` (only its coded part is checked).
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub(super) struct ContactPointIn {
    #[serde(default)]
    pub(super) system: Option<ContactSystem>,
}

/// FHIR R4 `contact-point-system`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum ContactSystem {
    Phone,
    Fax,
    Email,
    Pager,
    Url,
    Sms,
    Other,
}
