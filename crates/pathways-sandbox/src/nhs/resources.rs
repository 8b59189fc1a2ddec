//! The FHIR R4 resources the NHS simulator answers with: HealthcareService (with the Gravity
//! SDOH capacity status), Task, ServiceRequest, searchset and message-response Bundles, and the
//! CapabilityStatement. Every one carries the elements R4 requires.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::data::{SeedCapacity, ServiceSeed, Site};
use super::headers::DOS_SERVICE_ID;
use super::message::MESSAGE_EVENTS;

/// HL7 service categories.
pub(crate) const SERVICE_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/service-category";
/// ONS statistical geographies (GSS codes): the identifier system of coverage areas.
pub(crate) const ONS_GEOGRAPHY: &str = "http://statistics.data.gov.uk/id/statistical-geography";
/// The Gravity SDOH Clinical Care capacity status extension.
pub(crate) const CAPACITY_EXTENSION: &str =
    "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ExtensionHealthcareServiceCapacityStatus";
/// The Gravity SDOH Clinical Care code system holding the capacity status codes.
pub(crate) const SDOHCC_CODES: &str =
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes";
/// FHIR R5's `HealthcareService.eligibility.value[x]`, carried in R4 as a cross-version
/// extension: here, an age `Range` in years.
pub(crate) const ELIGIBILITY_VALUE_EXTENSION: &str =
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-HealthcareService.eligibility.value";
/// Usage context types; `age` says an eligibility is an age range.
pub(crate) const USAGE_CONTEXT_TYPE: &str =
    "http://terminology.hl7.org/CodeSystem/usage-context-type";
/// The simulator's own codes for why a Task was rejected, cancelled or failed (no published
/// code set exists for referral outcomes; the codes follow DOMAIN.md's reasons).
pub(crate) const TASK_REASON_CODES: &str =
    "https://example.invalid/pathways/fhir/CodeSystem/referral-status-reason";

/// An instant in FHIR's format.
pub(crate) fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A directory entry as a HealthcareService, with `capacity` as its current capacity status.
pub(crate) fn healthcare_service(service: &ServiceSeed, capacity: SeedCapacity) -> Value {
    let categories: Vec<Value> = service
        .categories
        .iter()
        .map(|(code, display)| {
            json!({"coding": [{"system": SERVICE_CATEGORY, "code": code, "display": display}]})
        })
        .collect();
    let mut eligibility = json!({"code": {"text": service.eligibility}});
    if service.min_age.is_some() || service.max_age.is_some() {
        let mut range = json!({});
        if let Some(low) = service.min_age {
            range["low"] = age(low);
        }
        if let Some(high) = service.max_age {
            range["high"] = age(high);
        }
        eligibility = json!({
            "extension": [{"url": ELIGIBILITY_VALUE_EXTENSION, "valueRange": range}],
            "code": {"coding": [{"system": USAGE_CONTEXT_TYPE, "code": "age", "display": "Age Range"}],
                     "text": service.eligibility},
            "comment": service.eligibility,
        });
    }
    let mut resource = json!({
        "resourceType": "HealthcareService",
        "id": service.id,
        "extension": [{
            "url": CAPACITY_EXTENSION,
            "extension": [
                {"url": "capacityStatus", "valueCodeableConcept": {"coding": [{
                    "system": SDOHCC_CODES, "code": capacity.code(), "display": capacity.display()}]}},
                {"url": "capacityNotes", "valueString": service.capacity_notes},
            ],
        }],
        "identifier": [{"system": DOS_SERVICE_ID, "value": service.dos_id}],
        "active": service.active,
        "providedBy": {"display": service.provider},
        "category": categories,
        "type": [{"text": service.type_text}],
        "name": service.name,
        "comment": service.comment,
        "telecom": telecom(service),
        "coverageArea": [{
            "identifier": {"system": ONS_GEOGRAPHY, "value": service.area},
            "display": service.area_name,
        }],
        "eligibility": [eligibility],
        "referralMethod": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/service-referral-method",
            "code": "elec", "display": "Secure Messaging"}]}],
    });
    if let Some(site) = service.location {
        resource["location"] =
            json!([{"reference": format!("Location/{}", site.id), "display": site.name}]);
    }
    if !service.how_to_access.is_empty() {
        resource["extraDetails"] = json!(service.how_to_access);
    }
    let available: Vec<Value> = service
        .hours
        .iter()
        .map(|h| {
            json!({"daysOfWeek": h.days, "availableStartTime": h.start, "availableEndTime": h.end})
        })
        .collect();
    if !available.is_empty() {
        resource["availableTime"] = json!(available);
        resource["availabilityExceptions"] = json!("Closed on bank holidays.");
    }
    resource
}

/// `HealthcareService.telecom`: the phone (ranked first), then email and web address.
fn telecom(service: &ServiceSeed) -> Vec<Value> {
    [("phone", service.phone), ("email", service.email), ("url", service.url)]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .enumerate()
        .map(|(i, (system, value))| json!({"system": system, "value": value, "use": "work", "rank": i + 1}))
        .collect()
}

/// A place a service sees people, with its postal address.
pub(crate) fn location(site: &Site) -> Value {
    json!({
        "resourceType": "Location",
        "id": site.id,
        "status": "active",
        "name": site.name,
        "mode": "instance",
        "address": {
            "use": "work",
            "type": "physical",
            "line": [site.line],
            "city": site.city,
            "postalCode": site.postcode,
            "country": "GB",
        },
        "physicalType": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
            "code": "bu", "display": "Building"}]},
    })
}

fn age(years: u32) -> Value {
    json!({"value": years, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"})
}

/// A searchset Bundle of `matches` (and `includes`), its `self` link being `self_url`.
pub(crate) fn searchset(
    id: &str,
    self_url: &str,
    base: &str,
    matches: Vec<Value>,
    includes: Vec<Value>,
) -> Value {
    let total = matches.len();
    let entry = |resource: Value, mode: &str| {
        let full_url = format!(
            "{base}/{}/{}",
            resource["resourceType"].as_str().unwrap_or_default(),
            resource["id"].as_str().unwrap_or_default()
        );
        json!({"fullUrl": full_url, "resource": resource, "search": {"mode": mode}})
    };
    let entries: Vec<Value> = matches
        .into_iter()
        .map(|r| entry(r, "match"))
        .chain(includes.into_iter().map(|r| entry(r, "include")))
        .collect();
    json!({
        "resourceType": "Bundle",
        "id": id,
        "meta": {"lastUpdated": instant(Utc::now())},
        "type": "searchset",
        "total": total,
        "link": [{"relation": "self", "url": self_url}],
        "entry": entries,
    })
}

/// What a Task shows of one referral.
#[derive(Debug, Clone)]
pub(crate) struct TaskView<'a> {
    pub task_id: &'a str,
    pub service_request_id: &'a str,
    pub patient_id: &'a str,
    pub service: &'a ServiceSeed,
    pub status: &'static str,
    /// `(code, display)` for the states FHIR says need a reason.
    pub reason: Option<(&'static str, &'static str)>,
    pub authored_on: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
}

/// The Task tracking a referral: `intent: order`, `focus` → its ServiceRequest.
pub(crate) fn task(view: &TaskView<'_>) -> Value {
    let mut task = json!({
        "resourceType": "Task",
        "id": view.task_id,
        "meta": {"lastUpdated": instant(view.last_modified)},
        "basedOn": [{"reference": format!("ServiceRequest/{}", view.service_request_id)}],
        "status": view.status,
        "intent": "order",
        "focus": {"reference": format!("ServiceRequest/{}", view.service_request_id)},
        "for": {"reference": format!("Patient/{}", view.patient_id)},
        "authoredOn": instant(view.authored_on),
        "lastModified": instant(view.last_modified),
        "owner": {"reference": format!("HealthcareService/{}", view.service.id),
                  "display": view.service.name},
    });
    if let Some((code, display)) = view.reason {
        task["statusReason"] = json!({
            "coding": [{"system": TASK_REASON_CODES, "code": code, "display": display}],
            "text": display,
        });
    }
    task
}

/// The synchronous answer to a processed message: a message Bundle whose MessageHeader
/// answers the request (`response.code: ok`) and focuses on the Task, followed by the Task
/// and the stored ServiceRequest.
#[derive(Debug, Clone)]
pub(crate) struct MessageResponse {
    pub bundle_id: String,
    pub header_id: String,
    /// The id of the message answered (its `Bundle.id`, else its X-Request-ID).
    pub answers: String,
    /// The sender's `MessageHeader.source.endpoint`.
    pub destination: String,
    /// `http://HOST` of this server, for `fullUrl`s.
    pub base: String,
    pub service: &'static ServiceSeed,
}

impl MessageResponse {
    /// The response Bundle around `task` and `service_request`.
    pub(crate) fn bundle(&self, task: Value, service_request: Value) -> Value {
        let base = &self.base;
        let task_url = format!("{base}/Task/{}", task["id"].as_str().unwrap_or_default());
        let sr_url =
            format!("{base}/ServiceRequest/{}", service_request["id"].as_str().unwrap_or_default());
        json!({
            "resourceType": "Bundle",
            "id": self.bundle_id,
            "meta": {"lastUpdated": instant(Utc::now())},
            "type": "message",
            "timestamp": instant(Utc::now()),
            "entry": [
                {"fullUrl": format!("urn:uuid:{}", self.header_id), "resource": {
                    "resourceType": "MessageHeader",
                    "id": self.header_id,
                    "eventCoding": {"system": MESSAGE_EVENTS, "code": "servicerequest-request"},
                    "destination": [{"endpoint": self.destination}],
                    "source": {"name": self.service.name, "software": "pathways-sandbox",
                               "endpoint": format!("{DOS_SERVICE_ID}|{}", self.service.dos_id)},
                    "response": {"identifier": self.answers, "code": "ok"},
                    "focus": [{"reference": task_url}],
                }},
                {"fullUrl": task_url, "resource": task},
                {"fullUrl": sr_url, "resource": service_request},
            ],
        })
    }
}

/// `GET /metadata`: what this server does.
pub(crate) fn capability_statement(base: &str) -> Value {
    let search = |name: &str, kind: &str| json!({"name": name, "type": kind});
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-20",
        "kind": "instance",
        "software": {"name": "pathways-sandbox NHS simulator"},
        "implementation": {"description": "Simulated NHS services (BaRS shape)", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [{
            "mode": "server",
            "resource": [
                {"type": "HealthcareService", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [search("active", "token"), search("service-category", "token"),
                                 search("coverage-area", "reference"), search("identifier", "token")],
                 "searchInclude": ["HealthcareService:location"]},
                {"type": "Location", "interaction": [{"code": "read"}]},
                {"type": "Task", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [search("focus", "reference")]},
                {"type": "ServiceRequest", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [search("identifier", "token")],
                 "searchRevInclude": ["Task:focus"]},
            ],
            "operation": [{"name": "process-message",
                           "definition": "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message"}],
        }],
    })
}
