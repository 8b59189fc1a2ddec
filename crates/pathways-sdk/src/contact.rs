//! Reading a partner's published contact details and waits into an offer, tolerantly.
//!
//! Directories are edited by hand: phone numbers arrive quoted or with letters in them,
//! schedules with days nobody can read, closing times before opening times. A detail that does
//! not read cleanly is dropped (`None`) and the offer keeps everything else: bad contact data
//! must never cost a client an offer, and a wrong number read aloud is worse than none.
//!
//! ```
//! use pathways_sdk::contact::{email_address, opening_hours, phone_number, wait_start};
//! use pathways_sdk::Weekday;
//!
//! assert_eq!(phone_number("\"+44 20 7946 0200\"").as_deref(), Some("+44 20 7946 0200"));
//! assert_eq!(phone_number("call reception"), None);
//! assert_eq!(email_address("mailto:team@council.example").as_deref(), Some("team@council.example"));
//! let hours = opening_hours(["MO", "TU", "WE", "TH", "FR"], "09:00:00", "17:00:00").unwrap();
//! assert_eq!(hours.days.len(), 5);
//! assert_eq!(hours.days[0], Weekday::Mon);
//! assert!(opening_hours(["MO"], "17:00", "09:00").is_none(), "closes before it opens");
//! let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
//! assert_eq!(wait_start(today, "About 6 to 8 weeks"), today.checked_add_days(chrono::Days::new(42)));
//! assert_eq!(wait_start(today, "A link worker calls within 5 working days"), None);
//! ```

use chrono::{Days, NaiveDate, NaiveTime};
use pathways_core::{parse_wait_days, OpeningHours, ServiceContact, Weekday};

/// Longest a telephone number can be, in digits (ITU-T E.164).
const MAX_PHONE_DIGITS: usize = 15;

/// The spellings of days read: iCalendar `BYDAY`, FHIR `daysOfWeek`, and names.
/// A telephone number as a client would dial it: surrounding quotes and a `tel:` prefix
/// removed, spaces collapsed. `None` unless it holds only digits, spaces and `+ ( ) - .` (a
/// `+` only first) with 3 to 15 digits.
pub fn phone_number(text: &str) -> Option<String> {
    let text = strip_quotes(text);
    let text = strip_prefix_ignore_case(text, "tel:").unwrap_or(text).trim();
    let allowed = |(i, c): (usize, char)| {
        c.is_ascii_digit() || matches!(c, ' ' | '(' | ')' | '-' | '.') || (c == '+' && i == 0)
    };
    if text.is_empty() || !text.char_indices().all(allowed) {
        return None;
    }
    let digits = text.chars().filter(char::is_ascii_digit).count();
    (3..=MAX_PHONE_DIGITS)
        .contains(&digits)
        .then(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// [`phone_number`] with an extension (`"100"`) written after it as `ext. 100`; an extension
/// that is not 1 to 6 digits is left off, the number kept.
pub fn phone_with_extension(text: &str, extension: Option<&str>) -> Option<String> {
    let number = phone_number(text)?;
    let extension = extension
        .map(str::trim)
        .filter(|e| (1..=6).contains(&e.len()) && e.chars().all(|c| c.is_ascii_digit()));
    Some(match extension {
        Some(extension) => format!("{number} ext. {extension}"),
        None => number,
    })
}

/// An email address: one `@` with something on each side, a dot in the domain, no spaces or
/// angle brackets; a `mailto:` prefix is removed.
pub fn email_address(text: &str) -> Option<String> {
    let text = strip_quotes(text);
    let text = strip_prefix_ignore_case(text, "mailto:").unwrap_or(text).trim();
    let (local, domain) = text.split_once('@')?;
    let clean = |part: &str| {
        !part.is_empty()
            && part.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '@' | '<' | '>' | ','))
    };
    let domain_ok =
        clean(domain) && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.');
    (clean(local) && domain_ok && text.len() <= 254).then(|| text.to_string())
}

/// A web address: `http://` or `https://` with a host, and no spaces.
pub fn web_url(text: &str) -> Option<String> {
    let text = strip_quotes(text);
    let rest = strip_prefix_ignore_case(text, "https://")
        .or_else(|| strip_prefix_ignore_case(text, "http://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let clean = text.chars().all(|c| c.is_ascii_graphic());
    (clean && !host.is_empty() && host != ":").then(|| text.to_string())
}

/// A local time of day from `HH:MM` or `HH:MM:SS` (fractions allowed), ignoring a trailing
/// `Z` or UTC offset (`09:00-05:00`): opening hours are read as the venue's wall-clock time.
pub fn time_of_day(text: &str) -> Option<NaiveTime> {
    let text = strip_quotes(text);
    let text = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    // An offset starts at a sign after the time itself (which is at least `H:MM`).
    let local = match text.char_indices().skip(4).find(|(_, c)| matches!(c, '+' | '-')) {
        Some((at, _)) => &text[..at],
        None => text,
    };
    ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
        .iter()
        .find_map(|format| NaiveTime::parse_from_str(local.trim(), format).ok())
}

/// One opening period from day codes (iCalendar `MO`, FHIR `mon`, or day names) and the times
/// it opens and closes. `None` when any day cannot be read (a period half understood would
/// send someone on the wrong day), there are no days, or it does not close after it opens.
pub fn opening_hours<'a>(
    days: impl IntoIterator<Item = &'a str>,
    opens: &str,
    closes: &str,
) -> Option<OpeningHours> {
    let mut parsed = Vec::new();
    for day in days {
        let day = day.trim();
        if day.is_empty() {
            continue;
        }
        parsed.push(Weekday::parse(day)?);
    }
    if parsed.is_empty() {
        return None;
    }
    parsed.sort();
    parsed.dedup();
    let (opens, closes) = (time_of_day(opens)?, time_of_day(closes)?);
    (opens < closes).then_some(OpeningHours { days: parsed, opens, closes })
}

/// The day a wait said in words ends: `today` plus the shortest wait
/// ([`parse_wait_days`]). `None` when the words hold no wait, or only an upper bound ("within
/// 2 weeks", "up to 10 days"): the client may be seen sooner, so no start date is known.
pub fn wait_start(today: NaiveDate, words: &str) -> Option<NaiveDate> {
    let days = parse_wait_days(words)?;
    today.checked_add_days(Days::new(u64::from(days)))
}

/// Address parts (lines, which may themselves hold newlines; town; postcode) in one line,
/// blank and repeated parts left out: `"St Quintin Hall, 12 Ladbroke Row, London, W10 6ZZ"`.
pub fn one_line_address<'a>(parts: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut lines: Vec<&str> = Vec::new();
    for line in parts.into_iter().flat_map(str::lines).map(str::trim) {
        if !line.is_empty() && !lines.iter().any(|l| l.eq_ignore_ascii_case(line)) {
            lines.push(line);
        }
    }
    (!lines.is_empty()).then(|| lines.join(", "))
}

/// `contact`, unless it says nothing at all; its opening periods de-duplicated.
pub fn non_empty(mut contact: ServiceContact) -> Option<ServiceContact> {
    let mut seen = Vec::new();
    contact.opening_hours.retain(|h| {
        let new = !seen.contains(h);
        if new {
            seen.push(h.clone());
        }
        new
    });
    (!contact.is_empty()).then_some(contact)
}

fn strip_quotes(text: &str) -> &str {
    text.trim().trim_matches(['"', '\'']).trim()
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn phone_numbers_are_cleaned_or_dropped() {
        assert_eq!(phone_number(" 020  7946 0200 ").as_deref(), Some("020 7946 0200"));
        assert_eq!(phone_number("tel:+44-20-7946-0200").as_deref(), Some("+44-20-7946-0200"));
        assert_eq!(phone_number("(01632) 960106").as_deref(), Some("(01632) 960106"));
        assert_eq!(phone_number("111").as_deref(), Some("111"));
        for bad in [
            "",
            "  ",
            "n/a",
            "12",
            "0800 FLOWERS",
            "020 7946 0200 or 0201",
            "44+20",
            "1234567890123456",
        ] {
            assert_eq!(phone_number(bad), None, "{bad}");
        }
        assert_eq!(
            phone_with_extension("01234 234567", Some("100")).as_deref(),
            Some("01234 234567 ext. 100")
        );
        assert_eq!(
            phone_with_extension("01234 234567", Some("x")).as_deref(),
            Some("01234 234567")
        );
        assert_eq!(phone_with_extension("none", Some("100")), None);
    }

    #[test]
    fn emails_and_urls_must_look_like_them() {
        assert_eq!(email_address(" a.b@c.example ").as_deref(), Some("a.b@c.example"));
        for bad in [
            "",
            "a@b",
            "@c.example",
            "a@@c.example",
            "a b@c.example",
            "a@c.example.",
            "<a@c.example>",
        ] {
            assert_eq!(email_address(bad), None, "{bad}");
        }
        assert_eq!(web_url("https://x.example/a?b").as_deref(), Some("https://x.example/a?b"));
        assert_eq!(web_url("HTTP://x.example").as_deref(), Some("HTTP://x.example"));
        for bad in [
            "",
            "x.example",
            "ftp://x.example",
            "https://",
            "https://x.example/a b",
            "javascript:alert(1)",
        ] {
            assert_eq!(web_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_read_with_or_without_seconds_and_zones() {
        assert_eq!(time_of_day("09:00"), Some(time(9, 0)));
        assert_eq!(time_of_day("09:30:00"), Some(time(9, 30)));
        assert_eq!(time_of_day("17:00:00Z"), Some(time(17, 0)));
        assert_eq!(time_of_day("09:00-05:00"), Some(time(9, 0)));
        assert_eq!(time_of_day("09:00:00+01:00"), Some(time(9, 0)));
        for bad in ["", "9am", "25:00", "noon"] {
            assert_eq!(time_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn opening_periods_need_readable_days_and_to_close_after_opening() {
        let weekdays = opening_hours("MO,TU,WE,TH,FR".split(','), "09:00:00", "17:00:00").unwrap();
        assert_eq!(weekdays.days, Weekday::ALL[..5].to_vec());
        assert_eq!((weekdays.opens, weekdays.closes), (time(9, 0), time(17, 0)));
        let fhir = opening_hours(["sat", "mon", "mon"], "10:00", "13:00").unwrap();
        assert_eq!(fhir.days, [Weekday::Mon, Weekday::Sat], "sorted, once each");
        assert!(opening_hours(["Monday"], "10:00", "13:00").is_some());
        assert!(opening_hours(["MO", "XX"], "09:00", "17:00").is_none(), "an unreadable day");
        assert!(opening_hours(["1MO"], "09:00", "17:00").is_none(), "monthly, not weekly");
        assert!(opening_hours(Vec::<&str>::new(), "09:00", "17:00").is_none());
        assert!(opening_hours(["MO"], "09:00", "09:00").is_none());
        assert!(opening_hours(["MO"], "nine", "17:00").is_none());
    }

    #[test]
    fn waits_become_start_dates_unless_only_bounded() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let plus = |days| today.checked_add_days(Days::new(days));
        assert_eq!(wait_start(today, "~15 on waitlist; 4–6 weeks"), plus(28));
        assert_eq!(wait_start(today, "About 6 to 8 weeks"), plus(42));
        assert_eq!(wait_start(today, "Assessment call within 2 weeks"), None);
        assert_eq!(wait_start(today, "up to 10 days"), None);
        assert_eq!(wait_start(today, "Not accepting new referrals until January"), None);
    }

    #[test]
    fn addresses_join_their_lines_once() {
        assert_eq!(
            one_line_address(["St Quintin Hall\n12 Ladbroke Row\nLondon", "", "W10 6ZZ"])
                .as_deref(),
            Some("St Quintin Hall, 12 Ladbroke Row, London, W10 6ZZ")
        );
        assert_eq!(one_line_address(["London", "london"]).as_deref(), Some("London"));
        assert_eq!(one_line_address([" ", ""]), None);
    }

    #[test]
    fn an_empty_contact_is_none_and_repeated_hours_are_kept_once() {
        assert_eq!(non_empty(ServiceContact::default()), None);
        let hours = opening_hours(["MO"], "09:00", "17:00").unwrap();
        let contact = ServiceContact {
            opening_hours: vec![hours.clone(), hours.clone()],
            ..ServiceContact::default()
        };
        assert_eq!(non_empty(contact).unwrap().opening_hours, vec![hours]);
    }
}
