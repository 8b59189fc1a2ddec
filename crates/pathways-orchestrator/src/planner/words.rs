//! The sentences of a plan: every `why` is something a pathfinder can read aloud to the client,
//! so it speaks to "you", names services as a client would know them, and says days and
//! distances the way people do ("on Tuesday 24 November, 0.8 km away"). The words themselves
//! come from the message catalogue ([`crate::messages`]) in the client's language; this module
//! puts them together.

use chrono::{NaiveDate, NaiveTime, Timelike};
use pathways_core::{
    Capacity, NeedCode, Offer, OpeningHours, PartnerOutcome, ServiceChannel, ServiceContact,
    Weekday,
};

use crate::messages::{Arg, Words};

/// "North Kensington Food Bank can see you on Tuesday 24 November, 0.8 km away; it has space
/// now." The partner's own words on the wait go to the pathfinder's note, not here: they may
/// hold terms a client would not know.
pub(super) fn availability(words: &Words<'_>, offer: &Offer, today: NaiveDate) -> String {
    let service = offer.service.name.as_str();
    let mut sentence = match offer.earliest_start {
        Some(start) => words.get(
            "offer-when",
            &[
                ("service", service.into()),
                ("channel", channel(offer.channel).into()),
                ("day", day(words, start, today).into()),
            ],
        ),
        None => words.get(
            "offer-no-date",
            &[("service", service.into()), ("need", need(words, offer.need).into())],
        ),
    };
    let in_person = matches!(offer.channel, None | Some(ServiceChannel::InPerson));
    if let Some(metres) = offer.location.as_ref().and_then(|l| l.distance_m).filter(|_| in_person) {
        sentence.push_str(
            &words.get("offer-distance", &[("distance", distance(words, metres).into())]),
        );
    }
    words.get(
        "offer-sentence",
        &[("offer", sentence.into()), ("capacity", capacity(words, offer.capacity).into())],
    )
}

/// The same without its closing full stop, to go inside a fallback's sentence.
pub(super) fn availability_clause(words: &Words<'_>, offer: &Offer, today: NaiveDate) -> String {
    without_full_stop(&availability(words, offer, today)).to_string()
}

fn channel(channel: Option<ServiceChannel>) -> &'static str {
    match channel {
        None | Some(ServiceChannel::InPerson) => "in_person",
        Some(ServiceChannel::Phone) => "phone",
        Some(ServiceChannel::Online) => "online",
        Some(ServiceChannel::HomeVisit) => "home_visit",
        Some(ServiceChannel::Delivery) => "delivery",
    }
}

fn capacity(words: &Words<'_>, capacity: Capacity) -> String {
    let key = match capacity {
        Capacity::Capacity => "capacity",
        Capacity::Waitlist => "waitlist",
        Capacity::AssessmentRequired => "assessment_required",
        Capacity::Unknown => "unknown",
        Capacity::NoCapacity => "no_capacity",
    };
    words.get("capacity", &[("capacity", key.into())])
}

/// A need as a client would say it.
pub(super) fn need(words: &Words<'_>, need: NeedCode) -> String {
    words.plain(&format!("need-{}", need.as_str()))
}

/// "today", "tomorrow", or "on Tuesday 24 November" (with the year when it is not this year's).
pub(super) fn day(words: &Words<'_>, date: NaiveDate, today: NaiveDate) -> String {
    if date <= today {
        // A start in the past means the service can start now.
        words.plain("day-today")
    } else if date.pred_opt() == Some(today) {
        words.plain("day-tomorrow")
    } else {
        words.get("day-on", &[("date", words.date(date, today).into())])
    }
}

/// "today", "by tomorrow", "by Tuesday 24 November": a deadline.
pub(super) fn by_day(words: &Words<'_>, date: NaiveDate, today: NaiveDate) -> String {
    if date <= today {
        words.plain("by-today")
    } else if date.pred_opt() == Some(today) {
        words.plain("by-tomorrow")
    } else {
        words.get("by-date", &[("date", words.date(date, today).into())])
    }
}

/// "0.8 km", "12 km", "less than 0.1 km".
pub(super) fn distance(words: &Words<'_>, metres: u32) -> String {
    let km = f64::from(metres) / 1000.0;
    if metres < 50 {
        words.plain("distance-near")
    } else if km < 10.0 {
        words.get("distance-km", &[("km", format!("{km:.1}").into())])
    } else {
        words.get("distance-km", &[("km", format!("{km:.0}").into())])
    }
}

/// "food", "food and debt and money", "food, transport and getting online".
pub(super) fn list(words: &Words<'_>, items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {} {last}", rest.join(", "), words.plain("and")),
    }
}

/// The needs, listed.
pub(super) fn needs_list(words: &Words<'_>, needs: &[NeedCode]) -> String {
    let named: Vec<String> = needs.iter().map(|n| need(words, *n)).collect();
    list(words, &named)
}

/// How to reach a service, as sentences: phone with opening hours, address, web, how to apply.
pub(super) fn contact(words: &Words<'_>, contact: &ServiceContact) -> Vec<String> {
    let mut sentences = Vec::new();
    let hours = opening_hours(words, &contact.opening_hours);
    match (&contact.phone, &hours) {
        (Some(phone), Some(hours)) => sentences.push(
            words.get("contact-phone-hours", &[("phone", phone.into()), ("hours", hours.into())]),
        ),
        (Some(phone), None) => {
            sentences.push(words.get("contact-phone", &[("phone", phone.into())]))
        }
        (None, Some(hours)) => {
            sentences.push(words.get("contact-hours", &[("hours", hours.into())]))
        }
        (None, None) => {}
    }
    if let Some(address) = &contact.address {
        sentences.push(words.get("contact-address", &[("address", address.into())]));
    }
    if let Some(email) = &contact.email {
        sentences.push(words.get("contact-email", &[("email", email.into())]));
    }
    if let Some(url) = &contact.url {
        sentences.push(words.get("contact-web", &[("url", url.into())]));
    }
    if let Some(how) = contact.how_to_apply.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
        sentences.push(words.get("contact-apply", &[("how", full_stop(how).into())]));
    }
    sentences
}

/// "Monday to Friday, 9am to 5pm; Saturday, 10am to 1pm".
pub(super) fn opening_hours(words: &Words<'_>, periods: &[OpeningHours]) -> Option<String> {
    let parts: Vec<String> = periods
        .iter()
        .filter(|p| !p.days.is_empty() && p.opens < p.closes)
        .map(|p| {
            words.get(
                "hours",
                &[
                    ("days", days(words, &p.days).into()),
                    ("opens", time(words, p.opens).into()),
                    ("closes", time(words, p.closes).into()),
                ],
            )
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn days(words: &Words<'_>, days: &[Weekday]) -> String {
    let mut sorted: Vec<Weekday> = days.to_vec();
    sorted.sort();
    sorted.dedup();
    let name =
        |d: Weekday| words.plain(&format!("weekday-{}", format!("{:?}", d).to_ascii_lowercase()));
    let index = |d: Weekday| Weekday::ALL.iter().position(|x| *x == d).unwrap_or(0);
    let consecutive = sorted.windows(2).all(|w| index(w[1]) == index(w[0]) + 1);
    match sorted.as_slice() {
        [first, .., last] if consecutive && sorted.len() >= 3 => {
            words.get("days-range", &[("first", name(*first).into()), ("last", name(*last).into())])
        }
        _ => {
            let names: Vec<String> = sorted.iter().map(|d| name(*d)).collect();
            list(words, &names)
        }
    }
}

/// "9am", "5:30pm" in English; "09:00" in other languages.
fn time(words: &Words<'_>, time: NaiveTime) -> String {
    if words.code() != "en" {
        return time.format("%H:%M").to_string();
    }
    let (pm, hour) = time.hour12();
    let suffix = if pm { "pm" } else { "am" };
    match time.minute() {
        0 => format!("{hour}{suffix}"),
        minute => format!("{hour}:{minute:02}{suffix}"),
    }
}

/// What happened to a partner that did not answer, as the catalogue's selector.
pub(super) fn outcome(outcome: PartnerOutcome) -> &'static str {
    match outcome {
        PartnerOutcome::Answered => "answered",
        PartnerOutcome::TimedOut => "timed_out",
        PartnerOutcome::Unreachable => "unreachable",
        PartnerOutcome::Failed => "failed",
        PartnerOutcome::CircuitOpen => "circuit_open",
        PartnerOutcome::Skipped => "skipped",
    }
}

/// A language's name, for "an interpreter in Polish".
pub(super) fn language(words: &Words<'_>, code: &str) -> String {
    let id = format!("language-{code}");
    let name = words.plain(&id);
    if name == id {
        words.plain("language-other")
    } else {
        name
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

/// A count for the catalogue's plural forms.
pub(super) fn count(n: usize) -> Arg {
    Arg::Count(u64::try_from(n).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Messages;
    use crate::testing::{date, offer};
    use pathways_core::OfferLocation;

    #[test]
    fn reads_like_the_example_in_the_brief() {
        let messages = Messages::builtin();
        let en = messages.language("en");
        let mut o = offer(NeedCode::Food, "nkfb", "North Kensington Food Bank");
        o.earliest_start = Some(date("2026-11-24"));
        o.location =
            Some(OfferLocation { name: "Hall".into(), postcode: None, distance_m: Some(800) });
        o.wait_estimate = Some("vouchers this week".into());
        assert_eq!(
            availability(&en, &o, date("2026-11-20")),
            "North Kensington Food Bank can see you on Tuesday 24 November, 0.8 km away; \
             it has space now."
        );
    }

    #[test]
    fn days_distances_and_hours_are_said_the_way_people_say_them() {
        let messages = Messages::builtin();
        let en = messages.language("en");
        let today = date("2026-11-20");
        assert_eq!(day(&en, today, today), "today");
        assert_eq!(day(&en, date("2026-11-21"), today), "tomorrow");
        assert_eq!(day(&en, date("2027-01-04"), today), "on Monday 4 January 2027");
        assert_eq!(distance(&en, 12_400), "12 km");
        assert_eq!(
            needs_list(&en, &[NeedCode::Food, NeedCode::DebtMoney, NeedCode::Digital]),
            "food, debt and money and getting online"
        );
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        let weekdays = OpeningHours {
            days: vec![Weekday::Fri, Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu],
            opens: t("09:00"),
            closes: t("17:30"),
        };
        let saturday =
            OpeningHours { days: vec![Weekday::Sat], opens: t("10:00"), closes: t("13:00") };
        assert_eq!(
            opening_hours(&en, &[weekdays, saturday]).unwrap(),
            "Monday to Friday, 9am to 5:30pm; Saturday, 10am to 1pm"
        );
    }
}
