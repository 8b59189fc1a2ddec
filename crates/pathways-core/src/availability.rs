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
