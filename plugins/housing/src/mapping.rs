//! The Duty to Refer API's shapes (a housing options team's availability, the referral, the
//! receipt and the referral's progress) and their translation to and from the core types.
//!
//! Answers are read tolerantly (unknown fields ignored, so the authority can add fields without
//! breaking us); the referral body is written strictly from what the core gave us, after the
//! three things s.213B requires have been checked. Notes are read to choose the reason code and
//! never written: the body has no field that could carry them.

use chrono::{DateTime, NaiveDate, Utc};
use pathways_sdk::contact::{email_address, non_empty, opening_hours, phone_number, web_url};
use pathways_sdk::{
    CancelReason, Capacity, Eligibility, NeedCode, Offer, PartnerError, Personal, Referral,
    ReferralReceipt, ReferralStatus, ReferredNeed, Route, ServiceChannel, ServiceContact,
    ServiceRef, StatusReason, TaskState, Urgency,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::settings::{PublicAuthority, Settings};

/// A housing options team's answer on availability (only the fields we use).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct AuthorityAvailability {
    pub authority: String,
    #[serde(default)]
    pub name: Option<String>,
    pub accepting_referrals: bool,
    #[serde(default)]
    pub next_triage_date: Option<NaiveDate>,
    #[serde(default)]
    pub same_day_emergency_service: bool,
    /// How to reach the housing options team: `{phone, email, url, address, opening_hours:
    /// [{days, opens_at, closes_at}], out_of_hours}`. Kept as JSON and read per detail, so a
    /// malformed one never costs the offer.
    #[serde(default)]
    pub housing_options: Value,
}

/// The authority's receipt for a referral.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct DtrReceipt {
    pub referral_id: String,
    pub status: String,
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
}

/// A referral's progress as the authority reports it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct DtrReferralAnswer {
    pub referral_id: String,
    pub status: String,
    #[serde(default)]
    pub duty: Option<String>,
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// Why the referrer withdrew it, for a `withdrawn` referral.
    #[serde(default)]
    pub withdrawal_reason: Option<String>,
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The body of `POST /dtr/v1/referrals/{id}/withdraw`: only the reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DtrWithdrawal {
    pub reason: &'static str,
}

/// The withdrawal body for `reason`, in the authority's vocabulary.
pub(crate) fn withdrawal(reason: CancelReason) -> DtrWithdrawal {
    let reason = match reason {
        CancelReason::ConsentWithdrawn => "consent_withdrawn",
        CancelReason::NoLongerNeeded => "no_longer_needed",
        CancelReason::HelpedElsewhere => "assisted_elsewhere",
        CancelReason::Rerouted => "referred_elsewhere",
        CancelReason::SentInError => "referred_in_error",
        CancelReason::Other => "other",
    };
    DtrWithdrawal { reason }
}

/// The referral body. Personal values stay in [`Personal`], which serialises as the value and
/// prints `[redacted]`, so this struct can be debugged without leaking.
#[derive(Debug, Serialize)]
pub(crate) struct DtrReferral<'a> {
    pub chosen_authority: &'a str,
    pub referring_agency: ReferringAgency<'a>,
    pub client: DtrClient<'a>,
    pub reason: DtrReason,
    pub consent: DtrConsent<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub household: Option<&'a pathways_sdk::Household>,
}

/// Who refers, and on what footing.
#[derive(Debug, Serialize)]
pub(crate) struct ReferringAgency<'a> {
    pub organisation: &'a str,
    pub worker: &'a str,
    pub case_reference: &'a str,
    /// `duty_to_refer` for a specified public authority, `voluntary` for anyone else.
    pub referral_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_authority: Option<PublicAuthority>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<&'a str>,
}

/// The client: name and contact details, only as the referral carries them.
#[derive(Debug, Serialize)]
pub(crate) struct DtrClient<'a> {
    pub name: &'a Personal<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a Personal<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a Personal<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<&'a Personal<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<&'a Personal<String>>,
    pub contact_via_referrer: bool,
}

/// The consent record s.213B requires.
#[derive(Debug, Serialize)]
pub(crate) struct DtrConsent<'a> {
    pub consent_to_refer: bool,
    pub consent_to_share_contact: bool,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: &'a str,
}

/// The reason agreed with the client (s.213B(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum DtrReason {
    /// Homeless now: the authority's relief duty.
    #[serde(rename = "homeless")]
    Homeless,
    /// Threatened with homelessness within 56 days: the prevention duty.
    #[serde(rename = "threatened_with_homelessness_within_56_days")]
    Threatened,
}

/// Words in a pathfinder's notes that mean the client has no home tonight. Matched in lower
/// case anywhere in the notes; "homeless" alone is not among them because "threatened with
/// homelessness" contains it.
const HOMELESS_NOW: &[&str] = &[
    "tonight",
    "nowhere to sleep",
    "nowhere to stay",
    "nowhere to go",
    "rough sleep",
    "sleeping rough",
    "sleeps rough",
    "slept rough",
    "on the street",
    "sofa surf",
    "sofa-surf",
    "homeless now",
    "already homeless",
    "currently homeless",
    "no fixed abode",
    "locked out",
    "evicted today",
    "sleeping in a car",
    "sleeping in the car",
];

/// The reason for the housing need: `homeless` for an emergency or notes saying the client has
/// nowhere to sleep now (rough sleeping, sofa surfing, tonight); otherwise threatened within 56
/// days (a section 21 notice, arrears). Negations ("not sleeping rough") are not parsed: a
/// doubtful case errs towards `homeless`, the more urgent duty, and the authority's own
/// assessment settles which duty it owes.
pub(crate) fn reason(need: &ReferredNeed) -> DtrReason {
    if need.urgency == Urgency::Emergency {
        return DtrReason::Homeless;
    }
    // Read here only to choose the reason code; the text itself is never sent.
    let notes = need.notes.as_ref().map(|n| n.expose().to_lowercase()).unwrap_or_default();
    if HOMELESS_NOW.iter().any(|phrase| notes.contains(phrase)) {
        DtrReason::Homeless
    } else {
        DtrReason::Threatened
    }
}

/// The offer of the client's local housing options team for a need of `urgency`, raised on
/// `today`. Eligibility is always `unknown`: it turns on immigration status and the authority's
/// own inquiries (Housing Act 1996 s.185), which a query cannot show. The route is always
/// `refer` (a Duty to Refer referral); the start is the triage date the authority gives, kept
/// as given; the team's phone, email, web page, address, hours and out-of-hours words are the
/// offer's `contact`.
pub(crate) fn offer(answer: &AuthorityAvailability, urgency: Urgency, today: NaiveDate) -> Offer {
    let due_by = urgency.due_by(today);
    let triage = answer.next_triage_date;
    let triage_text = |day: NaiveDate| format!("next triage {day}");
    let (capacity, earliest_start, wait) = if !answer.accepting_referrals {
        (Capacity::NoCapacity, None, "not taking Duty to Refer referrals here now".to_string())
    } else if urgency == Urgency::Emergency && answer.same_day_emergency_service {
        (Capacity::Capacity, Some(today), "same-day emergency service: seen today".to_string())
    } else {
        match triage {
            // An emergency with no same-day service waits for triage like anyone else.
            Some(day) if urgency == Urgency::Emergency => (
                Capacity::Waitlist,
                Some(day),
                format!("no same-day emergency service; {}", triage_text(day)),
            ),
            Some(day) if day <= due_by => (Capacity::Capacity, Some(day), triage_text(day)),
            Some(day) => (Capacity::Waitlist, Some(day), triage_text(day)),
            None => (Capacity::Unknown, None, "no triage date given".to_string()),
        }
    };
    let name = answer.name.clone().unwrap_or_else(|| answer.authority.clone());
    Offer {
        need: NeedCode::HousingHomelessness,
        service: ServiceRef {
            id: answer.authority.clone(),
            name: format!("{name} housing options team"),
        },
        eligibility: Eligibility::Unknown,
        capacity,
        earliest_start,
        wait_estimate: Some(wait),
        channel: Some(ServiceChannel::Phone),
        location: None,
        contact: team_contact(&answer.housing_options),
        route: Some(Route::Refer),
    }
}

/// The housing options team's contact details; each that does not read cleanly is left out.
fn team_contact(team: &Value) -> Option<ServiceContact> {
    let text = |key: &str| team.get(key).and_then(Value::as_str).unwrap_or("").trim();
    let opening = team.get("opening_hours").and_then(Value::as_array).into_iter().flatten();
    let opening_hours = opening
        .filter_map(|period| {
            let days = period.get("days").and_then(Value::as_array)?;
            let days = days.iter().map(|d| d.as_str().unwrap_or("?"));
            let time = |key: &str| period.get(key).and_then(Value::as_str).unwrap_or("");
            opening_hours(days, time("opens_at"), time("closes_at"))
        })
        .collect();
    let words = |key: &str| Some(text(key).to_string()).filter(|t| !t.is_empty());
    non_empty(ServiceContact {
        phone: phone_number(text("phone")),
        email: email_address(text("email")),
        url: web_url(text("url")),
        address: words("address"),
        opening_hours,
        how_to_apply: words("out_of_hours"),
    })
}

/// The referral body for `referral`, or an `invalid_request` naming what is missing; nothing
/// is sent unless the case records consent to refer, consent to share contact details, and a
/// chosen authority this partner serves (s.213B(3)), and the authority can reach the client
/// (directly, or through `agency_contact`). These are the conditions the manifest declares
/// (`crate::requirements`), read the way `pathways_sdk::missing_prerequisites` reads them, so
/// a referral refused here was planned `blocked`.
pub(crate) fn referral_body<'a>(
    referral: &'a Referral,
    settings: &'a Settings,
) -> Result<DtrReferral<'a>, PartnerError> {
    let refuse = |what: String| Err(PartnerError::invalid_request(what));
    let Some(dtr) = referral.consent.duty_to_refer.as_ref() else {
        return refuse(
            "not sent: the case records no Duty to Refer consent (`consent.duty_to_refer`); ask the client for consent to refer, consent to share their contact details, and which housing authority they choose".into(),
        );
    };
    if !dtr.consent_to_refer {
        return refuse("not sent: the client has not consented to the referral (`consent.duty_to_refer.consent_to_refer` is false)".into());
    }
    if !dtr.consent_to_share_contact {
        return refuse("not sent: the client has not consented to their contact details being shared (`consent.duty_to_refer.consent_to_share_contact` is false)".into());
    }
    let chosen = dtr.chosen_authority.trim();
    if chosen.is_empty() {
        return refuse("not sent: the case records no chosen housing authority (`consent.duty_to_refer.chosen_authority`); ask the client which authority they want to be referred to".into());
    }
    if !settings.serves(chosen) {
        return refuse(format!(
            "not sent: the client chose housing authority `{chosen}`, which this partner does not serve (it serves {}); refer through a partner for that authority",
            settings.authorities.join(", ")
        ));
    }
    let Some(need) = referral.needs.iter().find(|n| n.code == NeedCode::HousingHomelessness) else {
        return refuse("not sent: the referral carries no `housing_homelessness` need".into());
    };
    let client = &referral.client;
    let Some(name) = client.name.as_ref() else {
        return refuse("not sent: a Duty to Refer referral needs the client's name, and the referral does not carry it".into());
    };
    let agency_contact = settings.agency_contact.as_deref();
    if client.contact_via_referrer && agency_contact.is_none() {
        return refuse("not sent: the client's own contact details are withheld from the housing authority (safe contact, or none recorded), so it must reach them through you; set `agency_contact` in this partner's settings".into());
    }
    let (referral_type, public_authority) = match settings.public_authority {
        Some(authority) => ("duty_to_refer", Some(authority)),
        None => ("voluntary", None),
    };
    Ok(DtrReferral {
        chosen_authority: chosen,
        referring_agency: ReferringAgency {
            organisation: &referral.referrer.organisation,
            worker: &referral.referrer.worker,
            case_reference: &referral.case_reference,
            referral_type,
            public_authority,
            contact: agency_contact,
        },
        // The core already withheld contact fields for a safe-contact client; this only
        // forwards what it gave.
        client: DtrClient {
            name,
            phone: client.phone.as_ref(),
            email: client.email.as_ref(),
            address: client.address.as_ref(),
            postcode: client.postcode.as_ref(),
            contact_via_referrer: client.contact_via_referrer,
        },
        reason: reason(need),
        consent: DtrConsent {
            consent_to_refer: dtr.consent_to_refer,
            consent_to_share_contact: dtr.consent_to_share_contact,
            recorded_at: referral.consent.recorded_at,
            recorded_by: &referral.consent.recorded_by,
        },
        household: client.household.as_ref(),
    })
}

/// The receipt for a referral the authority just took (or took before, for a repeated key).
pub(crate) fn receipt(answer: &DtrReceipt) -> ReferralReceipt {
    let state = match answer.status.as_str() {
        "declined" => TaskState::Rejected,
        "accepted" => TaskState::Accepted,
        "in_progress" => TaskState::InProgress,
        // `received`, or a state a repeat finds later on: the first status poll tells.
        _ => TaskState::Requested,
    };
    ReferralReceipt {
        partner_reference: answer.referral_id.clone(),
        state,
        received_at: answer.received_at,
    }
}

/// A referral's progress as a FHIR Task state, with the reason FHIR requires; `asked` is the
/// referral id the answer must be about.
pub(crate) fn status(
    answer: &DtrReferralAnswer,
    asked: &str,
    path: &str,
) -> Result<ReferralStatus, PartnerError> {
    if answer.referral_id != asked {
        return Err(PartnerError::permanent(format!(
            "partner answered about another referral at `{path}`"
        )));
    }
    let duty_note = |what: &str| match answer.duty.as_deref() {
        Some(duty @ ("prevention" | "relief")) => format!("{what} ({duty} duty)"),
        _ => what.to_string(),
    };
    let (state, reason, note) = match answer.status.as_str() {
        "received" => (TaskState::Requested, None, "received; awaiting triage".to_string()),
        "accepted" => (TaskState::Accepted, None, duty_note("case opened")),
        "in_progress" => {
            (TaskState::InProgress, None, duty_note("personalised housing plan under way"))
        }
        "closed" => match answer.outcome.as_deref() {
            Some("homelessness_prevented") => {
                (TaskState::Completed, None, "closed: homelessness prevented".to_string())
            }
            Some("homelessness_relieved") => {
                (TaskState::Completed, None, "closed: homelessness relieved".to_string())
            }
            Some("could_not_contact") => (
                TaskState::Failed,
                Some(StatusReason::CouldNotContact),
                "closed: the authority could not contact the client".to_string(),
            ),
            // Not knowing how a case ended is worth a pathfinder's follow-up call. The code
            // itself is not echoed: it is the partner's free text as far as we know.
            _ => (
                TaskState::Failed,
                Some(StatusReason::Other),
                "closed with an outcome this connector does not know".to_string(),
            ),
        },
        "declined" => match answer.reason.as_deref() {
            Some("not_eligible") => (
                TaskState::Rejected,
                Some(StatusReason::NotEligible),
                "declined: not eligible for assistance".to_string(),
            ),
            Some("no_local_connection") => (
                TaskState::Rejected,
                Some(StatusReason::OutOfArea),
                "declined: passed to the authority where the client has a local connection"
                    .to_string(),
            ),
            Some("not_accepting_referrals") => (
                TaskState::Rejected,
                Some(StatusReason::NoCapacity),
                "declined: the authority is not taking referrals here now".to_string(),
            ),
            _ => (
                TaskState::Rejected,
                Some(StatusReason::Other),
                "declined for a reason this connector does not know".to_string(),
            ),
        },
        // Withdrawn by us: the client's own choice reads as no longer interested (as the
        // core's cancel reasons do), any other reason as other.
        "withdrawn" => match answer.withdrawal_reason.as_deref() {
            Some("consent_withdrawn" | "no_longer_needed") => (
                TaskState::Cancelled,
                Some(StatusReason::NoLongerInterested),
                "withdrawn by the referrer: the client no longer wants it".to_string(),
            ),
            _ => (
                TaskState::Cancelled,
                Some(StatusReason::Other),
                "withdrawn by the referrer".to_string(),
            ),
        },
        _ => {
            return Err(PartnerError::permanent(format!(
                "partner reported a referral status this connector does not know at `{path}`"
            )))
        }
    };
    Ok(ReferralStatus {
        state,
        reason,
        note: Some(note),
        updated_at: answer.updated_at.or(answer.received_at),
    })
}
