//! The BaRS referral message: a FHIR `Bundle` of type `message` holding a MessageHeader
//! (event `servicerequest-request`), the ServiceRequest, the Patient and the referring
//! Organization, and the ids that make a retry the same message.
//!
//! Every id is a UUID v5 derived from the referral's idempotency key (or, for the
//! correlation id, the case reference), so a retry after a crash or a garbled answer sends
//! the same `X-Request-ID` and the same ServiceRequest identifier, and the receiver knows it.
//!
//! The Patient carries exactly what the core put in the referral's [`SharedClient`]
//! (already minimised to the manifest's `shares` and to the safe-contact rule): name, date of
//! birth, and only when present postcode, address, phone, email and language. Notes travel
//! only in `ServiceRequest.note`, and only those of the needs referred here.
//!
//! Withdrawing a referral is the BaRS way: the same `servicerequest-request` event (message
//! reason `update`) carrying the ServiceRequest again with `status: revoked`, under the same
//! identifier and correlation id, its own X-Request-ID (so a retry of the withdrawal is the
//! same message). It carries no personal data: its `subject` is the Patient the receiver
//! already holds (`Patient/{id}`, as the referral's Task names it), and neither notes nor the
//! needs' descriptions go again. Why is said with the core extension `request-statusReason`.

use chrono::{DateTime, Utc};
use pathways_sdk::{
    CancelReason, NeedCode, PartnerError, Personal, Referral, SharedClient, Urgency,
};
use uuid::Uuid;

use crate::fhir::{
    Address, Annotation, Bundle, BundleEntry, CodeableConcept, Coding, ContactPoint, Extension,
    HumanName, Identifier, MessageDestination, MessageHeader, MessageSource, Organization, Patient,
    PatientCommunication, Period, Reference, Resource, ServiceRequest,
};
use crate::mapping::SDOHCC_CODES;

/// The BaRS message event code system.
pub(crate) const MESSAGE_EVENTS: &str = "https://fhir.nhs.uk/CodeSystem/message-events-bars";
/// The BaRS message reason code system.
const MESSAGE_REASONS: &str = "https://fhir.nhs.uk/CodeSystem/message-reason-bars";
/// The BaRS ServiceRequest category code system.
const SERVICE_REQUEST_CATEGORY: &str =
    "https://fhir.nhs.uk/CodeSystem/message-category-servicerequest";
/// The FHIR core extension saying why a request's status changed.
const REQUEST_STATUS_REASON: &str = "http://hl7.org/fhir/StructureDefinition/request-statusReason";
/// This connector's codes for why a referral is withdrawn (no published code set exists).
const CANCEL_REASONS: &str = "https://example.invalid/pathways/fhir/CodeSystem/cancel-reason";
/// FHIR's system for identifiers that are URIs (here `urn:uuid:...`).
pub(crate) const URI_IDENTIFIER: &str = "urn:ietf:rfc:3986";

/// Namespace of every UUID this connector derives (a fixed, randomly chosen UUID).
const NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_92a4_3b7e_4d2a_9f5e_0a8b_7c6d_5e41);

/// The ids of one referral's message, the same on every retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageIds {
    /// `X-Request-ID` and `Bundle.id`.
    pub request_id: Uuid,
    /// `X-Correlation-ID`: one per case, kept across the conversation.
    pub correlation_id: Uuid,
    header: Uuid,
    service_request: Uuid,
    patient: Uuid,
    organization: Uuid,
}

impl MessageIds {
    /// The ids for a referral with `idempotency_key` in case `case_reference`.
    pub(crate) fn new(idempotency_key: &str, case_reference: &str) -> Self {
        let derive = |role: &str, value: &str| {
            Uuid::new_v5(&NAMESPACE, format!("pathways/{role}/{value}").as_bytes())
        };
        Self {
            request_id: derive("request", idempotency_key),
            correlation_id: derive("correlation", case_reference),
            header: derive("message-header", idempotency_key),
            service_request: derive("service-request", idempotency_key),
            patient: derive("patient", idempotency_key),
            organization: derive("organization", idempotency_key),
        }
    }

    /// The ids of the message withdrawing that referral: its own X-Request-ID, Bundle and
    /// MessageHeader ids (the same on every retry of the withdrawal), and the referral's own
    /// ServiceRequest identifier and correlation id.
    pub(crate) fn revoking(idempotency_key: &str, case_reference: &str) -> Self {
        let derive = |role: &str| {
            Uuid::new_v5(&NAMESPACE, format!("pathways/{role}/{idempotency_key}").as_bytes())
        };
        Self {
            request_id: derive("revoke-request"),
            header: derive("revoke-message-header"),
            ..Self::new(idempotency_key, case_reference)
        }
    }

    /// Whether `held` (a ServiceRequest as the receiver holds it) is the referral these ids
    /// were derived for: it carries our identifier.
    pub(crate) fn identifies(&self, held: &ServiceRequest) -> bool {
        let (system, value) = self.service_request_identifier();
        held.identifier
            .iter()
            .any(|i| i.system.as_deref() == Some(system) && i.value.as_deref() == Some(&value))
    }

    /// `ServiceRequest.identifier`: how this referral is found again at the receiver, which
    /// assigns its own resource ids.
    pub(crate) fn service_request_identifier(&self) -> (&'static str, String) {
        (URI_IDENTIFIER, self.service_request.urn().to_string())
    }
}

/// What the message is for, beyond the referral itself.
#[derive(Debug, Clone)]
pub(crate) struct Addressing<'a> {
    /// Identifier system of the target service's endpoint.
    pub target_system: &'a str,
    /// This sender's endpoint.
    pub source_endpoint: &'a str,
    /// When the message is written.
    pub now: DateTime<Utc>,
}

/// The `servicerequest-request` message for `referral`.
pub(crate) fn referral_message(
    referral: &Referral,
    ids: &MessageIds,
    to: &Addressing<'_>,
) -> Result<Resource, PartnerError> {
    let client = &referral.client;
    let (Some(name), Some(birth_date)) = (&client.name, &client.date_of_birth) else {
        return Err(PartnerError::invalid_request(
            "an NHS referral needs the client's name and date of birth, and the referral does not carry them",
        ));
    };
    let needs: Vec<_> =
        referral.needs.iter().filter(|n| crate::mapping::is_nhs_need(n.code)).collect();
    let Some(most_urgent) = needs.iter().map(|n| n.urgency).min() else {
        return Err(PartnerError::invalid_request(
            "the referral names no need an NHS service here meets",
        ));
    };
    if referral.service.id.trim().is_empty() {
        return Err(PartnerError::invalid_request(
            "the referral's service id (the service's BaRS endpoint id) is empty",
        ));
    }
    let urn = |id: &Uuid| id.urn().to_string();
    let today = to.now.date_naive();
    let mut notes: Vec<Annotation> = needs
        .iter()
        .filter_map(|n| {
            let text = n.notes.as_ref()?.expose();
            Some(Annotation { text: Personal::new(format!("{}: {text}", n.code.describe())) })
        })
        .collect();
    if client.contact_via_referrer {
        notes.push(Annotation {
            text: Personal::new(format!(
                "Do not contact the patient directly: contact them through the referrer, {} (reference {}).",
                referral.referrer.organisation, referral.case_reference
            )),
        });
    }
    let service_request = ServiceRequest {
        id: Some(ids.service_request.to_string()),
        identifier: vec![Identifier {
            system: Some(URI_IDENTIFIER.into()),
            value: Some(urn(&ids.service_request)),
            assigner: None,
        }],
        requisition: Some(Identifier {
            system: None,
            value: Some(referral.case_reference.clone()),
            assigner: Some(Box::new(Reference {
                display: Some(referral.referrer.organisation.clone()),
                ..Reference::default()
            })),
        }),
        status: "active".into(),
        intent: "plan".into(),
        category: vec![CodeableConcept {
            coding: vec![Coding::new(SERVICE_REQUEST_CATEGORY, "referral", "Transfer of Care")],
            text: None,
        }],
        priority: Some(priority(most_urgent).into()),
        subject: Some(Reference::to(urn(&ids.patient))),
        occurrence_period: Some(Period {
            start: Some(today.to_string()),
            end: Some(most_urgent.due_by(today).to_string()),
        }),
        authored_on: Some(instant(to.now)),
        requester: Some(Reference::to(urn(&ids.organization))),
        performer: vec![Reference {
            identifier: Some(target_identifier(to.target_system, &referral.service.id)),
            display: Some(referral.service.name.clone()),
            ..Reference::default()
        }],
        reason_code: needs.iter().map(|n| reason(n.code)).collect(),
        note: notes,
        extension: Vec::new(),
    };
    let header = MessageHeader {
        id: Some(ids.header.to_string()),
        event_coding: Some(Coding::code(MESSAGE_EVENTS, "servicerequest-request")),
        destination: vec![MessageDestination {
            endpoint: format!("{}|{}", to.target_system, referral.service.id),
            receiver: Some(Reference {
                display: Some(referral.service.name.clone()),
                ..Reference::default()
            }),
        }],
        sender: Some(Reference::to(urn(&ids.organization))),
        source: Some(MessageSource {
            name: Some(referral.referrer.organisation.clone()),
            software: Some("pathways".into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            endpoint: to.source_endpoint.to_string(),
        }),
        reason: Some(CodeableConcept {
            coding: vec![Coding::code(MESSAGE_REASONS, "new")],
            text: None,
        }),
        response: None,
        focus: vec![Reference::to(urn(&ids.service_request))],
    };
    let patient = patient(client, birth_date, name, ids);
    let organization = Organization {
        id: Some(ids.organization.to_string()),
        identifier: Vec::new(),
        name: Some(referral.referrer.organisation.clone()),
    };
    let entry = |id: &Uuid, resource: Resource| BundleEntry {
        full_url: Some(urn(id)),
        resource: Some(resource),
    };
    Ok(Resource::Bundle(Bundle {
        id: Some(ids.request_id.to_string()),
        kind: "message".into(),
        timestamp: Some(instant(to.now)),
        total: None,
        entry: vec![
            entry(&ids.header, Resource::MessageHeader(header)),
            entry(&ids.service_request, Resource::ServiceRequest(service_request)),
            entry(&ids.patient, Resource::Patient(patient)),
            entry(&ids.organization, Resource::Organization(organization)),
        ],
    }))
}

/// What a withdrawal is addressed to and about, as the receiver holds the referral.
#[derive(Debug, Clone)]
pub(crate) struct Revoked<'a> {
    /// The ServiceRequest as the receiver holds it (read back from it).
    pub held: &'a ServiceRequest,
    /// The receiver's Patient, `Patient/{id}` (from the referral's Task).
    pub patient: String,
    /// The target service's endpoint id (`performer`'s identifier value).
    pub target: &'a str,
    /// Why.
    pub reason: CancelReason,
}

/// The `servicerequest-request` update that revokes `what.held` (see the module doc): the
/// MessageHeader, the ServiceRequest with `status: revoked`, and the referring Organization.
pub(crate) fn revoke_message(
    what: &Revoked<'_>,
    ids: &MessageIds,
    to: &Addressing<'_>,
) -> Resource {
    let urn = |id: &Uuid| id.urn().to_string();
    let held = what.held;
    let organisation =
        held.requisition.as_ref().and_then(|r| r.assigner.as_ref()).and_then(|a| a.display.clone());
    let receiver = held.performer.iter().find_map(|p| p.display.clone());
    let why = CodeableConcept {
        coding: vec![Coding::new(
            CANCEL_REASONS,
            &what.reason.as_str().replace('_', "-"),
            what.reason.describe(),
        )],
        text: Some(what.reason.describe().to_string()),
    };
    let today = to.now.date_naive().to_string();
    let service_request = ServiceRequest {
        id: Some(ids.service_request.to_string()),
        identifier: vec![Identifier {
            system: Some(URI_IDENTIFIER.into()),
            value: Some(urn(&ids.service_request)),
            assigner: None,
        }],
        requisition: held.requisition.clone(),
        status: "revoked".into(),
        intent: "plan".into(),
        category: if held.category.is_empty() {
            vec![CodeableConcept {
                coding: vec![Coding::new(SERVICE_REQUEST_CATEGORY, "referral", "Transfer of Care")],
                text: None,
            }]
        } else {
            held.category.clone()
        },
        priority: held.priority.clone(),
        subject: Some(Reference::to(what.patient.clone())),
        occurrence_period: Some(
            held.occurrence_period.clone().unwrap_or(Period { start: Some(today), end: None }),
        ),
        authored_on: held.authored_on.clone(),
        requester: Some(Reference::to(urn(&ids.organization))),
        performer: vec![Reference {
            identifier: Some(target_identifier(to.target_system, what.target)),
            display: receiver.clone(),
            ..Reference::default()
        }],
        reason_code: Vec::new(),
        note: Vec::new(),
        extension: vec![Extension {
            url: REQUEST_STATUS_REASON.into(),
            value_codeable_concept: Some(why),
            ..Extension::default()
        }],
    };
    let header = MessageHeader {
        id: Some(ids.header.to_string()),
        event_coding: Some(Coding::code(MESSAGE_EVENTS, "servicerequest-request")),
        destination: vec![MessageDestination {
            endpoint: format!("{}|{}", to.target_system, what.target),
            receiver: receiver
                .map(|name| Reference { display: Some(name), ..Reference::default() }),
        }],
        sender: Some(Reference::to(urn(&ids.organization))),
        source: Some(MessageSource {
            name: organisation.clone(),
            software: Some("pathways".into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            endpoint: to.source_endpoint.to_string(),
        }),
        reason: Some(CodeableConcept {
            coding: vec![Coding::code(MESSAGE_REASONS, "update")],
            text: None,
        }),
        response: None,
        focus: vec![Reference::to(urn(&ids.service_request))],
    };
    let organization = Organization {
        id: Some(ids.organization.to_string()),
        identifier: Vec::new(),
        name: organisation,
    };
    let entry = |id: &Uuid, resource: Resource| BundleEntry {
        full_url: Some(urn(id)),
        resource: Some(resource),
    };
    Resource::Bundle(Bundle {
        id: Some(ids.request_id.to_string()),
        kind: "message".into(),
        timestamp: Some(instant(to.now)),
        total: None,
        entry: vec![
            entry(&ids.header, Resource::MessageHeader(header)),
            entry(&ids.service_request, Resource::ServiceRequest(service_request)),
            entry(&ids.organization, Resource::Organization(organization)),
        ],
    })
}

/// The Patient: name and date of birth always; contact and address only as shared.
fn patient(
    client: &SharedClient,
    birth_date: &Personal<chrono::NaiveDate>,
    name: &Personal<String>,
    ids: &MessageIds,
) -> Patient {
    let telecom = [("phone", &client.phone), ("email", &client.email)]
        .into_iter()
        .filter_map(|(system, value)| {
            Some(ContactPoint { system: Some(system.into()), value: Some(value.clone()?) })
        })
        .collect();
    let address = (client.address.is_some() || client.postcode.is_some())
        .then(|| Address {
            use_: Some("home".into()),
            text: client.address.clone(),
            postal_code: client.postcode.clone(),
        })
        .into_iter()
        .collect();
    let communication = client
        .preferred_language
        .iter()
        .map(|lang| PatientCommunication {
            language: CodeableConcept {
                coding: vec![Coding::code("urn:ietf:bcp:47", lang)],
                text: None,
            },
            preferred: Some(true),
        })
        .collect();
    Patient {
        id: Some(ids.patient.to_string()),
        name: vec![HumanName { text: Some(name.clone()), family: None }],
        telecom,
        birth_date: Some(Personal::new(birth_date.expose().to_string())),
        address,
        communication,
    }
}

/// The identifier of a service's BaRS endpoint.
pub(crate) fn target_identifier(system: &str, value: &str) -> Identifier {
    Identifier { system: Some(system.into()), value: Some(value.into()), assigner: None }
}

/// FHIR `request-priority` for an urgency: same-day needs are `asap`.
fn priority(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::Emergency => "asap",
        Urgency::Urgent => "urgent",
        Urgency::Soon | Urgency::Routine => "routine",
    }
}

/// `ServiceRequest.reasonCode` for a need: the Gravity SDOH category where one exists, and
/// the need in words.
fn reason(need: NeedCode) -> CodeableConcept {
    let gravity = match need {
        NeedCode::MentalHealth => Some(("stress", "Stress")),
        NeedCode::SocialIsolation => Some(("social-connection", "Social Connection")),
        _ => None,
    };
    CodeableConcept {
        coding: gravity
            .map(|(code, display)| Coding::new(SDOHCC_CODES, code, display))
            .into_iter()
            .collect(),
        text: Some(need.describe().to_string()),
    }
}

/// An instant in FHIR's format.
fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
