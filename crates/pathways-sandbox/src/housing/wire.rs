//! The Duty to Refer API's wire shapes: the referral body a housing authority accepts (strictly:
//! every object refuses unknown fields, so notes or health details are turned away with 400),
//! and the receipt, referral view and statistics it answers with.
//!
//! Error messages name fields, never their values, because a value may be personal.

use std::collections::BTreeMap;

use crate::idempotency::PostCounts;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A Duty to Refer referral as the API accepts it: what s.213B asks for and nothing more.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DtrRequest {
    /// ONS code of the housing authority the client chose.
    pub chosen_authority: String,
    /// Who refers, and under which duty.
    pub referring_agency: ReferringAgency,
    /// The person referred: name and contact details.
    pub client: DtrClient,
    /// The reason agreed with the client.
    pub reason: DtrReason,
    /// The consent s.213B requires before a referral.
    pub consent: DtrConsent,
    /// Who lives with the client (counts and ages only).
    #[serde(default)]
    pub household: Option<DtrHousehold>,
}

/// The organisation making the referral.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReferringAgency {
    /// The organisation's id.
    pub organisation: String,
    /// The worker's id within it (not their name).
    #[serde(default)]
    pub worker: Option<String>,
    /// The organisation's own case reference.
    pub case_reference: String,
    /// Whether the organisation refers under the statutory duty or voluntarily.
    pub referral_type: ReferralType,
    /// Which specified public authority, for a `duty_to_refer` referral.
    #[serde(default)]
    pub public_authority: Option<PublicAuthority>,
    /// How the authority reaches the referrer (a team telephone or shared mailbox); required
    /// when the client is to be contacted through the referrer.
    #[serde(default)]
    pub contact: Option<String>,
}

/// Under which footing a referral is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReferralType {
    /// A specified public authority discharging its s.213B duty.
    DutyToRefer,
    /// Any other organisation (a charity, Citizens Advice) referring with consent.
    Voluntary,
}

/// The public authorities the Homelessness (Review Procedure etc.) Regulations 2018 specify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PublicAuthority {
    Prison,
    YouthOffenderInstitution,
    SecureTrainingCentre,
    SecureCollege,
    YouthOffendingTeam,
    Probation,
    JobcentrePlus,
    EmergencyDepartment,
    UrgentTreatmentCentre,
    HospitalInpatient,
    SocialServices,
    RegularArmedForces,
}

/// The client's name and contact details.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DtrClient {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub postcode: Option<String>,
    /// The authority contacts the client only through the referrer.
    #[serde(default)]
    pub contact_via_referrer: bool,
}

/// The agreed reason for the referral (s.213B(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DtrReason {
    /// Homeless now: the relief duty.
    Homeless,
    /// Threatened with homelessness within 56 days: the prevention duty.
    #[serde(rename = "threatened_with_homelessness_within_56_days")]
    ThreatenedWithHomelessnessWithin56Days,
}

/// The consent record.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DtrConsent {
    pub consent_to_refer: bool,
    pub consent_to_share_contact: bool,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

/// Household counts and ages.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DtrHousehold {
    pub adults: u8,
    #[serde(default)]
    pub children_ages: Vec<u8>,
}

/// Where a referral is at the authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DtrStatus {
    /// Arrived, not yet triaged.
    Received,
    /// A case is open under the prevention or relief duty.
    Accepted,
    /// Assessment done; a personalised housing plan is being carried out.
    InProgress,
    /// The case is closed, with an outcome.
    Closed,
    /// The authority will not open a case, with a reason.
    Declined,
    /// The referrer withdrew the referral, with a reason.
    Withdrawn,
}

impl DtrStatus {
    /// The wire spelling, e.g. `in_progress`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DtrStatus::Received => "received",
            DtrStatus::Accepted => "accepted",
            DtrStatus::InProgress => "in_progress",
            DtrStatus::Closed => "closed",
            DtrStatus::Declined => "declined",
            DtrStatus::Withdrawn => "withdrawn",
        }
    }
}

/// Why the referrer withdraws a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WithdrawalReason {
    /// The client withdrew their consent to the referral.
    ConsentWithdrawn,
    /// The client no longer needs the authority's help.
    NoLongerNeeded,
    /// The client is being helped by someone else.
    AssistedElsewhere,
    /// The client was referred to another authority or service instead.
    ReferredElsewhere,
    /// The referral should not have been made (wrong client, wrong authority).
    ReferredInError,
    /// Anything else.
    Other,
}

/// The body of a withdrawal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WithdrawalRequest {
    pub reason: WithdrawalReason,
}

/// The duty a case is opened under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Duty {
    /// s.195: stop the client losing their home.
    Prevention,
    /// s.189B: help the client find somewhere to live.
    Relief,
}

/// How a closed case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    HomelessnessPrevented,
    HomelessnessRelieved,
    CouldNotContact,
}

/// Why a referral was declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DeclineReason {
    /// Not eligible for assistance (e.g. immigration status).
    NotEligible,
    /// Passed to the authority where the client has a local connection (s.198(A1)).
    NoLocalConnection,
    /// The authority's referral intake is closed.
    NotAcceptingReferrals,
}

/// The answer to a referral POST.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Receipt {
    pub referral_id: String,
    pub authority: &'static str,
    pub received_at: DateTime<Utc>,
    pub status: DtrStatus,
}

/// A referral as `GET /dtr/v1/referrals/{id}` shows it: ids, dates and state; nothing personal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ReferralView {
    pub referral_id: String,
    pub authority: &'static str,
    pub status: DtrStatus,
    pub duty: Option<Duty>,
    pub outcome: Option<Outcome>,
    pub reason: Option<DeclineReason>,
    pub withdrawal_reason: Option<WithdrawalReason>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Counts of referral POSTs to the housing simulator, for exactly-once tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HousingStats {
    /// Every `POST /dtr/v1/referrals` received, including those answered by an injected fault
    /// and those refused.
    pub total_posts: u64,
    /// Distinct `Idempotency-Key` values among those POSTs.
    pub distinct_keys: u64,
    /// Referrals recorded (received or declined); a repeated key never records another.
    pub referrals_created: u64,
    /// Referrals withdrawn through `POST /dtr/v1/referrals/{id}/withdraw` (a repeated
    /// withdrawal counts once).
    #[serde(default)]
    pub referrals_withdrawn: u64,
    /// POSTs received per `Idempotency-Key`.
    pub posts_per_key: BTreeMap<String, u64>,
}

impl PostCounts for HousingStats {
    fn post_counters(&mut self) -> (&mut u64, &mut u64, &mut BTreeMap<String, u64>) {
        (&mut self.total_posts, &mut self.distinct_keys, &mut self.posts_per_key)
    }
}

/// Checks what the types cannot; the error is a code and a message naming the field, never
/// its value.
pub(crate) fn validate(
    request: &DtrRequest,
    now: DateTime<Utc>,
) -> Result<(), (&'static str, String)> {
    let missing = |field: &str, why: &str| ("missing_information", format!("`{field}`: {why}"));
    let consent = &request.consent;
    if !consent.consent_to_refer {
        return Err((
            "consent_required",
            "`consent.consent_to_refer`: the client must agree to the referral (s.213B(3))".into(),
        ));
    }
    if !consent.consent_to_share_contact {
        return Err((
            "consent_required",
            "`consent.consent_to_share_contact`: the client must agree to their contact details being shared".into(),
        ));
    }
    if consent.recorded_by.trim().is_empty() {
        return Err(missing("consent.recorded_by", "must name who recorded consent"));
    }
    if consent.recorded_at > now + Duration::minutes(5) {
        return Err(("invalid_value", "`consent.recorded_at`: is in the future".into()));
    }
    let agency = &request.referring_agency;
    if agency.organisation.trim().is_empty() {
        return Err(missing("referring_agency.organisation", "must not be empty"));
    }
    if agency.case_reference.trim().is_empty() {
        return Err(missing("referring_agency.case_reference", "must not be empty"));
    }
    if agency.referral_type == ReferralType::DutyToRefer && agency.public_authority.is_none() {
        return Err(missing(
            "referring_agency.public_authority",
            "a `duty_to_refer` referral names the specified public authority",
        ));
    }
    let client = &request.client;
    if client.name.trim().is_empty() {
        return Err(missing("client.name", "must not be empty"));
    }
    let given = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.trim().is_empty());
    if client.contact_via_referrer {
        if !given(&agency.contact) {
            return Err(missing(
                "referring_agency.contact",
                "needed when `client.contact_via_referrer` is true",
            ));
        }
    } else if !given(&client.phone) && !given(&client.email) {
        return Err(missing(
            "client.phone",
            "give `client.phone` or `client.email`, or set `client.contact_via_referrer`",
        ));
    }
    if let Some(household) = &request.household {
        if household.adults == 0 {
            return Err(("invalid_value", "`household.adults`: at least 1".into()));
        }
        if let Some(i) = household.children_ages.iter().position(|&age| age > 17) {
            return Err((
                "invalid_value",
                format!("`household.children_ages[{i}]`: a child is under 18"),
            ));
        }
    }
    Ok(())
}
