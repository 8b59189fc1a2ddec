//! The built-in catalogue: UK national services, by the needs each helps with.

use pathways_core::NeedCode;

pub(super) type BuiltinEntry = (
    &'static [NeedCode],
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

use NeedCode as N;

/// UK national services, each listed under every need it helps with. Numbers are the services'
/// own published ones; a council that knows better local routes loads its own file.
pub(super) const BUILTIN: &[BuiltinEntry] = &[
    (
        &[N::DomesticAbuse, N::Safeguarding],
        "Police",
        Some("999"),
        None,
        Some("if anyone is in immediate danger"),
    ),
    (
        &[N::DomesticAbuse],
        "National Domestic Abuse Helpline",
        Some("0808 2000 247"),
        None,
        Some("free, 24 hours"),
    ),
    (
        &[N::Safeguarding, N::FamilyChildren],
        "NSPCC Helpline",
        Some("0808 800 5000"),
        None,
        Some("worried about a child"),
    ),
    (
        &[N::Safeguarding, N::FamilyChildren],
        "Childline",
        Some("0800 1111"),
        None,
        Some("for children and young people"),
    ),
    (
        &[N::HousingHomelessness, N::HousingConditions],
        "Shelter helpline",
        Some("0808 800 4444"),
        None,
        Some("housing advice"),
    ),
    (
        &[N::DebtMoney],
        "StepChange Debt Charity",
        Some("0800 138 1111"),
        None,
        Some("free debt advice"),
    ),
    (
        &[N::DebtMoney, N::FuelUtilities],
        "National Debtline",
        Some("0808 808 4000"),
        None,
        Some("free debt advice"),
    ),
    (
        &[N::Food, N::DebtMoney, N::FuelUtilities],
        "Trussell Help through Hardship helpline",
        Some("0808 208 2138"),
        None,
        Some("money and food worries"),
    ),
    (
        &[N::MentalHealth, N::SocialIsolation],
        "Samaritans",
        Some("116 123"),
        None,
        Some("free, 24 hours"),
    ),
    (
        &[N::MentalHealth],
        "Mind Infoline",
        Some("0300 123 3393"),
        None,
        Some("mental health information"),
    ),
    (
        &[N::MentalHealth, N::PhysicalHealthDisability, N::SubstanceUse],
        "NHS 111",
        Some("111"),
        None,
        Some("urgent health advice, 24 hours"),
    ),
    (&[N::SubstanceUse], "FRANK", Some("0300 123 6600"), None, Some("drugs advice, confidential")),
    (&[N::CarerCare], "Carers UK Helpline", Some("0808 808 7777"), None, Some("for unpaid carers")),
    (
        &[N::CarerCare, N::SocialIsolation, N::Digital],
        "Age UK Advice Line",
        Some("0800 678 1602"),
        None,
        Some("for older people and their families"),
    ),
    (
        &[
            N::Food,
            N::DebtMoney,
            N::HousingHomelessness,
            N::HousingConditions,
            N::FuelUtilities,
            N::EmploymentSkills,
            N::LegalImmigration,
            N::Transport,
            N::Digital,
            N::FamilyChildren,
            N::PhysicalHealthDisability,
        ],
        "Citizens Advice Adviceline",
        Some("0800 144 8848"),
        None,
        Some("free advice in England"),
    ),
    (
        &[N::EmploymentSkills],
        "National Careers Service",
        None,
        Some("https://nationalcareers.service.gov.uk"),
        Some("careers advice and training"),
    ),
    (
        &[N::LegalImmigration],
        "Check if you can get legal aid",
        None,
        Some("https://www.gov.uk/check-legal-aid"),
        None,
    ),
    (
        &[N::Transport, N::CarerCare, N::Safeguarding, N::HousingConditions],
        "Your local council",
        None,
        Some("https://www.gov.uk/find-local-council"),
        Some("community transport, social care and repairs"),
    ),
];
