//! Reading a `$process-message` body: a BaRS `servicerequest-request` message Bundle.
//!
//! What is checked, each failure a BaRS OperationOutcome with the element's FHIRPath:
//! - the body is JSON, a `Bundle` of `type: message` whose first entry is a `MessageHeader`
//!   (FHIR invariant bdl-12), every entry a resource with a `resourceType`;
//! - the MessageHeader: `eventCoding` system `https://fhir.nhs.uk/CodeSystem/message-events-bars`
//!   and code `servicerequest-request` (another BaRS event → 422 not-supported), at least one
//!   `destination` with an `endpoint`, a `source.endpoint`, and a `focus` that resolves (by
//!   `fullUrl`) to a ServiceRequest in the Bundle;
//! - the ServiceRequest: `status` `active` (a referral) or `revoked` (a cancellation), `intent`
//!   `plan`, a `category` coded from BaRS's `message-category-servicerequest` (`referral`, or
//!   `validation` as in the published example), an `occurrencePeriod`, and a `subject` that
//!   resolves to a Patient in the Bundle. A `revoked` update may instead point its `subject` at
//!   the Patient this receiver already holds (`Patient/{id}`, as the referral's Task names it),
//!   so that withdrawing a referral need not send the patient's details again; it may say why
//!   with the core extension `request-statusReason` (codes `consent-withdrawn`,
//!   `no-longer-needed`, `no-longer-interested` or `patient-declined` make the Task's reason
//!   `no-longer-interested`; any other, or none, `revoked-by-requester`);
//! - the Patient, when in the Bundle: a name and a `birthDate` that is a FHIR date.
//!
//! Every element is read with its FHIR type, so a wrong code or a string where an array belongs
//! is refused; elements this receiver does not use (meta, extensions, supporting resources)
//! are allowed, as in any FHIR message.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::inbound::{
    BundleIn, CodingIn, EntryIn, ExtensionIn, MessageHeaderIn, PatientIn, ServiceRequestIn,
    SrIntent, SrStatus,
};
use super::outcome::Problem;
use super::status::NhsTaskReason;

/// The BaRS message event code system.
pub(crate) const MESSAGE_EVENTS: &str = "https://fhir.nhs.uk/CodeSystem/message-events-bars";
/// The BaRS ServiceRequest category code system.
pub(crate) const SERVICE_REQUEST_CATEGORY: &str =
    "https://fhir.nhs.uk/CodeSystem/message-category-servicerequest";
/// The FHIR core extension saying why a request's status changed (here, why it was revoked).
pub(crate) const REQUEST_STATUS_REASON: &str =
    "http://hl7.org/fhir/StructureDefinition/request-statusReason";

/// A message this receiver can act on.
#[derive(Debug, Clone)]
pub(crate) struct ReferralMessage {
    /// `Bundle.id`, echoed in the response's `MessageHeader.response.identifier`.
    pub bundle_id: Option<String>,
    /// The sender's `MessageHeader.source.endpoint`, the response's destination.
    pub source_endpoint: String,
    /// A new referral or a cancellation.
    pub status: RequestStatus,
    /// The sender's `ServiceRequest.id`, if it gave one.
    pub service_request_id: Option<String>,
    /// `ServiceRequest.identifier` as `(system, value)` pairs: how the sender finds it again.
    pub identifiers: Vec<(Option<String>, String)>,
    /// The ServiceRequest as sent, stored and shown back with the receiver's ids.
    pub service_request: Value,
    /// Whom the ServiceRequest is about.
    pub subject: Subject,
    /// For a cancellation, the Task reason its `request-statusReason` asks for (`None`: the
    /// generic `revoked-by-requester`).
    pub revoke_reason: Option<NhsTaskReason>,
}

/// Whom a ServiceRequest's `subject` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    /// A Patient in the Bundle (checked).
    InBundle,
    /// The Patient this receiver already holds, by id (only in a `revoked` update).
    OnRecord(String),
}

/// `ServiceRequest.status` values this receiver acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestStatus {
    /// A new referral.
    Active,
    /// The sender withdraws an earlier referral.
    Revoked,
}

/// Reads `body` as a `servicerequest-request` message, or says what is wrong with it.
pub(crate) fn read(body: &[u8]) -> Result<ReferralMessage, Problem> {
    let bundle: BundleIn = typed(
        serde_json::from_slice::<Value>(body)
            .map_err(|_| Problem::bad_request("structure", "the body is not JSON").at("Bundle"))?,
        "Bundle",
    )?;
    if bundle.resource_type != "Bundle" {
        return Err(Problem::bad_request("invalid", "the body must be a Bundle").at("Bundle"));
    }
    if bundle.kind != "message" {
        return Err(
            Problem::bad_request("value", "Bundle.type must be `message`").at("Bundle.type")
        );
    }
    if let Some(timestamp) = &bundle.timestamp {
        if chrono::DateTime::parse_from_rfc3339(timestamp).is_err() {
            return Err(Problem::bad_request("value", "Bundle.timestamp must be a FHIR instant")
                .at("Bundle.timestamp"));
        }
    }
    for (i, entry) in bundle.entry.iter().enumerate() {
        if !entry.resource.get("resourceType").is_some_and(Value::is_string) {
            return Err(Problem::bad_request(
                "structure",
                "every entry needs a resource with a resourceType",
            )
            .at(format!("Bundle.entry[{i}].resource")));
        }
    }
    let Some(first) =
        bundle.entry.first().filter(|e| resource_type(&e.resource) == "MessageHeader")
    else {
        return Err(Problem::bad_request(
            "invariant",
            "the first entry of a message must be a MessageHeader (bdl-12)",
        )
        .at("Bundle.entry[0]"));
    };
    let header: MessageHeaderIn = typed(first.resource.clone(), "Bundle.entry[0].resource")?;
    check_event(&header.event_coding)?;
    if header.destination.is_empty() {
        return Err(Problem::bad_request("required", "MessageHeader.destination is required")
            .at("MessageHeader.destination"));
    }
    let focus = header.focus.first().and_then(|f| f.reference.as_deref()).ok_or_else(|| {
        Problem::bad_request("required", "MessageHeader.focus must name the ServiceRequest")
            .at("MessageHeader.focus")
    })?;
    let (index, sr_json) = resolve(&bundle.entry, focus, "ServiceRequest").ok_or_else(|| {
        Problem::bad_request(
            "invariant",
            "MessageHeader.focus does not resolve to a ServiceRequest in the Bundle",
        )
        .at("MessageHeader.focus")
    })?;
    let sr: ServiceRequestIn = typed(sr_json.clone(), &format!("Bundle.entry[{index}].resource"))?;
    let status =
        match sr.status {
            SrStatus::Active => RequestStatus::Active,
            SrStatus::Revoked => RequestStatus::Revoked,
            _ => return Err(Problem::not_supported(
                "ServiceRequest.status must be `active` (a referral) or `revoked` (a cancellation)",
            )
            .at("ServiceRequest.status")),
        };
    if sr.intent != SrIntent::Plan {
        return Err(Problem::bad_request("value", "ServiceRequest.intent must be `plan`")
            .at("ServiceRequest.intent"));
    }
    let category_ok = sr.category.iter().flat_map(|c| &c.coding).any(|c| {
        c.system.as_deref() == Some(SERVICE_REQUEST_CATEGORY)
            && matches!(c.code.as_deref(), Some("referral" | "validation"))
    });
    if !category_ok {
        return Err(Problem::bad_request(
            "required",
            "ServiceRequest.category needs a `referral` coding from message-category-servicerequest",
        )
        .at("ServiceRequest.category"));
    }
    let period = sr.occurrence_period.as_ref().ok_or_else(|| {
        Problem::bad_request("required", "ServiceRequest.occurrencePeriod is required")
            .at("ServiceRequest.occurrencePeriod")
    })?;
    for (name, value) in [("start", &period.start), ("end", &period.end)] {
        if value.as_deref().is_some_and(|v| !is_fhir_date_time(v)) {
            return Err(Problem::bad_request("value", "not a FHIR dateTime")
                .at(format!("ServiceRequest.occurrencePeriod.{name}")));
        }
    }
    let reference = sr.subject.reference.as_deref().unwrap_or_default();
    let on_record = match status {
        RequestStatus::Revoked => patient_on_record(reference),
        RequestStatus::Active => None,
    };
    let subject = match (resolve(&bundle.entry, reference, "Patient"), on_record) {
        (Some((patient_index, patient_json)), _) => {
            check_patient(typed(
                patient_json.clone(),
                &format!("Bundle.entry[{patient_index}].resource"),
            )?)?;
            Subject::InBundle
        }
        (None, Some(id)) => Subject::OnRecord(id),
        (None, None) => {
            return Err(Problem::bad_request(
                "invariant",
                "ServiceRequest.subject does not resolve to a Patient in the Bundle",
            )
            .at("ServiceRequest.subject"))
        }
    };
    let revoke_reason = match status {
        RequestStatus::Revoked => revoke_reason(&sr.extension),
        RequestStatus::Active => None,
    };
    Ok(ReferralMessage {
        bundle_id: bundle.id,
        source_endpoint: header.source.endpoint,
        status,
        service_request_id: sr.id,
        identifiers: sr
            .identifier
            .into_iter()
            .filter_map(|i| Some((i.system, i.value.filter(|v| !v.is_empty())?)))
            .collect(),
        service_request: sr_json.clone(),
        subject,
        revoke_reason,
    })
}

/// The id in a literal reference to a Patient this receiver holds (`Patient/{id}`, a FHIR id).
fn patient_on_record(reference: &str) -> Option<String> {
    let id = reference.strip_prefix("Patient/")?;
    let valid = (1..=64).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    valid.then(|| id.to_string())
}

/// The Task reason a revoked ServiceRequest's `request-statusReason` asks for, whatever the
/// code system (no published one exists for why a referral is withdrawn).
fn revoke_reason(extensions: &[ExtensionIn]) -> Option<NhsTaskReason> {
    extensions
        .iter()
        .filter(|e| e.url == REQUEST_STATUS_REASON)
        .filter_map(|e| e.value_codeable_concept.as_ref())
        .flat_map(|c| &c.coding)
        .filter_map(|c| c.code.as_deref())
        .find_map(|code| match code {
            "consent-withdrawn"
            | "no-longer-needed"
            | "no-longer-interested"
            | "patient-declined" => Some(NhsTaskReason::NoLongerInterested),
            _ => None,
        })
}

fn check_event(event: &CodingIn) -> Result<(), Problem> {
    if event.system.as_deref() != Some(MESSAGE_EVENTS) {
        return Err(Problem::bad_request(
            "value",
            "MessageHeader.eventCoding must come from message-events-bars",
        )
        .at("MessageHeader.eventCoding.system"));
    }
    if event.code.as_deref() != Some("servicerequest-request") {
        return Err(Problem::not_supported(
            "this receiver accepts only servicerequest-request messages",
        )
        .at("MessageHeader.eventCoding.code"));
    }
    Ok(())
}

fn check_patient(patient: PatientIn) -> Result<(), Problem> {
    let named = patient.name.iter().any(|n| {
        n.text.as_deref().is_some_and(|t| !t.trim().is_empty())
            || n.family.as_deref().is_some_and(|f| !f.trim().is_empty())
    });
    if !named {
        return Err(Problem::bad_request("required", "Patient.name needs a text or family name")
            .at("Patient.name"));
    }
    match patient.birth_date.as_deref() {
        None => Err(Problem::bad_request("required", "Patient.birthDate is required")
            .at("Patient.birthDate")),
        Some(date) if !is_fhir_date(date) => {
            Err(Problem::bad_request("value", "Patient.birthDate is not a FHIR date")
                .at("Patient.birthDate"))
        }
        Some(_) => Ok(()),
    }
}

/// The entry whose `fullUrl` is `reference` and whose resource is a `kind`.
fn resolve<'a>(entries: &'a [EntryIn], reference: &str, kind: &str) -> Option<(usize, &'a Value)> {
    entries
        .iter()
        .enumerate()
        .find(|(_, e)| {
            e.full_url.as_deref() == Some(reference) && resource_type(&e.resource) == kind
        })
        .map(|(i, e)| (i, &e.resource))
}

fn resource_type(resource: &Value) -> &str {
    resource.get("resourceType").and_then(Value::as_str).unwrap_or_default()
}

/// Reads `value` as `T`; a failure names the element at fault under `root`, never its value.
fn typed<T: DeserializeOwned>(value: Value, root: &str) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let text = err.into_inner().to_string();
        let (issue, what) = if text.starts_with("missing field") {
            ("required", text.split(" at line").next().unwrap_or("missing field").to_string())
        } else if text.starts_with("unknown variant") {
            ("value", "not a code this element allows".to_string())
        } else {
            ("structure", "wrong type for this element".to_string())
        };
        let at = if path.is_empty() || path == "." {
            root.to_string()
        } else {
            format!("{root}.{path}")
        };
        Problem::bad_request(issue, what).at(at)
    })
}

/// FHIR `date`: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
pub(crate) fn is_fhir_date(text: &str) -> bool {
    match text.len() {
        4 => text.bytes().all(|b| b.is_ascii_digit()),
        7 => chrono::NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").is_ok(),
        10 => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
        _ => false,
    }
}

/// FHIR `dateTime`: a FHIR date, or a full date and time with a zone.
fn is_fhir_date_time(text: &str) -> bool {
    is_fhir_date(text) || chrono::DateTime::parse_from_rfc3339(text).is_ok()
}
