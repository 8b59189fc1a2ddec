//! The partner's shapes (Give Food directory entries, e-voucher availability and vouchers) and
//! their translation to and from the core types.
//!
//! Answers are read tolerantly (unknown fields ignored, so a partner can add fields without
//! breaking us; contact details and the next session of the wrong type read as absent, so a
//! badly kept listing never loses its offer); the referral body is written strictly from what
//! the core gave us: the [`SharedClient`] is already minimised to the manifest's `shares`, and
//! notes are never sent (the manifest does not declare `need_notes`).
//!
//! Every offer is `refer` (an e-voucher is the referral). Its `contact` comes from Give Food's
//! `phone` (else `secondary_phone`, when the first does not read as a number), `email`,
//! `urls.homepage`, `address` and `postcode`, and the desk's `sessions` (when parcels are
//! handed out). `earliest_start` is the desk's `next_session`, an exact date kept as given;
//! without one, a waiting list of N weeks starts N weeks from the query's `today`.
//!
//! A cancel tells the desk why the voucher is withdrawn in its own vocabulary: the client's
//! choice (`consent_withdrawn`, `no_longer_needed`) is `client_withdrew`, read back as
//! `no_longer_interested`; `other` is `other`; every other reason is the agency's decision,
//! `agency_withdrew`, read back as `other`: the same reason the core gives the cancel
//! ([`CancelReason::status_reason`]).

use chrono::{DateTime, Days, NaiveDate, Utc};
use pathways_sdk::contact::{
    email_address, non_empty, one_line_address, opening_hours, phone_number, web_url,
};
use pathways_sdk::{
    CancelReason, Capacity, Eligibility, NeedCode, Offer, OfferLocation, PartnerError, Personal,
    Referral, ReferralReceipt, ReferralStatus, Route, ServiceChannel, ServiceContact, ServiceRef,
    StatusReason, TaskState,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Reads a text field; anything but a non-blank string (`null`, a number) reads as absent.
fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(text) if !text.trim().is_empty() => Some(text),
        _ => None,
    })
}

/// Reads a date; anything but a `YYYY-MM-DD` string reads as absent.
fn lenient_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok(),
        _ => None,
    })
}

/// Reads a list; anything but an array reads as empty.
fn lenient_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items,
        _ => Vec::new(),
    })
}

/// One food bank in a Give Food search answer (only the fields we use).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct DirectoryFoodbank {
    pub name: String,
    pub slug: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub postcode: Option<String>,
    #[serde(default)]
    pub closed: bool,
    /// Give Food documents it as a float; the live API sends an integer.
    #[serde(default)]
    pub distance_m: Option<f64>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub secondary_phone: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub email: Option<String>,
    /// Address lines, newline separated.
    #[serde(default, deserialize_with = "lenient_text")]
    pub address: Option<String>,
    /// `{self, html, homepage, shopping_list, map}`; only `homepage` is for clients.
    #[serde(default)]
    pub urls: Value,
}

/// The e-voucher desk's answer on capacity.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct VoucherAvailability {
    pub accepting_referrals: bool,
    #[serde(default)]
    pub vouchers_remaining_this_week: u32,
    #[serde(default, deserialize_with = "lenient_date")]
    pub next_session: Option<NaiveDate>,
    #[serde(default)]
    pub waitlist_weeks: u32,
    /// When parcels are handed out: `[{"days": ["tue"], "opens_at", "closes_at"}]`.
    #[serde(default, deserialize_with = "lenient_list")]
    pub sessions: Vec<Value>,
}

/// A voucher as the e-voucher API returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct VoucherAnswer {
    pub voucher_id: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub collect_from: Option<NaiveDate>,
    #[serde(default)]
    pub issued_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The referral body. Personal values stay in [`Personal`], which serialises as the value
/// and prints `[redacted]`, so this struct can be debugged without leaking.
#[derive(Debug, Serialize)]
pub(crate) struct VoucherRequest<'a> {
    pub foodbank: &'a str,
    pub agency: Agency<'a>,
    pub client: VoucherClient<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub household: Option<VoucherHousehold>,
    pub referral_reasons: Vec<&'static str>,
}

/// The referring agency on a voucher.
#[derive(Debug, Serialize)]
pub(crate) struct Agency<'a> {
    pub organisation: &'a str,
    pub reference: &'a str,
}

/// The client on a voucher: only fields the referral carries.
#[derive(Debug, Serialize)]
pub(crate) struct VoucherClient<'a> {
    pub full_name: &'a Personal<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year_of_birth: Option<&'a Personal<i32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<&'a Personal<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<&'a Personal<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a Personal<String>>,
    pub contact_via_agency: bool,
}

/// Household ages on a voucher (counts and ages are not identifying).
#[derive(Debug, Serialize)]
pub(crate) struct VoucherHousehold {
    pub adults: u8,
    pub children_ages: Vec<u8>,
}

/// The food banks worth asking about: open, within `max_distance_m`, nearest first, at most
/// `max_results`. An entry without a distance cannot be shown to be near, so it is left out.
pub(crate) fn nearby(
    list: Vec<DirectoryFoodbank>,
    max_distance_m: u32,
    max_results: usize,
) -> Vec<(DirectoryFoodbank, u32)> {
    let mut near: Vec<(DirectoryFoodbank, u32)> = list
        .into_iter()
        .filter(|fb| !fb.closed)
        .filter_map(|fb| {
            let metres = fb.distance_m.filter(|d| d.is_finite() && *d >= 0.0)?;
            (metres <= f64::from(max_distance_m)).then(|| (fb, metres.round() as u32))
        })
        .collect();
    near.sort_by_key(|(_, metres)| *metres);
    near.truncate(max_results);
    near
}

/// The offer for one food bank, asked about on `today`; `availability` is `None` when its
/// voucher desk did not answer.
pub(crate) fn offer(
    fb: &DirectoryFoodbank,
    distance_m: u32,
    availability: Option<&VoucherAvailability>,
    today: NaiveDate,
) -> Offer {
    // The desk's date is exact; a wait in weeks is the estimate when it gives none.
    let start = |a: &VoucherAvailability| {
        a.next_session.or_else(|| {
            let weeks = u64::from(a.waitlist_weeks.max(1));
            today.checked_add_days(Days::new(weeks * 7))
        })
    };
    let (capacity, earliest_start, wait) = match availability {
        None => (
            Capacity::Unknown,
            None,
            "capacity unknown: the voucher desk did not answer".to_string(),
        ),
        Some(a) if !a.accepting_referrals => {
            (Capacity::NoCapacity, None, "not taking referrals this week".to_string())
        }
        Some(a) if a.waitlist_weeks == 0 && a.vouchers_remaining_this_week > 0 => (
            Capacity::Capacity,
            a.next_session,
            format!(
                "{} vouchers left this week{}",
                a.vouchers_remaining_this_week,
                session_text(a.next_session)
            ),
        ),
        // Accepting, but this week's vouchers are gone or there is a queue: a wait.
        Some(a) => (
            Capacity::Waitlist,
            start(a),
            format!(
                "waiting list of about {} week(s){}",
                a.waitlist_weeks.max(1),
                session_text(a.next_session)
            ),
        ),
    };
    Offer {
        need: NeedCode::Food,
        service: ServiceRef { id: fb.slug.clone(), name: fb.name.clone() },
        eligibility: Eligibility::Eligible,
        capacity,
        earliest_start,
        wait_estimate: Some(wait),
        channel: Some(ServiceChannel::InPerson),
        location: Some(OfferLocation {
            name: fb.name.clone(),
            postcode: fb.postcode.clone(),
            distance_m: Some(distance_m),
        }),
        contact: contact(fb, availability),
        route: Some(Route::Refer),
    }
}

/// How to reach the food bank (see the module doc); `None` when nothing reads.
fn contact(
    fb: &DirectoryFoodbank,
    availability: Option<&VoucherAvailability>,
) -> Option<ServiceContact> {
    let phone =
        [&fb.phone, &fb.secondary_phone].into_iter().flatten().find_map(|p| phone_number(p));
    let homepage = fb.urls.get("homepage").and_then(Value::as_str);
    let sessions = availability.map_or(&[][..], |a| &a.sessions);
    let opening_hours = sessions
        .iter()
        .filter_map(|s| {
            let days = s.get("days").and_then(Value::as_array)?;
            let days = days.iter().map(|d| d.as_str().unwrap_or("?"));
            let time = |key: &str| s.get(key).and_then(Value::as_str).unwrap_or("");
            opening_hours(days, time("opens_at"), time("closes_at"))
        })
        .collect();
    non_empty(ServiceContact {
        phone,
        email: fb.email.as_deref().and_then(email_address),
        url: homepage.and_then(web_url),
        address: one_line_address([
            fb.address.as_deref().unwrap_or(""),
            fb.postcode.as_deref().unwrap_or(""),
        ]),
        opening_hours,
        how_to_apply: None,
    })
}

fn session_text(next_session: Option<NaiveDate>) -> String {
    next_session.map(|day| format!("; next session {day}")).unwrap_or_default()
}

/// The voucher reason for a need, if a food bank should hear of it. Health and abuse needs
/// never become reasons, whatever a referral carries.
fn referral_reason(need: NeedCode) -> Option<&'static str> {
    if need.is_special_category() {
        return None;
    }
    match need {
        NeedCode::Food => Some("food_insecurity"),
        NeedCode::DebtMoney => Some("debt"),
        NeedCode::FuelUtilities => Some("fuel_costs"),
        NeedCode::HousingHomelessness | NeedCode::HousingConditions => Some("housing"),
        NeedCode::EmploymentSkills => Some("low_income"),
        _ => None,
    }
}

/// The voucher body for `referral`, built only from the fields it carries.
pub(crate) fn voucher_request(referral: &Referral) -> Result<VoucherRequest<'_>, PartnerError> {
    let client = &referral.client;
    let Some(full_name) = client.name.as_ref() else {
        return Err(PartnerError::invalid_request(
            "a food bank voucher needs the client's name, and the referral does not carry it",
        ));
    };
    let mut reasons: Vec<&'static str> =
        referral.needs.iter().filter_map(|n| referral_reason(n.code)).collect();
    reasons.dedup();
    if reasons.is_empty() {
        return Err(PartnerError::invalid_request("the referral names no need a food bank serves"));
    }
    if referral.service.id.trim().is_empty() {
        return Err(PartnerError::invalid_request(
            "the referral's service id (the food bank's slug) is empty",
        ));
    }
    // Contact through the referrer: the food bank gets no way to reach the client directly.
    let direct = !client.contact_via_referrer;
    Ok(VoucherRequest {
        foodbank: &referral.service.id,
        agency: Agency {
            organisation: &referral.referrer.organisation,
            reference: &referral.case_reference,
        },
        client: VoucherClient {
            full_name,
            year_of_birth: client.year_of_birth.as_ref(),
            address: client.address.as_ref().filter(|_| direct),
            postcode: client.postcode.as_ref(),
            phone: client.phone.as_ref().filter(|_| direct),
            contact_via_agency: client.contact_via_referrer,
        },
        household: client
            .household
            .as_ref()
            .map(|h| VoucherHousehold { adults: h.adults, children_ages: h.children_ages.clone() }),
        referral_reasons: reasons,
    })
}

/// The body of `POST /evoucher/v1/referrals/{id}/cancel`: only the reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct VoucherCancel {
    pub reason: &'static str,
}

/// The cancel body for `reason`, in the desk's vocabulary (see the module doc).
pub(crate) fn voucher_cancel(reason: CancelReason) -> VoucherCancel {
    let reason = match reason {
        CancelReason::ConsentWithdrawn | CancelReason::NoLongerNeeded => "client_withdrew",
        CancelReason::Other => "other",
        CancelReason::HelpedElsewhere | CancelReason::SentInError | CancelReason::Rerouted => {
            "agency_withdrew"
        }
    };
    VoucherCancel { reason }
}

/// The receipt for a voucher the partner just created. An issued voucher is receipted as
/// `requested` (its acceptance is reported by the first status poll); one declined on arrival
/// is `rejected` at once, so nobody waits on it.
pub(crate) fn receipt(answer: &VoucherAnswer) -> ReferralReceipt {
    let state =
        if answer.status == "declined" { TaskState::Rejected } else { TaskState::Requested };
    ReferralReceipt {
        partner_reference: answer.voucher_id.clone(),
        state,
        received_at: answer.issued_at,
    }
}

/// A voucher's status as a FHIR Task state, with the reason FHIR requires.
pub(crate) fn status(answer: &VoucherAnswer, path: &str) -> Result<ReferralStatus, PartnerError> {
    let reason = answer.status_reason.as_deref().map(status_reason);
    let (state, reason, note) = match answer.status.as_str() {
        "issued" => (
            TaskState::Accepted,
            None,
            Some(match answer.collect_from {
                Some(day) => format!("voucher issued; collect from {day}"),
                None => "voucher issued".to_string(),
            }),
        ),
        "redeemed" => (TaskState::Completed, None, Some("food parcel collected".to_string())),
        "expired" => (
            TaskState::Failed,
            Some(StatusReason::CouldNotContact),
            Some("voucher expired before it was collected".to_string()),
        ),
        "cancelled" => (TaskState::Cancelled, Some(reason.unwrap_or(StatusReason::Other)), None),
        "declined" => (TaskState::Rejected, Some(reason.unwrap_or(StatusReason::Other)), None),
        _ => {
            return Err(PartnerError::permanent(format!(
                "partner reported a voucher status this connector does not know at `{path}`"
            )))
        }
    };
    Ok(ReferralStatus { state, reason, note, updated_at: answer.updated_at.or(answer.issued_at) })
}

/// The core reason for a voucher's decline or cancellation reason.
fn status_reason(reason: &str) -> StatusReason {
    match reason {
        "no_capacity" => StatusReason::NoCapacity,
        "out_of_area" => StatusReason::OutOfArea,
        "not_eligible" => StatusReason::NotEligible,
        "missing_information" => StatusReason::MissingInformation,
        "client_withdrew" => StatusReason::NoLongerInterested,
        _ => StatusReason::Other,
    }
}
