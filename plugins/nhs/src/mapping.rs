//! FHIR shapes ↔ core types: HealthcareService entries to offers (capacity status, notes,
//! age eligibility), Tasks to receipts and statuses.
//!
//! - Needs map to HL7 service categories (`terminology.hl7.org/CodeSystem/service-category`):
//!   mental_health → 22 Mental Health, 8 Counselling; substance_use → 12 Drug/Alcohol;
//!   social_isolation → 32 Support Group/s; physical_health_disability → 7 Community Health
//!   Care, 11 Disability Support, 34 Allied Health. A service with several categories is
//!   offered for each need it meets.
//! - Capacity is the Gravity SDOH capacity status extension: `capacity` → capacity,
//!   `no-capacity` → no_capacity, `waitlist` → waitlist, `additional-assessment-required` →
//!   assessment_required; missing or unknown → unknown. Its `capacityNotes` become the wait
//!   estimate, and a wait they state ("~15 on waitlist; 4–6 weeks", "About 6 to 8 weeks")
//!   becomes `earliest_start`, counted from the query's `today` (the shortest wait); a bound
//!   ("within 2 weeks") or a service with no capacity gives no date.
//! - Route: every offer is `refer` (only services with a BaRS endpoint are offered). Contact
//!   details, hours and the venue's address are read in `mapping/contact.rs`.
//! - Eligibility: an age range (R5 `eligibility.value` carried as a cross-version extension)
//!   against the client's age band: wholly inside → eligible, wholly outside → not eligible
//!   with the range in words, straddling → unknown. No range → eligible.
//! - Task statuses map one to one onto [`TaskState`]; FHIR's `received` reads as requested and
//!   `ready` as accepted. `statusReason` codes map onto [`StatusReason`] whatever their system
//!   (no published code set exists): `no-capacity`, `not-eligible`, `out-of-area`,
//!   `could-not-contact`, `missing-information`, `no-longer-interested` (or
//!   `patient-declined`); anything else is `other`.

mod contact;

use chrono::{DateTime, NaiveDate, Utc};
use pathways_sdk::contact::wait_start;
use pathways_sdk::{
    AgeBand, Capacity, Eligibility, NeedCode, NeedRequest, Offer, OfferLocation, PartnerError,
    ReferralReceipt, ReferralStatus, Route, ServiceChannel, ServiceRef, StatusReason, TaskState,
};

use crate::fhir::{
    Bundle, CodeableConcept, HealthcareService, Location, Reference, Resource, Task,
};

/// HL7 service categories.
pub(crate) const SERVICE_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/service-category";
/// ONS statistical geographies: the identifier system of a local authority's GSS code.
pub(crate) const ONS_GEOGRAPHY: &str = "http://statistics.data.gov.uk/id/statistical-geography";
/// The Gravity SDOH Clinical Care capacity status extension.
const CAPACITY_EXTENSION: &str =
    "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ExtensionHealthcareServiceCapacityStatus";
/// The Gravity SDOH Clinical Care code system (capacity statuses, SDOH categories).
pub(crate) const SDOHCC_CODES: &str =
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes";
/// R5's `HealthcareService.eligibility.value[x]` as an R4 cross-version extension.
const ELIGIBILITY_VALUE: &str =
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-HealthcareService.eligibility.value";

/// The needs an NHS service meets, and the HL7 service categories that meet them.
const NEED_CATEGORIES: &[(NeedCode, &[&str])] = &[
    (NeedCode::MentalHealth, &["22", "8"]),
    (NeedCode::SubstanceUse, &["12"]),
    (NeedCode::SocialIsolation, &["32"]),
    (NeedCode::PhysicalHealthDisability, &["7", "11", "34"]),
];

/// The needs this connector answers for.
pub(crate) fn nhs_needs() -> Vec<NeedCode> {
    NEED_CATEGORIES.iter().map(|(need, _)| *need).collect()
}

/// Whether an NHS service here meets `need`.
pub(crate) fn is_nhs_need(need: NeedCode) -> bool {
    NEED_CATEGORIES.iter().any(|(n, _)| *n == need)
}

fn categories_of(need: NeedCode) -> &'static [&'static str] {
    NEED_CATEGORIES.iter().find(|(n, _)| *n == need).map_or(&[], |(_, codes)| codes)
}

/// The `service-category` search value for `needs`: `system|code` tokens, comma-separated.
pub(crate) fn category_tokens(needs: &[NeedRequest]) -> String {
    let mut codes: Vec<&str> = Vec::new();
    for code in needs.iter().flat_map(|n| categories_of(n.code)) {
        if !codes.contains(code) {
            codes.push(code);
        }
    }
    codes.iter().map(|code| format!("{SERVICE_CATEGORY}|{code}")).collect::<Vec<_>>().join(",")
}

/// What a service search is judged against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Judged<'a> {
    pub age_band: AgeBand,
    /// The day of the query: stated waits count from it.
    pub today: NaiveDate,
    /// The identifier system of BaRS endpoints.
    pub target_system: &'a str,
    pub max_per_need: usize,
}

/// Offers for `needs` from a searchset of HealthcareService (with the Locations it includes),
/// at most `max_per_need` each, in the directory's order. Inactive services, and services
/// without an endpoint identifier in `target_system` (they cannot take a referral), are left
/// out.
pub(crate) fn offers(
    bundle: &Bundle,
    needs: &[NeedRequest],
    judged: &Judged<'_>,
) -> Result<Vec<Offer>, PartnerError> {
    let Judged { target_system, max_per_need, .. } = *judged;
    if bundle.kind != "searchset" {
        return Err(PartnerError::permanent(format!(
            "partner answered the service search with a `{}` Bundle, expected `searchset`",
            bundle.kind
        )));
    }
    let services: Vec<(&HealthcareService, &str)> = bundle
        .entry
        .iter()
        .filter_map(|e| match &e.resource {
            Some(Resource::HealthcareService(s)) if s.active != Some(false) => Some(s),
            _ => None,
        })
        .filter_map(|s| Some((s, endpoint_id(s, target_system)?)))
        .collect();
    let locations = contact::locations(bundle);
    let mut offers = Vec::new();
    for need in needs {
        let serving = services.iter().filter(|(s, _)| {
            categories_of(need.code)
                .iter()
                .any(|code| s.category.iter().any(|c| c.has(SERVICE_CATEGORY, code)))
        });
        offers.extend(serving.take(max_per_need).map(|(s, id)| {
            let location = contact::location_of(s, &locations);
            offer(s, id, need.code, location, judged)
        }));
    }
    Ok(offers)
}

/// The service's identifier value in `system`.
fn endpoint_id<'a>(service: &'a HealthcareService, system: &str) -> Option<&'a str> {
    service
        .identifier
        .iter()
        .find(|i| i.system.as_deref() == Some(system))
        .and_then(|i| i.value.as_deref())
        .filter(|v| !v.trim().is_empty())
}

fn offer(
    service: &HealthcareService,
    id: &str,
    need: NeedCode,
    venue: Option<&Location>,
    judged: &Judged<'_>,
) -> Offer {
    let name = service.name.clone().unwrap_or_else(|| format!("NHS service {id}"));
    let (capacity, notes) = capacity(service);
    let earliest_start = match capacity {
        Capacity::NoCapacity => None,
        _ => notes.as_deref().and_then(|n| wait_start(judged.today, n)),
    };
    let venue_name = venue.and_then(|l| l.name.as_str()).map(str::trim).filter(|n| !n.is_empty());
    let location = service
        .location
        .iter()
        .find_map(|l| l.display.clone())
        .or_else(|| venue_name.map(str::to_string));
    let postcode = venue.and_then(contact::postcode);
    Offer {
        need,
        service: ServiceRef { id: id.to_string(), name },
        eligibility: eligibility(service, judged.age_band),
        capacity,
        earliest_start,
        wait_estimate: notes,
        channel: location.as_ref().map(|_| ServiceChannel::InPerson),
        location: location.map(|name| OfferLocation { name, postcode, distance_m: None }),
        contact: contact::contact(service, venue),
        route: Some(Route::Refer),
    }
}

/// The Gravity capacity status and notes of a service.
pub(crate) fn capacity(service: &HealthcareService) -> (Capacity, Option<String>) {
    let Some(extension) = service.extension.iter().find(|e| e.url == CAPACITY_EXTENSION) else {
        return (Capacity::Unknown, None);
    };
    let part = |url: &str| extension.extension.iter().find(|e| e.url == url);
    let status = part("capacityStatus").and_then(|e| e.value_codeable_concept.as_ref());
    let capacity = match status {
        Some(c) if c.has(SDOHCC_CODES, "capacity") => Capacity::Capacity,
        Some(c) if c.has(SDOHCC_CODES, "no-capacity") => Capacity::NoCapacity,
        Some(c) if c.has(SDOHCC_CODES, "waitlist") => Capacity::Waitlist,
        Some(c) if c.has(SDOHCC_CODES, "additional-assessment-required") => {
            Capacity::AssessmentRequired
        }
        _ => Capacity::Unknown,
    };
    let notes = part("capacityNotes")
        .and_then(|e| e.value_string.clone())
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    (capacity, notes)
}

/// Whether a client in `band` meets the service's age limits.
pub(crate) fn eligibility(service: &HealthcareService, band: AgeBand) -> Eligibility {
    let ranges = service
        .eligibility
        .iter()
        .flat_map(|e| &e.extension)
        .filter(|x| x.url == ELIGIBILITY_VALUE);
    let (mut min, mut max) = (None::<u32>, None::<u32>);
    for range in ranges.filter_map(|x| x.value_range.as_ref()) {
        let years = |q: &Option<crate::fhir::Quantity>| {
            q.as_ref()
                .and_then(|q| q.value)
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v as u32)
        };
        min = min.max(years(&range.low));
        max = match (max, years(&range.high)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let (low, high) = band.bounds();
    let below = min.is_some_and(|m| high < m);
    let above = max.is_some_and(|m| low > m);
    if below || above {
        let reason = match (min, max) {
            (Some(min), Some(max)) => format!("for people aged {min} to {max}"),
            (Some(min), None) => format!("for people aged {min} and over"),
            (None, Some(max)) => format!("for people aged {max} and under"),
            (None, None) => "outside the service's age range".to_string(),
        };
        return Eligibility::NotEligible { reason };
    }
    let inside = min.is_none_or(|m| low >= m) && max.is_none_or(|m| high <= m);
    if inside {
        Eligibility::Eligible
    } else {
        Eligibility::Unknown
    }
}

/// The receipt in a `$process-message` answer: its MessageHeader must say `ok`, and the Task
/// it focuses on (or the first Task) is the referral's tracking record.
pub(crate) fn receipt_from_response(
    answer: &Resource,
    path: &str,
) -> Result<ReferralReceipt, PartnerError> {
    receipt(task_in_response(answer, path)?, path)
}

/// The referral's status in a `$process-message` answer (to a withdrawal), as for
/// [`receipt_from_response`].
pub(crate) fn status_from_response(
    answer: &Resource,
    path: &str,
) -> Result<ReferralStatus, PartnerError> {
    status(task_in_response(answer, path)?, path)
}

/// The Task a `$process-message` answer carries, once its MessageHeader says `ok`.
fn task_in_response<'a>(answer: &'a Resource, path: &str) -> Result<&'a Task, PartnerError> {
    let Resource::Bundle(bundle) = answer else {
        return Err(PartnerError::permanent(format!("partner answered `{path}` with no Bundle")));
    };
    let header = bundle.entry.iter().find_map(|e| match &e.resource {
        Some(Resource::MessageHeader(h)) => Some(h),
        _ => None,
    });
    match header.and_then(|h| h.response.as_ref()).map(|r| r.code.as_str()) {
        Some("ok") | None => {}
        Some("transient-error") => {
            return Err(PartnerError::transient(
                format!("partner answered `{path}` with a transient error response"),
                None,
            ))
        }
        Some(_) => {
            return Err(PartnerError::permanent(format!(
                "partner answered `{path}` with a fatal error response"
            )))
        }
    }
    tasks(bundle).next().ok_or_else(|| {
        PartnerError::permanent(format!(
            "partner's answer at `{path}` holds no Task to track the referral"
        ))
    })
}

/// The receipt for a referral found again after a duplicate answer: the Task (included by
/// `_revinclude=Task:focus`) that focuses on the ServiceRequest carrying our identifier.
pub(crate) fn receipt_from_search(
    answer: &Resource,
    path: &str,
) -> Result<ReferralReceipt, PartnerError> {
    let Resource::Bundle(bundle) = answer else {
        return Err(PartnerError::permanent(format!("partner answered `{path}` with no Bundle")));
    };
    let requests: Vec<String> = bundle
        .entry
        .iter()
        .filter_map(|e| match &e.resource {
            Some(Resource::ServiceRequest(sr)) => {
                sr.id.as_ref().map(|id| format!("ServiceRequest/{id}"))
            }
            _ => None,
        })
        .collect();
    if requests.is_empty() {
        return Err(PartnerError::permanent(format!(
            "partner said the referral was already delivered, but `{path}` finds no ServiceRequest with its identifier"
        )));
    }
    let focused = |task: &&Task| {
        task.focus
            .as_ref()
            .and_then(|f| f.reference.as_deref())
            .is_some_and(|r| requests.iter().any(|sr| r == sr || r.ends_with(&format!("/{sr}"))))
    };
    match tasks(bundle).find(focused) {
        Some(task) => receipt(task, path),
        // The receiver holds the referral but has not opened its Task yet: ask again later.
        None => Err(PartnerError::transient(
            format!("partner holds the referral but `{path}` shows no Task for it yet"),
            None,
        )),
    }
}

fn tasks(bundle: &Bundle) -> impl Iterator<Item = &Task> {
    bundle.entry.iter().filter_map(|e| match &e.resource {
        Some(Resource::Task(task)) => Some(task),
        _ => None,
    })
}

/// A receipt from the Task tracking the referral (its id is the partner's reference).
pub(crate) fn receipt(task: &Task, path: &str) -> Result<ReferralReceipt, PartnerError> {
    let reference = task.id.as_deref().filter(|id| !id.trim().is_empty()).ok_or_else(|| {
        PartnerError::permanent(format!("partner answered a Task without an id at `{path}`"))
    })?;
    Ok(ReferralReceipt {
        partner_reference: reference.to_string(),
        state: task_state(&task.status, path)?,
        received_at: task.authored_on.as_deref().and_then(parse_instant),
    })
}

/// A Task as a referral status, with the reason FHIR requires.
pub(crate) fn status(task: &Task, path: &str) -> Result<ReferralStatus, PartnerError> {
    let state = task_state(&task.status, path)?;
    let given = task.status_reason.as_ref();
    let reason = match given {
        Some(reason) => Some(status_reason(reason)),
        None if state.requires_reason() => Some(StatusReason::Other),
        None => None,
    };
    let note = given
        .and_then(|r| r.coding.iter().find_map(|c| c.display.clone()).or_else(|| r.text.clone()));
    Ok(ReferralStatus {
        state,
        reason,
        note,
        updated_at: task
            .last_modified
            .as_deref()
            .or(task.authored_on.as_deref())
            .and_then(parse_instant),
    })
}

/// The id in a reference to a `kind` resource (`Kind/{id}`, relative or absolute).
pub(crate) fn referenced_id<'a>(reference: Option<&'a Reference>, kind: &str) -> Option<&'a str> {
    let text = reference?.reference.as_deref()?;
    let (_, id) = text.rsplit_once(&format!("{kind}/"))?;
    let id = id.split('/').next().unwrap_or_default();
    (!id.is_empty()).then_some(id)
}

/// A FHIR Task status as a [`TaskState`].
fn task_state(status: &str, path: &str) -> Result<TaskState, PartnerError> {
    Ok(match status {
        "draft" => TaskState::Draft,
        "requested" | "received" => TaskState::Requested,
        "accepted" | "ready" => TaskState::Accepted,
        "rejected" => TaskState::Rejected,
        "in-progress" => TaskState::InProgress,
        "on-hold" => TaskState::OnHold,
        "completed" => TaskState::Completed,
        "failed" => TaskState::Failed,
        "cancelled" => TaskState::Cancelled,
        "entered-in-error" => TaskState::EnteredInError,
        _ => {
            return Err(PartnerError::permanent(format!(
                "partner reported a Task status that is not FHIR R4's at `{path}`"
            )))
        }
    })
}

fn status_reason(reason: &CodeableConcept) -> StatusReason {
    let codes = reason.coding.iter().filter_map(|c| c.code.as_deref());
    codes
        .filter_map(|code| match code {
            "no-capacity" => Some(StatusReason::NoCapacity),
            "not-eligible" => Some(StatusReason::NotEligible),
            "out-of-area" => Some(StatusReason::OutOfArea),
            "could-not-contact" => Some(StatusReason::CouldNotContact),
            "missing-information" => Some(StatusReason::MissingInformation),
            "no-longer-interested" | "patient-declined" => Some(StatusReason::NoLongerInterested),
            _ => None,
        })
        .next()
        .unwrap_or(StatusReason::Other)
}

fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}
