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
}

/// Every seeded authority.
pub(crate) const AUTHORITIES: &[AuthoritySeed] = &[
    AuthoritySeed {
        ons_code: "E09000020",
        name: "Royal Borough of Kensington and Chelsea",
        id_prefix: "KC",
        accepting: true,
        triage_wait_days: 1,
        same_day_emergency: true,
    },
    AuthoritySeed {
        ons_code: "E06000051",
        name: "Shropshire Council",
        id_prefix: "SH",
        accepting: true,
        triage_wait_days: 3,
        same_day_emergency: true,
    },
    AuthoritySeed {
        ons_code: "E07000027",
        name: "Barrow-in-Furness Borough Council",
        id_prefix: "BF",
        accepting: true,
        triage_wait_days: 10,
        same_day_emergency: false,
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
