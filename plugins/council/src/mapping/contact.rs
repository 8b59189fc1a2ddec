//! How to reach an HSDS service, read into the offer's [`ServiceContact`].
//!
//! - Phone: the first voice (or untyped, or mobile) number among the service's `phones`, then
//!   its `contacts[].phones`, then the venue's; fax, text, pager and video numbers are not
//!   something to read aloud to a client. An `extension` is written after the number.
//! - Email: the service's `email`, else a contact's. URL: the service's `url`, else where its
//!   `virtual` location is used.
//! - Address: the venue's name and first address, in one line.
//! - Opening hours: the service's weekly `schedules` (`byday`, `opens_at`, `closes_at`), else
//!   the venue's; monthly ones and ones outside their `valid_from`/`valid_to` are left out.
//! - How to apply: `application_process`, in the council's words.
//!
//! Each detail that does not read cleanly is left out (`pathways_sdk::contact`); the offer stays.

use chrono::NaiveDate;
use pathways_sdk::contact::{
    email_address, non_empty, one_line_address, opening_hours, phone_with_extension, web_url,
};
use pathways_sdk::{OpeningHours, ServiceContact};
use serde_json::Value;

use super::{Location, Service, ServiceAtLocation};

/// Phone types (RFC 6350, as HSDS uses them) a client can call.
const CALLABLE: &[&str] = &["", "voice", "cell", "work", "main"];

/// The contact details `service` publishes; `venue` is its physical service-at-location and
/// `online` its virtual location, if any. `None` when it publishes none that read.
pub(crate) fn contact(
    service: &Service,
    venue: Option<&ServiceAtLocation>,
    online: Option<&Location>,
    today: NaiveDate,
) -> Option<ServiceContact> {
    let contact_phones = service.contacts.iter().flat_map(|c| list(c, "phones"));
    let venue_phones = venue.into_iter().flat_map(|v| v.phones.iter());
    let phone = service.phones.iter().chain(contact_phones).chain(venue_phones).find_map(phone);
    let email = std::iter::once(service.email.as_str())
        .chain(service.contacts.iter().filter_map(|c| c.get("email").and_then(Value::as_str)))
        .find_map(email_address);
    let url =
        [service.url.as_str(), online.map_or("", |l| l.url.as_str())].into_iter().find_map(web_url);
    let location = venue.and_then(|v| v.location.as_ref());
    let address = location.and_then(|l| {
        let first = l.addresses.first()?;
        let name = Some(l.name.as_str()).filter(|n| !n.eq_ignore_ascii_case(&first.address_1));
        let parts = [name.unwrap_or(""), &first.address_1, &first.address_2, &first.city];
        one_line_address(parts.into_iter().chain([first.postal_code.as_str()]))
    });
    let mut hours = weekly_hours(&service.schedules, today);
    if hours.is_empty() {
        hours = weekly_hours(venue.map_or(&[][..], |v| &v.schedules), today);
    }
    let how_to_apply =
        Some(service.application_process.trim().to_string()).filter(|t| !t.is_empty());
    non_empty(ServiceContact { phone, email, url, address, opening_hours: hours, how_to_apply })
}

/// The array under `key` of a JSON object, or nothing.
fn list<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// A callable number from an HSDS `phone` object.
fn phone(value: &Value) -> Option<String> {
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("").trim().to_ascii_lowercase();
    if !CALLABLE.contains(&kind.as_str()) {
        return None;
    }
    let number = value.get("number").and_then(Value::as_str)?;
    let extension = match value.get("extension") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    phone_with_extension(number, extension.as_deref())
}

/// The weekly opening periods among HSDS `schedules` that apply on `today`.
fn weekly_hours(schedules: &[Value], today: NaiveDate) -> Vec<OpeningHours> {
    fn text<'a>(s: &'a Value, key: &str) -> &'a str {
        s.get(key).and_then(Value::as_str).unwrap_or("").trim()
    }
    let date = |s: &Value, key: &str| NaiveDate::parse_from_str(text(s, key), "%Y-%m-%d").ok();
    schedules
        .iter()
        .filter(|s| matches!(text(s, "freq").to_ascii_uppercase().as_str(), "" | "WEEKLY"))
        .filter(|s| date(s, "valid_from").is_none_or(|from| from <= today))
        .filter(|s| date(s, "valid_to").is_none_or(|to| to >= today))
        .filter_map(|s| {
            opening_hours(text(s, "byday").split(','), text(s, "opens_at"), text(s, "closes_at"))
        })
        .collect()
}
