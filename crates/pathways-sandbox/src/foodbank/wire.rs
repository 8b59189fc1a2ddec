//! The e-voucher API's wire shapes: the referral body the food bank accepts (strictly: every
//! object refuses unknown fields, so health or abuse notes are turned away with 400), and the
//! voucher, statuses and statistics it answers with.
//!
//! Error messages name fields, never their values, because a value may be personal.

use std::collections::BTreeMap;

use crate::idempotency::PostCounts;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A referral as the e-voucher API accepts it: only the fields a food bank uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoucherRequest {
    /// Slug of the food bank (as in the directory).
    pub foodbank: String,
    /// The referral agency.
    pub agency: Agency,
    /// The person the voucher is for.
    pub client: VoucherClient,
    /// Who the parcel feeds.
    #[serde(default)]
    pub household: Option<VoucherHousehold>,
    /// Why the person needs food (at least one).
    pub referral_reasons: Vec<ReferralReason>,
    /// Diet the parcel must respect.
    #[serde(default)]
    pub dietary_requirements: Vec<DietaryRequirement>,
    /// Non-food items wanted in the parcel.
    #[serde(default)]
    pub extra_items: Vec<ExtraItem>,
}

/// The agency making the referral.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Agency {
    /// The agency's id.
    pub organisation: String,
    /// The agency's own case reference.
    pub reference: String,
}

/// The client's details on a voucher.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoucherClient {
    pub full_name: String,
    #[serde(default)]
    pub year_of_birth: Option<i32>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub postcode: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// The food bank contacts the client only through the agency.
    #[serde(default)]
    pub contact_via_agency: bool,
}

/// Household ages.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoucherHousehold {
    pub adults: u8,
    #[serde(default)]
    pub children_ages: Vec<u8>,
}

/// Why a person needs a food parcel (codes, never free text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReferralReason {
    FoodInsecurity,
    LowIncome,
    Debt,
    BenefitDelay,
    BenefitChange,
    FuelCosts,
    Housing,
    Other,
}

/// Diets a parcel can respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DietaryRequirement {
    Vegetarian,
    Vegan,
    Halal,
    Kosher,
    GlutenFree,
    LactoseFree,
    NutAllergy,
}

/// Non-food items a parcel can include.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ExtraItem {
    Nappies,
    BabyFormula,
    PetFood,
    Toiletries,
    SanitaryProducts,
    KettlePack,
}

/// Where a voucher is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoucherStatus {
    /// Issued: the client can collect a parcel.
    Issued,
    /// The client collected the parcel.
    Redeemed,
    /// Not collected before it ran out.
    Expired,
    /// Withdrawn by the agency, the client or the food bank.
    Cancelled,
    /// The food bank would not issue it.
    Declined,
}

impl VoucherStatus {
    /// The wire spelling, e.g. `redeemed`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VoucherStatus::Issued => "issued",
            VoucherStatus::Redeemed => "redeemed",
            VoucherStatus::Expired => "expired",
            VoucherStatus::Cancelled => "cancelled",
            VoucherStatus::Declined => "declined",
        }
    }
}

/// Why a voucher was declined or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoucherReason {
    /// No vouchers left.
    NoCapacity,
    /// The client lives outside the food bank's area.
    OutOfArea,
    /// The client does not qualify.
    NotEligible,
    /// The referral lacked something the food bank needs.
    MissingInformation,
    /// The client withdrew.
    ClientWithdrew,
    /// The agency withdrew the referral.
    AgencyWithdrew,
    /// Anything else.
    Other,
}

/// A voucher as the API shows it: ids, dates and state; nothing personal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Voucher {
    pub voucher_id: String,
    pub foodbank: String,
    pub status: VoucherStatus,
    pub status_reason: Option<VoucherReason>,
    pub agency_reference: String,
    pub collect_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    pub issued_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Counts of referral POSTs, for exactly-once tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralStats {
    /// Every `POST /evoucher/v1/referrals` received, including those answered by an injected
    /// fault and those refused.
    pub total_posts: u64,
    /// Distinct `Idempotency-Key` values among those POSTs.
    pub distinct_keys: u64,
    /// Vouchers created (issued or declined); a repeated key never creates another.
    pub vouchers_created: u64,
    /// Vouchers cancelled through `POST /evoucher/v1/referrals/{id}/cancel` (a repeated
    /// cancel counts once).
    #[serde(default)]
    pub vouchers_cancelled: u64,
    /// POSTs received per `Idempotency-Key`.
    pub posts_per_key: BTreeMap<String, u64>,
}

impl PostCounts for ReferralStats {
    fn post_counters(&mut self) -> (&mut u64, &mut u64, &mut BTreeMap<String, u64>) {
        (&mut self.total_posts, &mut self.distinct_keys, &mut self.posts_per_key)
    }
}

/// Checks what the types cannot; the error names the field, never its value.
pub(crate) fn validate(
    request: &VoucherRequest,
    today: NaiveDate,
) -> Result<(), (&'static str, String)> {
    let missing = |field: &str, why: &str| ("missing_information", format!("`{field}`: {why}"));
    if request.client.full_name.trim().is_empty() {
        return Err(missing("client.full_name", "must not be empty"));
    }
    if request.agency.organisation.trim().is_empty() {
        return Err(missing("agency.organisation", "must not be empty"));
    }
    if request.referral_reasons.is_empty() {
        return Err(missing("referral_reasons", "give at least one reason"));
    }
    if !request.client.contact_via_agency
        && request.client.phone.as_deref().is_none_or(|p| p.trim().is_empty())
    {
        return Err(missing("client.phone", "needed unless `contact_via_agency` is true"));
    }
    if let Some(year) = request.client.year_of_birth {
        if !(1900..=today.year()).contains(&year) {
            return Err(("invalid_value", "`client.year_of_birth`: not a plausible year".into()));
        }
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
