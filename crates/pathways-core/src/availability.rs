//! What the orchestrator asks a partner before referring, and what the partner offers back.
//!
//! The query carries no identifying facts: needs, urgency, area, the postcode district, an age
//! band and the household's shape. A partner can say whether it can help without learning who
//! is asking.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::case::{Case, Circumstance, Household};
use crate::need::{NeedCode, Urgency};

/// "Could you help someone like this?" sent to every relevant partner at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AvailabilityQuery {
    /// The needs this partner is asked about (only those it serves).
    pub needs: Vec<NeedRequest>,
    /// ONS code of the client's local authority.
    pub local_authority: String,
    /// Outward code of the client's postcode, e.g. `W10`.
    pub postcode_district: String,
    /// The client's age band.
    pub age_band: AgeBand,
    /// Who lives with the client: counts and ages only.
    pub household: Household,
    /// Facts that change eligibility.
    #[serde(default)]
    pub circumstances: Vec<Circumstance>,
    /// ISO 639-1 language the client prefers.
    pub preferred_language: String,
    /// The day the plan is made; connectors compute waits from it, not from the clock.
    pub today: NaiveDate,
}

impl AvailabilityQuery {
    /// The query for `case`, restricted to `needs` (the ones the partner serves).
    pub fn for_case(case: &Case, needs: &[NeedCode], today: NaiveDate) -> Self {
        Self {
            needs: case
                .needs
                .iter()
                .filter(|n| needs.contains(&n.code))
                .map(|n| NeedRequest { code: n.code, urgency: n.urgency })
                .collect(),
            local_authority: case.client.local_authority.clone(),
            postcode_district: case.postcode_district(),
            age_band: AgeBand::of_age(case.client_age(today)),
            household: case.client.household.clone(),
            circumstances: case.circumstances.clone(),
            preferred_language: case.client.preferred_language.clone(),
            today,
        }
    }
}

/// One need in a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NeedRequest {
    /// Which need.
    pub code: NeedCode,
    /// How soon.
    pub urgency: Urgency,
}

/// An age band: enough for eligibility rules, not enough to identify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum AgeBand {
    /// Under 18.
    #[serde(rename = "under_18")]
    Under18,
    /// 18 to 24.
    #[serde(rename = "18_24")]
    From18To24,
    /// 25 to 34.
    #[serde(rename = "25_34")]
    From25To34,
    /// 35 to 49.
    #[serde(rename = "35_49")]
    From35To49,
    /// 50 to 64.
    #[serde(rename = "50_64")]
    From50To64,
    /// 65 to 74.
    #[serde(rename = "65_74")]
    From65To74,
    /// 75 and over.
    #[serde(rename = "75_plus")]
    From75,
}

impl AgeBand {
    /// The band of an age in years.
    pub fn of_age(age: u32) -> Self {
        match age {
            0..=17 => AgeBand::Under18,
            18..=24 => AgeBand::From18To24,
            25..=34 => AgeBand::From25To34,
            35..=49 => AgeBand::From35To49,
            50..=64 => AgeBand::From50To64,
            65..=74 => AgeBand::From65To74,
            _ => AgeBand::From75,
        }
    }

    /// Youngest and oldest age in the band (the last band ends at 130).
    pub fn bounds(self) -> (u32, u32) {
        match self {
            AgeBand::Under18 => (0, 17),
            AgeBand::From18To24 => (18, 24),
            AgeBand::From25To34 => (25, 34),
            AgeBand::From35To49 => (35, 49),
            AgeBand::From50To64 => (50, 64),
            AgeBand::From65To74 => (65, 74),
            AgeBand::From75 => (75, 130),
        }
    }
}

/// A partner's answer: what it can offer for each need it was asked about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Availability {
    /// Zero or more offers per need; no offer for a need means "we cannot help with it".
    pub offers: Vec<Offer>,
}

/// One service a partner could provide for one need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Offer {
    /// The need it meets.
    pub need: NeedCode,
    /// The partner's service.
    pub service: ServiceRef,
    /// Whether the client qualifies.
    pub eligibility: Eligibility,
    /// Whether the service can take the client now.
    pub capacity: Capacity,
    /// The first day the client could be seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_start: Option<NaiveDate>,
    /// The partner's own words on the wait, e.g. "~15 on waitlist; 4-6 weeks".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_estimate: Option<String>,
    /// How the service is delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<ServiceChannel>,
    /// Where, and how far from the client's postcode district.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<OfferLocation>,
    /// How the client takes this service up. Absent (a plugin built before routes existed):
    /// `refer` when the partner's manifest declares the `referral` capability, otherwise
    /// `self_help` for an online service and `signpost` for the rest (see [`Offer::route_for`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    /// How to reach the service, from what the partner publishes (public details only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ServiceContact>,
}

impl Offer {
    /// The route this offer is taken up by: its own, else what the partner's capabilities and
    /// the channel imply. A partner without the `referral` capability is never `refer`,
    /// whatever the offer says.
    pub fn route_for(&self, takes_referrals: bool) -> Route {
        match self.route {
            Some(Route::Refer) | None if takes_referrals => Route::Refer,
            Some(Route::Refer) | None if self.channel == Some(ServiceChannel::Online) => {
                Route::SelfHelp
            }
            Some(Route::Refer) | None => Route::Signpost,
            Some(route) => route,
        }
    }
}

/// How a client takes up an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// The partner takes referrals for this service through its API.
    Refer,
    /// The client contacts the service directly.
    Signpost,
    /// The client uses it on their own (a website, a tool).
    SelfHelp,
}

/// How to reach a service: its public contact details, as the partner publishes them (HSDS
/// `phones`/`contacts`/`schedules`, Give Food `phone`/`address`/`urls`, FHIR
/// `HealthcareService.telecom`/`availableTime`). Never a person's private details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServiceContact {
    /// Telephone number, as a client would dial it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Web address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Postal address of the venue, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// When it is open; empty when the partner does not say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub opening_hours: Vec<OpeningHours>,
    /// How to apply or get in touch, in the partner's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how_to_apply: Option<String>,
}

impl ServiceContact {
    /// Whether it says anything at all.
    pub fn is_empty(&self) -> bool {
        self == &ServiceContact::default()
    }
}

/// One opening period: these days, from `opens` to `closes` (local time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OpeningHours {
    /// The days it applies to.
    pub days: Vec<Weekday>,
    /// Opening time, `HH:MM`.
    pub opens: chrono::NaiveTime,
    /// Closing time, `HH:MM`.
    pub closes: chrono::NaiveTime,
}

/// A day of the week (FHIR `daysOfWeek` spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

/// The spellings [`Weekday::parse`] reads, Monday first.
const DAY_WORDS: [[&str; 7]; 3] = [
    ["mo", "tu", "we", "th", "fr", "sa", "su"],
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
];

impl Weekday {
    /// Every day, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// From an iCalendar `BYDAY` code (`MO`), a FHIR code (`mon`) or a day's name
    /// (`Monday`), any case; nothing else (`1MO`, monthly, or `Mob` is not Monday).
    pub fn parse(code: &str) -> Option<Weekday> {
        let code = code.trim().to_ascii_lowercase();
        let index = DAY_WORDS.iter().find_map(|words| words.iter().position(|w| *w == code))?;
        Weekday::ALL.get(index).copied()
    }

    /// The chrono weekday.
    pub fn to_chrono(self) -> chrono::Weekday {
        match self {
            Weekday::Mon => chrono::Weekday::Mon,
            Weekday::Tue => chrono::Weekday::Tue,
            Weekday::Wed => chrono::Weekday::Wed,
            Weekday::Thu => chrono::Weekday::Thu,
            Weekday::Fri => chrono::Weekday::Fri,
            Weekday::Sat => chrono::Weekday::Sat,
            Weekday::Sun => chrono::Weekday::Sun,
        }
    }
}

/// A wait said in words ("4-6 weeks", "about 6 to 8 weeks", "10 days", "2–3 months") as the
/// shortest wait in days, so a connector can turn a partner's capacity note into an
/// `earliest_start`. `None` when the words hold no such wait, or only an upper bound ("within
/// 2 weeks", "up to 10 days"): the client may be seen sooner, so no start is known.
pub fn parse_wait_days(text: &str) -> Option<u32> {
    let lower = text.to_ascii_lowercase();
    const BOUNDS: [&str; 6] =
        ["within", "up to", "less than", "no more than", "at most", "by the end"];
    if BOUNDS.iter().any(|b| lower.contains(b)) {
        return None;
    }
    let words: Vec<&str> =
        lower.split(|c: char| !(c.is_ascii_alphanumeric())).filter(|w| !w.is_empty()).collect();
    for (i, word) in words.iter().enumerate() {
        let Ok(first) = word.parse::<u32>() else { continue };
        // The unit is the first unit word within the next three words ("4 to 6 weeks").
        let unit = words[i + 1..].iter().take(3).find_map(|w| match *w {
            "day" | "days" => Some(1),
            "week" | "weeks" | "wk" | "wks" => Some(7),
            "month" | "months" => Some(30),
            _ => None,
        });
        if let Some(days) = unit {
            return first.checked_mul(days);
        }
    }
    None
}

/// A partner's service, by its id and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServiceRef {
    /// The partner's id for the service.
    pub id: String,
    /// A name a client would recognise.
    pub name: String,
}

/// Whether the client qualifies for a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Eligibility {
    /// The client qualifies.
    Eligible,
    /// The client does not qualify, and why.
    NotEligible {
        /// In words a pathfinder can read aloud.
        reason: String,
    },
    /// The partner cannot tell without more information.
    Unknown,
}

/// Whether a service can take the client now (HL7 Gravity capacity status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Capacity {
    /// Can take the client.
    Capacity,
    /// Has a waiting list.
    Waitlist,
    /// Needs its own assessment first.
    AssessmentRequired,
    /// The partner did not say.
    Unknown,
    /// Cannot take anyone now.
    NoCapacity,
}

/// How a service is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ServiceChannel {
    /// The client goes there.
    InPerson,
    /// By telephone.
    Phone,
    /// Online or by video.
    Online,
    /// Someone visits the client.
    HomeVisit,
    /// Delivered to the client.
    Delivery,
}

/// Where a service is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OfferLocation {
    /// The venue's name.
    pub name: String,
    /// The venue's postcode (a public address, not the client's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    /// Straight-line distance from the client's postcode district, in metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_in_words_become_the_shortest_wait_in_days() {
        assert_eq!(parse_wait_days("~15 on waitlist; 4-6 weeks"), Some(28));
        assert_eq!(parse_wait_days("About 6 to 8 weeks"), Some(42));
        assert_eq!(parse_wait_days("2–3 months"), Some(60));
        assert_eq!(parse_wait_days("next session in 10 days"), Some(10));
        assert_eq!(parse_wait_days("1 week"), Some(7));
        assert_eq!(parse_wait_days("vouchers this week"), None);
        assert_eq!(parse_wait_days("15 on the list"), None);
        assert_eq!(parse_wait_days("within 2 weeks"), None, "an upper bound is no start date");
        assert_eq!(parse_wait_days("up to 10 days"), None);
    }

    #[test]
    fn the_route_follows_the_offer_but_never_refers_to_a_partner_without_referrals() {
        let mut offer: Offer = serde_json::from_value(serde_json::json!({
            "need": "food", "service": {"id": "s", "name": "S"},
            "eligibility": {"status": "eligible"}, "capacity": "capacity"
        }))
        .unwrap();
        assert_eq!(offer.route_for(true), Route::Refer);
        assert_eq!(offer.route_for(false), Route::Signpost);
        offer.route = Some(Route::Signpost);
        assert_eq!(offer.route_for(true), Route::Signpost);
        offer.route = Some(Route::Refer);
        assert_eq!(offer.route_for(false), Route::Signpost);
        offer.channel = Some(ServiceChannel::Online);
        assert_eq!(offer.route_for(false), Route::SelfHelp);
        offer.route = None;
        assert_eq!(offer.route_for(true), Route::Refer);
    }

    #[test]
    fn days_read_from_ical_and_fhir_codes() {
        assert_eq!(Weekday::parse("MO"), Some(Weekday::Mon));
        assert_eq!(Weekday::parse("sun"), Some(Weekday::Sun));
        assert_eq!(Weekday::parse("Thursday"), Some(Weekday::Thu));
        for not_a_day in ["x", "Mob", "1MO", "tues", ""] {
            assert_eq!(Weekday::parse(not_a_day), None, "{not_a_day}");
        }
    }
}
