//! Referrals as Open311 GeoReport v2 service requests, and their status.
//!
//! # Which services take referrals
//! A service takes referrals when its HSDS `attributes` link the term `open311:service_code`
//! with a `value`: that value is the GeoReport `service_code` to request. Other services are
//! still offered, as `signpost` or `self_help` (the client contacts them), and
//! `send_referral` refuses them should a referral arrive all the same.
//!
//! # The request
//! Form fields, from what the core shared and nothing else: `service_code`, `jurisdiction_id`
//! (from the settings), `first_name`/`last_name` (the name split at its last space), `email`,
//! `phone`, `address_string` (address lines and postcode, only with an address) and a
//! `description` written from the referral's facts: the referring organisation and its case
//! reference, the service, the needs and their urgency, and how to make contact. Never notes:
//! GeoReport requests are seen widely in a council and notes may hold health details. A
//! client to be reached only through the referrer gets no contact fields and a description
//! that says so.
//!
//! # Status
//! `status` is `open` or `closed`; `status_notes` starts with a code and `: ` (the sandbox's
//! convention, documented with its council simulator):
//!
//! | status | code | state |
//! |---|---|---|
//! | open | `received`, or none we know | requested |
//! | open | `accepted` | accepted |
//! | open | `in_progress` | in-progress |
//! | closed | `completed`, or none we know | completed |
//! | closed | `declined.REASON` | rejected, reason `no_capacity`, `not_eligible`, `out_of_area`, `could_not_contact`, `missing_information`, else `other` |
//! | closed | `withdrawn` | cancelled (no_longer_interested) |
//!
//! The note reported is the connector's own words for the code, never the council's text,
//! which is free text and may name the client.

use chrono::{DateTime, Utc};
use pathways_sdk::{
    NeedCode, PartnerError, Personal, Referral, ReferralReceipt, ReferralStatus, StatusReason,
    TaskState,
};
use serde::Deserialize;

use super::{nullable, Service};

/// Needs whose requests are about the client's home, so the council needs its address (the
/// manifest's `requires`, and [`check_property_address`]).
pub(crate) const PROPERTY_NEEDS: &[NeedCode] = &[NeedCode::HousingConditions];

/// Refuses, before anything is sent, a referral for a need in [`PROPERTY_NEEDS`] that does not
/// carry the client's address: the plan should have blocked it (the manifest requires the
/// address), or the address was withheld because contacting the client directly is unsafe.
pub(crate) fn check_property_address(referral: &Referral) -> Result<(), PartnerError> {
    let about_home = referral.needs.iter().any(|n| PROPERTY_NEEDS.contains(&n.code));
    if about_home && referral.client.address.is_none() {
        return Err(PartnerError::invalid_request(
            "not sent: a council service request about housing conditions needs the address of the property, and the referral does not carry it (none recorded, or withheld because direct contact is unsafe)",
        ));
    }
    Ok(())
}

/// The term whose attribute `value` is the service's Open311 `service_code`.
pub(crate) const OPEN311_TERM: &str = "open311:service_code";

/// The Open311 `service_code` under which `service` takes referrals, if it does.
pub(crate) fn service_code(service: &Service) -> Option<&str> {
    service
        .attributes
        .iter()
        .find(|a| a.term() == OPEN311_TERM && !a.value.trim().is_empty())
        .map(|a| a.value.trim())
}

/// A value of the request form: the connector's own text, or a personal value that prints
/// `[redacted]` in `Debug`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FormValue<'a> {
    Plain(String),
    Personal(Personal<String>),
    Borrowed(&'a Personal<String>),
}

impl FormValue<'_> {
    /// The value to put on the wire.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            FormValue::Plain(text) => text,
            FormValue::Personal(value) => value.expose(),
            FormValue::Borrowed(value) => value.expose(),
        }
    }
}

/// A `POST /requests.json` form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RequestForm<'a> {
    /// Field names and values, in the order sent.
    pub fields: Vec<(&'static str, FormValue<'a>)>,
    /// Whether it carries a location (GeoReport wants one for a service about a property).
    pub located: bool,
}

impl RequestForm<'_> {
    /// The fields as text, to hand to the HTTP client.
    pub(crate) fn pairs(&self) -> Vec<(&str, &str)> {
        self.fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

/// The `POST /requests.json` form for `referral` to the service with `service_code`.
pub(crate) fn request_form<'a>(
    referral: &'a Referral,
    service_code: &str,
    jurisdiction_id: Option<&str>,
) -> Result<RequestForm<'a>, PartnerError> {
    let client = &referral.client;
    let Some(name) = client.name.as_ref() else {
        return Err(PartnerError::invalid_request(
            "a council service request needs the client's name, and the referral does not carry it",
        ));
    };
    if referral.needs.is_empty() {
        return Err(PartnerError::invalid_request("the referral names no need"));
    }
    let mut form = vec![("service_code", FormValue::Plain(service_code.to_string()))];
    if let Some(jurisdiction) = jurisdiction_id {
        form.push(("jurisdiction_id", FormValue::Plain(jurisdiction.to_string())));
    }
    let full = name.expose().trim();
    match full.rsplit_once(char::is_whitespace) {
        Some((first, last)) => {
            form.push(("first_name", FormValue::Personal(Personal::new(first.trim().to_string()))));
            form.push(("last_name", FormValue::Personal(Personal::new(last.to_string()))));
        }
        None => form.push(("first_name", FormValue::Personal(Personal::new(full.to_string())))),
    }
    // The core leaves these out for a client who must be reached through the referrer.
    let direct = !client.contact_via_referrer;
    if let Some(email) = client.email.as_ref().filter(|_| direct) {
        form.push(("email", FormValue::Borrowed(email)));
    }
    if let Some(phone) = client.phone.as_ref().filter(|_| direct) {
        form.push(("phone", FormValue::Borrowed(phone)));
    }
    let located = match (client.address.as_ref(), client.postcode.as_ref()) {
        (Some(address), postcode) => {
            let text = match postcode {
                Some(postcode) => {
                    format!("{}, {}", address.expose().trim(), postcode.expose().trim())
                }
                None => address.expose().trim().to_string(),
            };
            form.push(("address_string", FormValue::Personal(Personal::new(text))));
            true
        }
        (None, _) => false,
    };
    form.push(("description", FormValue::Plain(description(referral))));
    Ok(RequestForm { fields: form, located })
}

/// The request's description, from the referral's non-personal facts only.
fn description(referral: &Referral) -> String {
    let needs: Vec<String> = referral
        .needs
        .iter()
        .map(|n| format!("{} ({})", NeedCode::describe(n.code), n.urgency))
        .collect();
    let contact = if referral.client.contact_via_referrer {
        format!(
            "Do not contact the client directly: contact {} and quote their case reference.",
            referral.referrer.organisation
        )
    } else {
        "The client agreed to be contacted directly.".to_string()
    };
    format!(
        "Referral from {} (case reference {}) to {} for: {}. {contact}",
        referral.referrer.organisation,
        referral.case_reference,
        referral.service.name,
        needs.join("; "),
    )
}

/// One element of the answer to `POST /requests.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PostAnswer {
    #[serde(default, deserialize_with = "nullable")]
    pub service_request_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub token: String,
}

/// One element of the answer to `GET /requests/{id}.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RequestAnswer {
    pub status: String,
    #[serde(default, deserialize_with = "nullable")]
    pub status_notes: String,
    #[serde(default, deserialize_with = "nullable")]
    pub updated_datetime: String,
    #[serde(default, deserialize_with = "nullable")]
    pub requested_datetime: String,
}

/// The receipt for the request a POST created (or had created).
pub(crate) fn receipt(answer: &[PostAnswer], path: &str) -> Result<ReferralReceipt, PartnerError> {
    let Some(first) = answer.first() else {
        return Err(PartnerError::transient(
            format!("the council answered an empty list at `{path}`; retry with the same key"),
            None,
        ));
    };
    let id = first.service_request_id.trim();
    if id.is_empty() {
        let what = if first.token.is_empty() { "no service_request_id" } else { "only a token" };
        return Err(PartnerError::permanent(format!(
            "the council answered {what} at `{path}`; this connector tracks requests by service_request_id"
        )));
    }
    Ok(ReferralReceipt {
        partner_reference: id.to_string(),
        state: TaskState::Requested,
        received_at: None,
    })
}

/// A request's GeoReport status as a FHIR Task state (see the module doc).
pub(crate) fn status(answer: &[RequestAnswer], path: &str) -> Result<ReferralStatus, PartnerError> {
    let Some(request) = answer.first() else {
        return Err(PartnerError::permanent(format!(
            "the council has no such request at `{path}`"
        )));
    };
    let code = request
        .status_notes
        .split_once(':')
        .map(|(code, _)| code.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let open = match request.status.trim().to_ascii_lowercase().as_str() {
        "open" => true,
        "closed" => false,
        _ => {
            return Err(PartnerError::permanent(format!(
                "the council reported a status this connector does not know at `{path}` (GeoReport has open and closed)"
            )))
        }
    };
    let (state, reason, note) = match (open, code.as_str()) {
        (true, "accepted") => (TaskState::Accepted, None, "accepted by the council"),
        (true, "in_progress") => (TaskState::InProgress, None, "the council is working on it"),
        (true, _) => (TaskState::Requested, None, "received by the council"),
        (false, "withdrawn") => {
            (TaskState::Cancelled, Some(StatusReason::NoLongerInterested), "withdrawn")
        }
        (false, declined) if declined.starts_with("declined") => {
            let reason = match declined.strip_prefix("declined.").unwrap_or("") {
                "no_capacity" => StatusReason::NoCapacity,
                "not_eligible" => StatusReason::NotEligible,
                "out_of_area" => StatusReason::OutOfArea,
                "could_not_contact" => StatusReason::CouldNotContact,
                "missing_information" => StatusReason::MissingInformation,
                _ => StatusReason::Other,
            };
            (TaskState::Rejected, Some(reason), "declined by the council")
        }
        (false, _) => (TaskState::Completed, None, "closed by the council"),
    };
    let updated_at = [&request.updated_datetime, &request.requested_datetime]
        .iter()
        .find_map(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.with_timezone(&Utc));
    Ok(ReferralStatus { state, reason, note: Some(note.to_string()), updated_at })
}
