//! The sentences of a plan: every `why` is something a pathfinder can read aloud to the client,
//! so it speaks to "you", names services as a client would know them, and says days and
//! distances the way people do ("on Tuesday 24 November, 0.8 km away").

use chrono::{Datelike, NaiveDate};
use pathways_core::{Capacity, NeedCode, Offer, ServiceChannel};

/// "North Kensington Food Bank can see you on Tuesday 24 November, 0.8 km away; it has space
/// now" (no closing full stop, so callers can build on it).
pub(super) fn availability(offer: &Offer, today: NaiveDate) -> String {
    let name = &offer.service.name;
    let mut sentence = match offer.earliest_start {
        Some(start) => format!("{name} can {} {}", verb(offer.channel), day(start, today)),
        None => format!("{name} can help with {}", offer.need.describe()),
    };
    let in_person = matches!(offer.channel, None | Some(ServiceChannel::InPerson));
    if let Some(metres) = offer.location.as_ref().and_then(|l| l.distance_m).filter(|_| in_person) {
        sentence.push_str(&format!(", {} away", distance(metres)));
    }
    sentence.push_str("; ");
    sentence.push_str(&capacity(offer));
    sentence
}

fn verb(channel: Option<ServiceChannel>) -> &'static str {
    match channel {
        None | Some(ServiceChannel::InPerson) => "see you",
        Some(ServiceChannel::Phone) => "speak to you by phone",
        Some(ServiceChannel::Online) => "see you online",
        Some(ServiceChannel::HomeVisit) => "visit you at home",
        Some(ServiceChannel::Delivery) => "deliver to you",
    }
}

fn capacity(offer: &Offer) -> String {
    let base = match offer.capacity {
        Capacity::Capacity => "it has space now",
        Capacity::Waitlist => "it has a waiting list",
        Capacity::AssessmentRequired => "it will need to assess you first",
        Capacity::Unknown => "it will confirm whether it has space",
        Capacity::NoCapacity => "it has no space at the moment",
    };
    match offer.wait_estimate.as_deref().map(str::trim) {
        Some(estimate) if !estimate.is_empty() => format!("{base} ({estimate})"),
        _ => base.to_string(),
    }
}

/// "today", "tomorrow", or "on Tuesday 24 November" (with the year when it is not this year's).
pub(super) fn day(date: NaiveDate, today: NaiveDate) -> String {
    if date <= today {
        // A start in the past means the service can start now.
        "today".to_string()
    } else if date.pred_opt() == Some(today) {
        "tomorrow".to_string()
    } else if date.year() == today.year() {
        date.format("on %A %-d %B").to_string()
    } else {
        date.format("on %A %-d %B %Y").to_string()
    }
}

/// "today", "by tomorrow", "by Tuesday 24 November": a deadline.
pub(super) fn by_day(date: NaiveDate, today: NaiveDate) -> String {
    match day(date, today).strip_prefix("on ") {
        Some(rest) => format!("by {rest}"),
        None if date <= today => "today".to_string(),
        None => "by tomorrow".to_string(),
    }
}

/// "0.8 km", "12 km", "less than 0.1 km".
pub(super) fn distance(metres: u32) -> String {
    let km = f64::from(metres) / 1000.0;
    if metres < 50 {
        "less than 0.1 km".to_string()
    } else if km < 10.0 {
        format!("{km:.1} km")
    } else {
        format!("{km:.0} km")
    }
}

/// "food", "food and debt and money", "food, transport and digital".
pub(super) fn needs_list(needs: &[NeedCode]) -> String {
    let words: Vec<&str> = needs.iter().map(|n| n.describe()).collect();
    match words.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// "the service" / "the 3 services".
pub(super) fn services(count: usize) -> String {
    if count == 1 {
        "the service".to_string()
    } else {
        format!("the {count} services")
    }
}

/// Capitalises the first letter of a sentence.
pub(super) fn capitalise(sentence: &str) -> String {
    let mut chars = sentence.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Configured or partner-supplied text without its closing full stop, to go mid-sentence.
pub(super) fn without_full_stop(text: &str) -> &str {
    text.trim().trim_end_matches('.')
}

/// Ends partner-supplied text with exactly one full stop.
pub(super) fn full_stop(text: &str) -> String {
    let trimmed = text.trim().trim_end_matches('.');
    format!("{trimmed}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{date, offer};
    use pathways_core::OfferLocation;

    #[test]
    fn reads_like_the_example_in_the_brief() {
        let mut o = offer(NeedCode::Food, "nkfb", "North Kensington Food Bank");
        o.earliest_start = Some(date("2026-11-24"));
        o.location =
            Some(OfferLocation { name: "Hall".into(), postcode: None, distance_m: Some(800) });
        o.wait_estimate = Some("vouchers this week".into());
        assert_eq!(
            availability(&o, date("2026-11-20")),
            "North Kensington Food Bank can see you on Tuesday 24 November, 0.8 km away; \
             it has space now (vouchers this week)"
        );
    }

    #[test]
    fn days_and_distances_are_said_the_way_people_say_them() {
        let today = date("2026-11-20");
        assert_eq!(day(today, today), "today");
        assert_eq!(day(date("2026-11-21"), today), "tomorrow");
        assert_eq!(day(date("2027-01-04"), today), "on Monday 4 January 2027");
        assert_eq!(distance(12_400), "12 km");
        assert_eq!(
            needs_list(&[NeedCode::Food, NeedCode::DebtMoney, NeedCode::Digital]),
            "food, debt and money and getting online"
        );
    }
}
