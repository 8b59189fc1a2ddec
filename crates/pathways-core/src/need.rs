//! Need codes and urgencies: the canonical vocabulary every partner and plan shares.

use std::fmt;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

/// One kind of need a client can present with (the canonical list in DOMAIN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum NeedCode {
    /// Not enough food.
    Food,
    /// Debt, benefits, money.
    DebtMoney,
    /// Homeless or threatened with homelessness.
    HousingHomelessness,
    /// Disrepair, damp, unsafe housing.
    HousingConditions,
    /// Energy and water.
    FuelUtilities,
    /// Mental health.
    MentalHealth,
    /// Domestic abuse.
    DomesticAbuse,
    /// Safeguarding of an adult or a child.
    Safeguarding,
    /// Drugs and alcohol.
    SubstanceUse,
    /// Physical health and disability.
    PhysicalHealthDisability,
    /// Loneliness and isolation.
    SocialIsolation,
    /// Work and skills.
    EmploymentSkills,
    /// Digital access and skills.
    Digital,
    /// Getting about.
    Transport,
    /// Legal advice and immigration.
    LegalImmigration,
    /// Care for the client or by the client as a carer.
    CarerCare,
    /// Family and children.
    FamilyChildren,
}

impl NeedCode {
    /// Every need code, in the canonical order.
    pub const ALL: [NeedCode; 17] = [
        NeedCode::Food,
        NeedCode::DebtMoney,
        NeedCode::HousingHomelessness,
        NeedCode::HousingConditions,
        NeedCode::FuelUtilities,
        NeedCode::MentalHealth,
        NeedCode::DomesticAbuse,
        NeedCode::Safeguarding,
        NeedCode::SubstanceUse,
        NeedCode::PhysicalHealthDisability,
        NeedCode::SocialIsolation,
        NeedCode::EmploymentSkills,
        NeedCode::Digital,
        NeedCode::Transport,
        NeedCode::LegalImmigration,
        NeedCode::CarerCare,
        NeedCode::FamilyChildren,
    ];

    /// The wire spelling, e.g. `housing_homelessness`.
    pub fn as_str(self) -> &'static str {
        match self {
            NeedCode::Food => "food",
            NeedCode::DebtMoney => "debt_money",
            NeedCode::HousingHomelessness => "housing_homelessness",
            NeedCode::HousingConditions => "housing_conditions",
            NeedCode::FuelUtilities => "fuel_utilities",
            NeedCode::MentalHealth => "mental_health",
            NeedCode::DomesticAbuse => "domestic_abuse",
            NeedCode::Safeguarding => "safeguarding",
            NeedCode::SubstanceUse => "substance_use",
            NeedCode::PhysicalHealthDisability => "physical_health_disability",
            NeedCode::SocialIsolation => "social_isolation",
            NeedCode::EmploymentSkills => "employment_skills",
            NeedCode::Digital => "digital",
            NeedCode::Transport => "transport",
            NeedCode::LegalImmigration => "legal_immigration",
            NeedCode::CarerCare => "carer_care",
            NeedCode::FamilyChildren => "family_children",
        }
    }

    /// A short phrase for reading aloud, e.g. "somewhere safe to live".
    pub fn describe(self) -> &'static str {
        match self {
            NeedCode::Food => "food",
            NeedCode::DebtMoney => "debt and money",
            NeedCode::HousingHomelessness => "somewhere to live",
            NeedCode::HousingConditions => "housing conditions",
            NeedCode::FuelUtilities => "energy and water bills",
            NeedCode::MentalHealth => "mental health",
            NeedCode::DomesticAbuse => "safety from abuse",
            NeedCode::Safeguarding => "safeguarding",
            NeedCode::SubstanceUse => "drugs and alcohol",
            NeedCode::PhysicalHealthDisability => "physical health and disability",
            NeedCode::SocialIsolation => "loneliness",
            NeedCode::EmploymentSkills => "work and skills",
            NeedCode::Digital => "getting online",
            NeedCode::Transport => "transport",
            NeedCode::LegalImmigration => "legal and immigration advice",
            NeedCode::CarerCare => "care and support",
            NeedCode::FamilyChildren => "family and children",
        }
    }

    /// Needs where someone may be in danger: planned first, whatever their stated urgency.
    pub fn is_safety(self) -> bool {
        matches!(self, NeedCode::DomesticAbuse | NeedCode::Safeguarding)
    }

    /// Needs whose details are health or abuse information, never shared beyond a service
    /// that exists to help with them.
    pub fn is_special_category(self) -> bool {
        matches!(
            self,
            NeedCode::MentalHealth
                | NeedCode::DomesticAbuse
                | NeedCode::Safeguarding
                | NeedCode::SubstanceUse
                | NeedCode::PhysicalHealthDisability
        )
    }
}

impl fmt::Display for NeedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How soon a need must be met (DOMAIN.md). Ordered from most to least urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Same day: nowhere to sleep tonight, immediate danger.
    Emergency,
    /// Within 3 days.
    Urgent,
    /// Within 14 days.
    Soon,
    /// No deadline beyond ordinary service times (we plan for 28 days).
    Routine,
}

impl Urgency {
    /// Days from today within which the need should be met.
    pub fn days(self) -> u64 {
        match self {
            Urgency::Emergency => 0,
            Urgency::Urgent => 3,
            Urgency::Soon => 14,
            Urgency::Routine => 28,
        }
    }

    /// The date by which a need of this urgency, raised on `today`, should be met.
    pub fn due_by(self, today: NaiveDate) -> NaiveDate {
        today.checked_add_days(Days::new(self.days())).unwrap_or(NaiveDate::MAX)
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Emergency => "emergency",
            Urgency::Urgent => "urgent",
            Urgency::Soon => "soon",
            Urgency::Routine => "routine",
        }
    }
}

impl fmt::Display for Urgency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_spelling_matches_serde() {
        for code in NeedCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn emergency_is_due_today_and_urgent_in_three_days() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert_eq!(Urgency::Emergency.due_by(today), today);
        assert_eq!(Urgency::Urgent.due_by(today), NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert!(Urgency::Emergency < Urgency::Routine);
    }
}
