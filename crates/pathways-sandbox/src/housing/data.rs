//! The seeded housing authorities: one per sandbox area, with the differences a planner should
//! see (a busy inner-London housing options team that triages the next working day, a shire
//! county a few days out, a small district whose next triage is ten days away and which has no
//! same-day service of its own).
//!
//! The names are the real councils' (a housing authority is a public body, and the ONS codes
//! are the sandbox's areas); everything about how they answer is invented. Barrow-in-Furness
//! Borough Council became part of Westmorland and Furness (E06000064) in 2023; the sandbox
//! keeps its old code because the other simulators use it as their sparse district.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// One housing authority's Duty to Refer intake and housing options team.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthoritySeed {
    /// ONS local authority code.
    pub ons_code: &'static str,
    pub name: &'static str,
    /// Two letters used in its referral ids, e.g. `KC` in `DTR-KC-7K3M9Q`.
    pub id_prefix: &'static str,
    /// Whether it takes referrals through this API.
    pub accepting: bool,
    /// Days from a referral to the housing options team's first look (triage), before rounding
    /// up to a working day.
    pub triage_wait_days: u64,
    /// Whether its duty team sees someone homeless tonight the same day.
    pub same_day_emergency: bool,
    /// How clients and referrers reach its housing options team.
    pub team: TeamContact,
}

/// A housing options team's public contact details (invented numbers in Ofcom's drama ranges).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TeamContact {
    pub phone: &'static str,
    pub email: &'static str,
    pub url: &'static str,
    /// Where it sees people, in one line.
    pub address: &'static str,
    /// Opening periods: FHIR `daysOfWeek` codes, opening and closing time (`HH:MM`).
    pub hours: &'static [(&'static [&'static str], &'static str, &'static str)],
    /// What to do out of hours, in the team's words.
    pub out_of_hours: &'static str,
}

const MON_FRI: &[&str] = &["mon", "tue", "wed", "thu", "fri"];

/// Every seeded authority.
pub(crate) const AUTHORITIES: &[AuthoritySeed] = &[
    AuthoritySeed {
        ons_code: "E09000020",
        name: "Royal Borough of Kensington and Chelsea",
        id_prefix: "KC",
        accepting: true,
        triage_wait_days: 1,
        same_day_emergency: true,
        team: TeamContact {
            phone: "020 7946 0500",
            email: "housingoptions@rbkc.council.example",
            url: "https://rbkc.council.example/housing/homeless-or-at-risk",
            address: "Kensington Town Hall, Hornton Street, London W8 7NX",
            hours: &[(MON_FRI, "09:00", "17:00")],
            out_of_hours: "Evenings, weekends and bank holidays: if you have nowhere to sleep tonight, phone 0808 157 0500.",
        },
    },
    AuthoritySeed {
        ons_code: "E06000051",
        name: "Shropshire Council",
        id_prefix: "SH",
        accepting: true,
        triage_wait_days: 3,
        same_day_emergency: true,
        team: TeamContact {
            phone: "0306 999 0500",
            email: "housing.options@shropshire.council.example",
            url: "https://shropshire.council.example/housing/homelessness",
            address: "Shirehall, Abbey Foregate, Shrewsbury SY2 6ND",
            hours: &[(&["mon", "tue", "wed", "thu"], "08:45", "17:00"), (&["fri"], "08:45", "16:30")],
            out_of_hours: "Out of hours, if you are homeless tonight, phone 0306 999 0599.",
        },
    },
    AuthoritySeed {
        ons_code: "E07000027",
        name: "Barrow-in-Furness Borough Council",
        id_prefix: "BF",
        accepting: true,
        triage_wait_days: 10,
        same_day_emergency: false,
        team: TeamContact {
            phone: "01632 960500",
            email: "housing.advice@barrow.council.example",
            url: "https://barrow.council.example/housing",
            address: "Barrow Town Hall, Duke Street, Barrow-in-Furness LA14 2LD",
            hours: &[(MON_FRI, "09:00", "16:30")],
            out_of_hours: "Out of hours emergencies: phone 0808 157 0527.",
        },
    },
];

/// The authority with ONS code `code`.
pub(crate) fn authority(code: &str) -> Option<&'static AuthoritySeed> {
    AUTHORITIES.iter().find(|a| a.ons_code == code)
}

/// The first working day (Monday to Friday) `wait_days` or more after `today`.
pub(crate) fn triage_date(today: NaiveDate, wait_days: u64) -> NaiveDate {
    let from = today.checked_add_days(Days::new(wait_days)).unwrap_or(today);
    (0..7)
        .filter_map(|offset| from.checked_add_days(Days::new(offset)))
        .find(|day| !matches!(day.weekday(), Weekday::Sat | Weekday::Sun))
        .unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triage_falls_on_a_working_day() {
        let friday = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(triage_date(friday, 0), friday);
        assert_eq!(triage_date(friday, 1), monday, "Saturday rolls on to Monday");
        assert_eq!(triage_date(friday, 10), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
    }

    #[test]
    fn the_three_areas_are_seeded_with_distinct_prefixes() {
        for code in ["E09000020", "E06000051", "E07000027"] {
            assert!(authority(code).is_some(), "{code}");
        }
        let mut prefixes: Vec<&str> = AUTHORITIES.iter().map(|a| a.id_prefix).collect();
        prefixes.dedup();
        assert_eq!(prefixes.len(), AUTHORITIES.len());
        assert!(authority("W06000015").is_none());
    }
}
