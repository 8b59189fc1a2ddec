//! How to reach an NHS service, read into the offer's [`ServiceContact`] and location.
//!
//! - `telecom`: the best-ranked `phone`, `email` and `url` (`rank` 1 first, unranked after);
//!   a contact point whose `use` is `old` is skipped.
//! - `availableTime`: `daysOfWeek` with `availableStartTime`/`availableEndTime`, or `allDay`
//!   (read as 00:00 to 23:59).
//! - `location`: the `Location` the search included (`_include=HealthcareService:location`),
//!   for its name and address (`line`, `city`, `postalCode`, else `text`).
//! - `extraDetails`: how to be referred, in the service's words.
//!
//! Each detail that does not read cleanly is left out (`pathways_sdk::contact`); the offer stays.

use std::collections::HashMap;

use chrono::NaiveTime;
use pathways_sdk::contact::{
    email_address, non_empty, one_line_address, opening_hours, phone_number, web_url,
};
use pathways_sdk::{OpeningHours, ServiceContact};
use serde_json::Value;

use crate::fhir::{Bundle, HealthcareService, Location, Resource};

/// The Locations a searchset carries, by `Location/{id}`.
pub(crate) fn locations(bundle: &Bundle) -> HashMap<String, &Location> {
    bundle
        .entry
        .iter()
        .filter_map(|e| match &e.resource {
            Some(Resource::Location(l)) => Some((format!("Location/{}", l.id.as_str()?), l)),
            _ => None,
        })
        .collect()
}

/// The included Location a service's `location` reference names (`Location/x`, relative or
/// absolute), if the search carried it.
pub(crate) fn location_of<'a>(
    service: &HealthcareService,
    found: &HashMap<String, &'a Location>,
) -> Option<&'a Location> {
    service.location.iter().filter_map(|r| r.reference.as_deref()).find_map(|reference| {
        let mut parts = reference.trim_end_matches('/').rsplit('/');
        let (id, kind) = (parts.next()?, parts.next()?);
        found.get(&format!("{kind}/{id}")).copied()
    })
}

/// A Location's postcode, when its address gives one.
pub(crate) fn postcode(location: &Location) -> Option<String> {
    let text = location.address.get("postalCode").and_then(Value::as_str)?.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// How to reach `service`, seen at `location` if the search carried it.
pub(crate) fn contact(
    service: &HealthcareService,
    location: Option<&Location>,
) -> Option<ServiceContact> {
    let how = service.extra_details.as_str().map(str::trim).filter(|t| !t.is_empty());
    non_empty(ServiceContact {
        phone: telecom(service, "phone", phone_number),
        email: telecom(service, "email", email_address),
        url: telecom(service, "url", web_url),
        address: location.and_then(address),
        opening_hours: hours(&service.available_time),
        how_to_apply: how.map(str::to_string),
    })
}

/// The best-ranked contact point of `system` that reads with `read`.
fn telecom(
    service: &HealthcareService,
    system: &str,
    read: fn(&str) -> Option<String>,
) -> Option<String> {
    let mut points: Vec<&Value> = service
        .telecom
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p.get("system").and_then(Value::as_str) == Some(system))
        .filter(|p| p.get("use").and_then(Value::as_str) != Some("old"))
        .collect();
    points.sort_by_key(|p| p.get("rank").and_then(Value::as_u64).unwrap_or(u64::MAX));
    points.into_iter().find_map(|p| read(p.get("value").and_then(Value::as_str)?))
}

/// A Location's name and address in one line.
fn address(location: &Location) -> Option<String> {
    let address = &location.address;
    let text = |key: &str| address.get(key).and_then(Value::as_str).unwrap_or("");
    let lines = address.get("line").and_then(Value::as_array).into_iter().flatten();
    let mut parts: Vec<&str> = vec![location.name.as_str().unwrap_or("")];
    parts.extend(lines.filter_map(Value::as_str));
    parts.extend([text("city"), text("postalCode")]);
    let structured = parts.len() > 1 && parts[1..].iter().any(|p| !p.trim().is_empty());
    if structured {
        one_line_address(parts)
    } else {
        one_line_address([parts[0], text("text")])
    }
}

/// Weekly opening periods from `availableTime`.
fn hours(available: &Value) -> Vec<OpeningHours> {
    let last_minute = NaiveTime::from_hms_opt(23, 59, 0).unwrap_or(NaiveTime::MIN);
    available
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let days = a.get("daysOfWeek").and_then(Value::as_array)?;
            let days = days.iter().map(|d| d.as_str().unwrap_or("?"));
            if a.get("allDay").and_then(Value::as_bool) == Some(true) {
                let all = opening_hours(days, "00:00", "23:59")?;
                return Some(OpeningHours { closes: last_minute, ..all });
            }
            let time = |key: &str| a.get(key).and_then(Value::as_str).unwrap_or("");
            opening_hours(days, time("availableStartTime"), time("availableEndTime"))
        })
        .collect()
}
