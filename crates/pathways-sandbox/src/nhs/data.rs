//! The seeded world of the NHS simulator: fictional NHS and NHS-commissioned services in the
//! three seeded areas, as a service directory would list them.
//!
//! - Kensington and Chelsea (E09000020): every kind of service, NHS Talking Therapies with a
//!   waiting list, a falls service that needs a clinician's assessment first.
//! - Shropshire (E06000051): talking therapies with room, social prescribing with a short
//!   waiting list, a drug and alcohol service that is full, a falls service with room.
//! - Barrow-in-Furness (E07000027): sparse. Talking therapies with a long wait and a full falls
//!   service; no social prescribing and no drug and alcohol service (no provider for those).
//!
//! Every name, identifier and telephone number (Ofcom drama ranges) here is invented.

/// HL7 `service-category` codes (terminology.hl7.org) the seeded services use.
pub(crate) mod category {
    /// `22` Mental Health.
    pub const MENTAL_HEALTH: (&str, &str) = ("22", "Mental Health");
    /// `12` Drug/Alcohol.
    pub const DRUG_ALCOHOL: (&str, &str) = ("12", "Drug/Alcohol");
    /// `32` Support Group/s.
    pub const SUPPORT_GROUPS: (&str, &str) = ("32", "Support Group/s");
    /// `7` Community Health Care.
    pub const COMMUNITY_HEALTH: (&str, &str) = ("7", "Community Health Care");
    /// `34` Allied Health.
    pub const ALLIED_HEALTH: (&str, &str) = ("34", "Allied Health");
    /// `2` Aged Care.
    pub const AGED_CARE: (&str, &str) = ("2", "Aged Care");
}

/// A service's seeded capacity (the Gravity SDOH capacity status codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeedCapacity {
    /// `capacity`
    Capacity,
    /// `no-capacity`
    NoCapacity,
    /// `waitlist`
    Waitlist,
    /// `additional-assessment-required`
    AssessmentRequired,
}

impl SeedCapacity {
    /// The SDOHCC code.
    pub(crate) fn code(self) -> &'static str {
        match self {
            SeedCapacity::Capacity => "capacity",
            SeedCapacity::NoCapacity => "no-capacity",
            SeedCapacity::Waitlist => "waitlist",
            SeedCapacity::AssessmentRequired => "additional-assessment-required",
        }
    }

    /// The SDOHCC display.
    pub(crate) fn display(self) -> &'static str {
        match self {
            SeedCapacity::Capacity => "Capacity",
            SeedCapacity::NoCapacity => "No Capacity",
            SeedCapacity::Waitlist => "Waitlist",
            SeedCapacity::AssessmentRequired => "Additional Assessment Required",
        }
    }
}

/// One service as the directory lists it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServiceSeed {
    /// Logical id (`HealthcareService/{id}`).
    pub id: &'static str,
    /// Directory of Services id: the BaRS target identifier of the service's endpoint.
    pub dos_id: &'static str,
    pub name: &'static str,
    /// The organisation that runs it.
    pub provider: &'static str,
    /// ONS code of the local authority it covers, and the area's name.
    pub area: &'static str,
    pub area_name: &'static str,
    pub categories: &'static [(&'static str, &'static str)],
    pub type_text: &'static str,
    pub comment: &'static str,
    /// Age limits in whole years, inclusive.
    pub min_age: Option<u32>,
    pub max_age: Option<u32>,
    pub eligibility: &'static str,
    pub capacity: SeedCapacity,
    /// Free text beside the capacity status, e.g. "~15 on waitlist; 4–6 weeks".
    pub capacity_notes: &'static str,
    /// Where it sees people (a FHIR `Location`); `None` for a service delivered by phone and
    /// online.
    pub location: Option<Site>,
    pub phone: &'static str,
    /// `HealthcareService.telecom` email and url; empty for none.
    pub email: &'static str,
    pub url: &'static str,
    /// `HealthcareService.availableTime`: when it answers and sees people.
    pub hours: &'static [Hours],
    /// `HealthcareService.extraDetails`: how to be referred, in the service's words.
    pub how_to_access: &'static str,
    pub active: bool,
}

/// A place a service sees people: a FHIR `Location` with a postal address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site {
    /// Logical id (`Location/{id}`).
    pub id: &'static str,
    pub name: &'static str,
    pub line: &'static str,
    pub city: &'static str,
    pub postcode: &'static str,
}

/// One `availableTime`: FHIR `daysOfWeek` codes and local times `HH:MM:SS`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hours {
    pub days: &'static [&'static str],
    pub start: &'static str,
    pub end: &'static str,
}

const WEEKDAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri"];

const fn weekdays(start: &'static str, end: &'static str) -> Hours {
    Hours { days: WEEKDAYS, start, end }
}

use category::*;

const KC: (&str, &str) = ("E09000020", "Kensington and Chelsea");
const SHROPSHIRE: (&str, &str) = ("E06000051", "Shropshire");
const BARROW: (&str, &str) = ("E07000027", "Barrow-in-Furness");

/// Every seeded service, active or not.
pub(crate) const SERVICES: &[ServiceSeed] = &[
    ServiceSeed {
        id: "talking-therapies-kc",
        dos_id: "2000100001",
        name: "NHS Talking Therapies Kensington and Chelsea",
        provider: "West London Community Mental Health NHS Trust",
        area: KC.0,
        area_name: KC.1,
        categories: &[MENTAL_HEALTH],
        type_text: "NHS Talking Therapies for anxiety and depression",
        comment: "Talking therapies for common mental health problems; self-referral or referral by a professional.",
        min_age: Some(18),
        max_age: None,
        eligibility: "Adults 18 and over registered with a GP in Kensington and Chelsea.",
        capacity: SeedCapacity::Waitlist,
        capacity_notes: "~15 on waitlist; 4–6 weeks",
        location: None,
        phone: "020 7946 0301",
        email: "kc.talkingtherapies@nhs.example",
        url: "https://talkingtherapies-kc.nhs.example/",
        hours: &[weekdays("08:00:00", "20:00:00"), Hours { days: &["sat"], start: "09:00:00", end: "13:00:00" }],
        how_to_access: "Refer yourself online or by phone, or ask your GP to refer you.",
        active: true,
    },
    ServiceSeed {
        id: "social-prescribing-kc",
        dos_id: "2000100002",
        name: "Kensington and Chelsea Social Prescribing Link Workers",
        provider: "North Kensington Primary Care Network",
        area: KC.0,
        area_name: KC.1,
        categories: &[SUPPORT_GROUPS, COMMUNITY_HEALTH],
        type_text: "Social prescribing link worker service",
        comment: "Link workers connect people to community groups, activities and practical support.",
        min_age: Some(18),
        max_age: None,
        eligibility: "Adults registered with a North Kensington or Chelsea GP practice.",
        capacity: SeedCapacity::Capacity,
        capacity_notes: "A link worker calls within 5 working days",
        location: Some(Site { id: "golborne-health-centre", name: "Golborne Health Centre", line: "2 Telford Row", city: "London", postcode: "W10 5ZY" }),
        phone: "020 7946 0302",
        email: "",
        url: "",
        hours: &[weekdays("09:00:00", "17:00:00")],
        how_to_access: "Ask your GP practice, or a professional can refer you.",
        active: true,
    },
    ServiceSeed {
        id: "drug-alcohol-kc",
        dos_id: "2000100003",
        name: "Kensington and Chelsea Community Drug and Alcohol Service",
        provider: "Westway Recovery Partnership",
        area: KC.0,
        area_name: KC.1,
        categories: &[DRUG_ALCOHOL],
        type_text: "Community drug and alcohol treatment",
        comment: "Assessment, prescribing, psychosocial support and recovery groups.",
        min_age: Some(18),
        max_age: None,
        eligibility: "Adults living in Kensington and Chelsea.",
        capacity: SeedCapacity::Capacity,
        capacity_notes: "Assessment appointment within 7 days",
        location: Some(Site { id: "westway-recovery-hub", name: "Westway Recovery Hub", line: "40 Acklam Walk", city: "London", postcode: "W10 5ZX" }),
        phone: "020 7946 0303",
        email: "westway.recovery@nhs.example",
        url: "https://westway-recovery.example/",
        hours: &[weekdays("09:00:00", "17:00:00")],
        how_to_access: "Drop in on weekday mornings, or phone to book an assessment.",
        active: true,
    },
    ServiceSeed {
        id: "falls-kc",
        dos_id: "2000100004",
        name: "Kensington and Chelsea Community Falls Prevention Service",
        provider: "Central London Community Healthcare NHS Trust",
        area: KC.0,
        area_name: KC.1,
        categories: &[ALLIED_HEALTH, AGED_CARE],
        type_text: "Falls prevention and community therapy",
        comment: "Strength and balance, home hazard checks and therapy for older people who have fallen.",
        min_age: Some(65),
        max_age: None,
        eligibility: "People 65 and over who have fallen or fear falling.",
        capacity: SeedCapacity::AssessmentRequired,
        capacity_notes: "A GP or community nurse falls assessment is needed first",
        location: Some(Site { id: "st-charles-centre", name: "St Charles Centre for Health", line: "Exmoor Row", city: "London", postcode: "W10 6ZW" }),
        phone: "020 7946 0304",
        email: "",
        url: "",
        hours: &[weekdays("08:30:00", "16:30:00")],
        how_to_access: "Referral by a GP, community nurse or paramedic after a falls assessment.",
        active: true,
    },
    ServiceSeed {
        id: "wellbeing-cafe-kc",
        dos_id: "2000100005",
        name: "Chelsea Wellbeing Café (closed)",
        provider: "West London Community Mental Health NHS Trust",
        area: KC.0,
        area_name: KC.1,
        categories: &[MENTAL_HEALTH, SUPPORT_GROUPS],
        type_text: "Drop-in wellbeing support",
        comment: "Closed: the directory keeps the entry, marked inactive.",
        min_age: None,
        max_age: None,
        eligibility: "Anyone.",
        capacity: SeedCapacity::NoCapacity,
        capacity_notes: "Closed",
        location: Some(Site { id: "chelsea-library", name: "Chelsea Library", line: "King's Walk", city: "London", postcode: "SW3 5ZZ" }),
        phone: "020 7946 0305",
        email: "",
        url: "",
        hours: &[Hours { days: &["wed"], start: "10:00:00", end: "14:00:00" }],
        how_to_access: "",
        active: false,
    },
    ServiceSeed {
        id: "talking-therapies-shropshire",
        dos_id: "2000200001",
        name: "NHS Talking Therapies Shropshire, Telford and Wrekin",
        provider: "Severn Valley Partnership NHS Foundation Trust",
        area: SHROPSHIRE.0,
        area_name: SHROPSHIRE.1,
        categories: &[MENTAL_HEALTH],
        type_text: "NHS Talking Therapies for anxiety and depression",
        comment: "Talking therapies by phone, video and in clinics across the county.",
        min_age: Some(16),
        max_age: None,
        eligibility: "People 16 and over registered with a Shropshire GP.",
        capacity: SeedCapacity::Capacity,
        capacity_notes: "Assessment call within 2 weeks",
        location: None,
        phone: "0306 999 0301",
        email: "shropshire.talkingtherapies@nhs.example",
        url: "https://talkingtherapies-shropshire.nhs.example/",
        hours: &[weekdays("08:30:00", "17:00:00")],
        how_to_access: "Refer yourself online or by phone, or ask your GP to refer you.",
        active: true,
    },
    ServiceSeed {
        id: "social-prescribing-shropshire",
        dos_id: "2000200002",
        name: "Shropshire Social Prescribing",
        provider: "Shropshire Community Health NHS Trust",
        area: SHROPSHIRE.0,
        area_name: SHROPSHIRE.1,
        categories: &[SUPPORT_GROUPS, COMMUNITY_HEALTH],
        type_text: "Social prescribing link worker service",
        comment: "Link workers in market towns and villages; home visits where needed.",
        min_age: Some(18),
        max_age: None,
        eligibility: "Adults registered with a Shropshire GP.",
        capacity: SeedCapacity::Waitlist,
        capacity_notes: "~8 on waitlist; 2–3 weeks",
        location: Some(Site { id: "ludlow-community-hospital", name: "Ludlow Community Hospital", line: "Gravel Walk", city: "Ludlow", postcode: "SY8 1ZZ" }),
        phone: "01632 960302",
        email: "",
        url: "",
        hours: &[weekdays("09:00:00", "17:00:00")],
        how_to_access: "Ask your GP practice, or a professional can refer you.",
        active: true,
    },
    ServiceSeed {
        id: "drug-alcohol-shropshire",
        dos_id: "2000200003",
        name: "Shropshire Community Drug and Alcohol Service",
        provider: "Marches Recovery Partnership",
        area: SHROPSHIRE.0,
        area_name: SHROPSHIRE.1,
        categories: &[DRUG_ALCOHOL],
        type_text: "Community drug and alcohol treatment",
        comment: "Not taking new referrals this month; urgent cases through the duty worker.",
        min_age: Some(18),
        max_age: None,
        eligibility: "Adults living in Shropshire.",
        capacity: SeedCapacity::NoCapacity,
        capacity_notes: "Not accepting new referrals until January; duty worker for urgent cases",
        location: Some(Site { id: "shrewsbury-recovery-hub", name: "Shrewsbury Recovery Hub", line: "7 Castle Foregate Yard", city: "Shrewsbury", postcode: "SY1 2ZX" }),
        phone: "01632 960303",
        email: "",
        url: "",
        hours: &[weekdays("09:00:00", "17:00:00")],
        how_to_access: "Phone the duty worker for urgent help.",
        active: true,
    },
    ServiceSeed {
        id: "falls-shropshire",
        dos_id: "2000200004",
        name: "Shropshire Community Falls and Therapy Service",
        provider: "Shropshire Community Health NHS Trust",
        area: SHROPSHIRE.0,
        area_name: SHROPSHIRE.1,
        categories: &[ALLIED_HEALTH, AGED_CARE],
        type_text: "Falls prevention and community therapy",
        comment: "Home-based therapy and strength and balance classes.",
        min_age: Some(65),
        max_age: None,
        eligibility: "People 65 and over.",
        capacity: SeedCapacity::Capacity,
        capacity_notes: "First visit within 10 days",
        location: Some(Site { id: "bridgnorth-community-hospital", name: "Bridgnorth Community Hospital", line: "Northgate Walk", city: "Bridgnorth", postcode: "WV16 4ZZ" }),
        phone: "01632 960304",
        email: "",
        url: "",
        hours: &[weekdays("08:30:00", "16:30:00")],
        how_to_access: "Referral by a GP, community nurse or paramedic.",
        active: true,
    },
    ServiceSeed {
        id: "talking-therapies-furness",
        dos_id: "2000300001",
        name: "NHS Talking Therapies Furness",
        provider: "Morecambe Bay Community Mental Health NHS Trust",
        area: BARROW.0,
        area_name: BARROW.1,
        categories: &[MENTAL_HEALTH],
        type_text: "NHS Talking Therapies for anxiety and depression",
        comment: "Talking therapies by phone and video, with a clinic in Barrow.",
        min_age: Some(18),
        max_age: None,
        eligibility: "Adults registered with a Furness GP.",
        capacity: SeedCapacity::Waitlist,
        capacity_notes: "~40 on waitlist; 10–12 weeks",
        location: None,
        phone: "0306 999 0401",
        email: "furness.talkingtherapies@nhs.example",
        url: "",
        hours: &[weekdays("09:00:00", "17:00:00")],
        how_to_access: "Refer yourself by phone, or ask your GP to refer you.",
        active: true,
    },
    ServiceSeed {
        id: "falls-furness",
        dos_id: "2000300002",
        name: "Furness Community Falls Service",
        provider: "Morecambe Bay Community Health NHS Trust",
        area: BARROW.0,
        area_name: BARROW.1,
        categories: &[ALLIED_HEALTH, AGED_CARE],
        type_text: "Falls prevention and community therapy",
        comment: "Therapists vacant; referrals are being held.",
        min_age: Some(65),
        max_age: None,
        eligibility: "People 65 and over.",
        capacity: SeedCapacity::NoCapacity,
        capacity_notes: "No therapists available; referrals held until staff are recruited",
        location: Some(Site { id: "furness-general-hospital", name: "Furness General Hospital", line: "Dalton Walk", city: "Barrow-in-Furness", postcode: "LA14 4ZZ" }),
        phone: "01632 960402",
        email: "",
        url: "",
        hours: &[weekdays("09:00:00", "16:00:00")],
        how_to_access: "",
        active: true,
    },
];

/// A service by its Directory of Services id.
pub(crate) fn by_dos_id(dos_id: &str) -> Option<&'static ServiceSeed> {
    SERVICES.iter().find(|s| s.dos_id == dos_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_area_is_seeded() {
        for (i, s) in SERVICES.iter().enumerate() {
            assert!(SERVICES[..i].iter().all(|o| o.id != s.id && o.dos_id != s.dos_id), "{}", s.id);
        }
        for area in [KC.0, SHROPSHIRE.0, BARROW.0] {
            assert!(SERVICES.iter().any(|s| s.area == area && s.active), "{area}");
        }
        assert!(by_dos_id("2000100001").is_some() && by_dos_id("nope").is_none());
    }
}
