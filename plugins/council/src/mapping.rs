//! The council's shapes (HSDS 3 Pages and services, Open311 requests) and their translation to
//! and from the core types. HSDS → offers is here; Open311 in `mapping/open311.rs`; the
//! taxonomy table in `mapping/taxonomy.rs`.
//!
//! Answers are read tolerantly: unknown fields are ignored, and `null` reads as empty, so a
//! directory can add fields (or spell "none" as `null`) without breaking us. What a service
//! means for a client:
//! - `status`: `active` is offered; `temporarily closed` is offered with `no_capacity`;
//!   `inactive`, `defunct` (and anything else) are not offered.
//! - `service_areas`: an area names a local authority by its ONS code (the last segment of an
//!   ONS statistical-geography `uri`, or `extent`). A service whose areas name authorities,
//!   none of them the client's, is not offered; one with no such area is.
//! - `minimum_age` / `maximum_age` against the query's age band: outside → `not_eligible`,
//!   straddling → `unknown`.
//! - `attributes` with `link_type` `eligibility` and an `esdCircumstance:` term: the service is
//!   only for people in one of those circumstances; none of them in the case → `not_eligible`,
//!   a term the connector does not know → `unknown`.
//! - `capacities[]` (HSDS 3.1), read only when `updated` within `capacity_max_age_days`: a unit
//!   whose `identifier` or `name` says "waitlist"/"waiting list" counts waiting-list places,
//!   any other unit places free now. Places now → `capacity`; else waiting-list places →
//!   `waitlist`; else → `no_capacity`. No capacities, or only stale ones → `unknown`.
//! - `wait_time` (HSDS 3.0), else a waiting list's `description`: the words join the wait
//!   estimate, and a wait they state ("About 6 to 8 weeks") becomes `earliest_start`, counted
//!   from the query's `today`; a bound ("within 10 working days") gives no date. A full or
//!   closed service gets no start date.
//! - Route: a service that links an Open311 `service_code` is `refer`; one that does not is
//!   `signpost` (the client contacts it), or `self_help` when it is used online only (an HSDS
//!   `virtual` location and no physical one).
//! - Contact (`mapping/contact.rs`): `phones`, `contacts`, `email`, `url`, `schedules` and the
//!   venue's address, each detail dropped when it does not read cleanly.

mod contact;
mod open311;
mod taxonomy;

pub(crate) use open311::{
    check_property_address, receipt, request_form, service_code, status, PostAnswer, RequestAnswer,
    PROPERTY_NEEDS,
};
pub(crate) use taxonomy::{served_needs, Taxonomy};

use chrono::{DateTime, NaiveDate};
use pathways_sdk::contact::wait_start;
use pathways_sdk::{
    is_ons_local_authority, AvailabilityQuery, Capacity, Circumstance, Eligibility, NeedCode,
    Offer, OfferLocation, Route, ServiceChannel, ServiceRef,
};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Reads `null` as the type's default (an empty list, an empty string).
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Reads a list of contact details; anything but an array reads as empty, so a malformed
/// detail never costs the service its offer.
fn lenient_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items,
        _ => Vec::new(),
    })
}

/// Reads a text field; anything but a string (`null`, a number) reads as empty.
fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(text) => text,
        _ => String::new(),
    })
}

/// An HSDS Page (only the fields we use).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Page<T> {
    pub contents: Vec<T>,
    #[serde(default)]
    pub total_pages: Option<u64>,
    #[serde(default)]
    pub last_page: Option<bool>,
}

/// An HSDS service, fully nested (only the fields we use).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Service {
    pub id: String,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub minimum_age: Option<f64>,
    #[serde(default)]
    pub maximum_age: Option<f64>,
    #[serde(default, deserialize_with = "nullable")]
    pub service_areas: Vec<ServiceArea>,
    #[serde(default, deserialize_with = "nullable")]
    pub service_at_locations: Vec<ServiceAtLocation>,
    #[serde(default, deserialize_with = "nullable")]
    pub attributes: Vec<Attribute>,
    #[serde(default, deserialize_with = "nullable")]
    pub capacities: Vec<ServiceCapacity>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub phones: Vec<Value>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub contacts: Vec<Value>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub schedules: Vec<Value>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub email: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub url: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub wait_time: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub application_process: String,
}

/// Where a service is available.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ServiceArea {
    #[serde(default, deserialize_with = "nullable")]
    pub uri: String,
    #[serde(default, deserialize_with = "nullable")]
    pub extent: String,
}

/// A service at a location.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ServiceAtLocation {
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub phones: Vec<Value>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub schedules: Vec<Value>,
}

/// A location (only the fields we use).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Location {
    #[serde(default, deserialize_with = "lenient_text")]
    pub location_type: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub name: String,
    /// Where a `virtual` location is used.
    #[serde(default, deserialize_with = "lenient_text")]
    pub url: String,
    #[serde(default, deserialize_with = "nullable")]
    pub addresses: Vec<Address>,
}

impl Location {
    /// A place someone can go to (HSDS `physical`, or no type given).
    fn is_physical(&self) -> bool {
        self.location_type.is_empty() || self.location_type.eq_ignore_ascii_case("physical")
    }

    fn is_virtual(&self) -> bool {
        self.location_type.eq_ignore_ascii_case("virtual")
    }
}

/// A venue's address (public, never a person's).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Address {
    #[serde(default, deserialize_with = "lenient_text")]
    pub address_1: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub address_2: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub city: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub postal_code: String,
}

/// A link between a service and a taxonomy term.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Attribute {
    #[serde(default, deserialize_with = "nullable")]
    pub link_type: String,
    #[serde(default, deserialize_with = "nullable")]
    pub taxonomy_term_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub value: String,
    #[serde(default)]
    pub taxonomy_term: Option<TaxonomyTerm>,
}

/// A taxonomy term (only the fields we use).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TaxonomyTerm {
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
}

impl Attribute {
    /// The term id: `taxonomy_term_id`, or the nested term's `id`.
    pub(crate) fn term(&self) -> &str {
        match (self.taxonomy_term_id.as_str(), &self.taxonomy_term) {
            ("", Some(term)) => &term.id,
            (id, _) => id,
        }
    }
}

/// An HSDS 3.1 service capacity.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ServiceCapacity {
    /// A `unit` object (`{id, name, identifier}`), or a bare string from older drafts.
    #[serde(default)]
    pub unit: Value,
    pub available: f64,
    #[serde(default)]
    pub maximum: Option<f64>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    #[serde(default, deserialize_with = "nullable")]
    pub updated: String,
}

impl ServiceCapacity {
    /// Whether the unit counts places on a waiting list rather than places free now.
    fn is_waitlist(&self) -> bool {
        let words = match &self.unit {
            Value::Object(unit) => ["identifier", "name"]
                .iter()
                .filter_map(|k| unit.get(*k).and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            Value::String(unit) => unit.clone(),
            _ => String::new(),
        }
        .to_ascii_lowercase();
        words.contains("waitlist") || words.contains("waiting list")
    }

    /// Places as a whole number; nonsense (negative, NaN) counts as none.
    fn places(&self) -> u64 {
        if self.available.is_finite() && self.available > 0.0 {
            self.available.floor() as u64
        } else {
            0
        }
    }

    /// Whether its figures were updated within `max_age_days` of `today` (an unreadable date
    /// is not trusted).
    fn is_fresh(&self, today: NaiveDate, max_age_days: u32) -> bool {
        DateTime::parse_from_rfc3339(self.updated.trim())
            .map(|at| (today - at.date_naive()).num_days() <= i64::from(max_age_days))
            .unwrap_or(false)
    }
}

/// Whether `service` may be offered to a client of `local_authority` at all.
pub(crate) fn is_offerable(service: &Service, local_authority: &str) -> bool {
    let status = service.status.trim().to_ascii_lowercase();
    if status != "active" && status != "temporarily closed" {
        return false;
    }
    let codes: Vec<&str> = service
        .service_areas
        .iter()
        .filter_map(|area| {
            let last = area.uri.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            [last, area.extent.trim()].into_iter().find(|c| is_ons_local_authority(c))
        })
        .collect();
    codes.is_empty() || codes.contains(&local_authority)
}

/// The offer of `service` for `need`, judged against `query`.
pub(crate) fn offer(
    service: &Service,
    need: NeedCode,
    query: &AvailabilityQuery,
    capacity_max_age_days: u32,
) -> Offer {
    let (capacity, said) = capacity(service, query.today, capacity_max_age_days);
    let (wait_estimate, earliest_start) = wait(service, capacity, said, query.today);
    let venue_at = service
        .service_at_locations
        .iter()
        .find(|sal| sal.location.as_ref().is_some_and(Location::is_physical));
    let venue = venue_at.and_then(|sal| sal.location.as_ref());
    let online = service
        .service_at_locations
        .iter()
        .filter_map(|sal| sal.location.as_ref())
        .find(|l| l.is_virtual());
    let channel = if venue.is_some() {
        Some(ServiceChannel::InPerson)
    } else if online.is_some() {
        Some(ServiceChannel::Online)
    } else if !service.phones.is_empty() || !service.contacts.is_empty() {
        Some(ServiceChannel::Phone)
    } else {
        None
    };
    let route = match (service_code(service), channel) {
        (Some(_), _) => Route::Refer,
        (None, Some(ServiceChannel::Online)) => Route::SelfHelp,
        (None, _) => Route::Signpost,
    };
    Offer {
        need,
        service: ServiceRef { id: service.id.clone(), name: service.name.clone() },
        eligibility: eligibility(service, query),
        capacity,
        earliest_start,
        wait_estimate,
        channel,
        location: venue.map(|l| OfferLocation {
            name: if l.name.is_empty() { service.name.clone() } else { l.name.clone() },
            postcode: l
                .addresses
                .iter()
                .map(|a| a.postal_code.trim())
                .find(|p| !p.is_empty())
                .map(str::to_string),
            distance_m: None,
        }),
        contact: contact::contact(service, venue_at, online, query.today),
        route: Some(route),
    }
}

/// The wait in words (the capacity's, with `wait_time` added unless it says the same) and the
/// start date a stated wait gives (see the module doc).
fn wait(
    service: &Service,
    capacity: Capacity,
    said: Option<String>,
    today: NaiveDate,
) -> (Option<String>, Option<NaiveDate>) {
    let wait_time = service.wait_time.trim();
    let words = match said {
        Some(said) if !wait_time.is_empty() => {
            if said.to_lowercase().contains(&wait_time.to_lowercase()) {
                Some(said)
            } else {
                Some(format!("{said}; {wait_time}"))
            }
        }
        Some(said) => Some(said),
        None => Some(wait_time.to_string()).filter(|w| !w.is_empty()),
    };
    let start = match capacity {
        Capacity::NoCapacity => None,
        _ if !wait_time.is_empty() => wait_start(today, wait_time),
        Capacity::Waitlist => words.as_deref().and_then(|w| wait_start(today, w)),
        _ => None,
    };
    (words, start)
}

/// Capacity and the words for it (see the module doc).
fn capacity(service: &Service, today: NaiveDate, max_age_days: u32) -> (Capacity, Option<String>) {
    if service.status.trim().eq_ignore_ascii_case("temporarily closed") {
        return (Capacity::NoCapacity, Some("temporarily closed".into()));
    }
    if service.capacities.is_empty() {
        return (Capacity::Unknown, None);
    }
    let fresh: Vec<&ServiceCapacity> =
        service.capacities.iter().filter(|c| c.is_fresh(today, max_age_days)).collect();
    if fresh.is_empty() {
        return (
            Capacity::Unknown,
            Some(format!("capacity not updated in the last {max_age_days} days")),
        );
    }
    let (waitlists, now): (Vec<&ServiceCapacity>, Vec<&ServiceCapacity>) =
        fresh.into_iter().partition(|c| c.is_waitlist());
    let free: u64 = now.iter().map(|c| c.places()).sum();
    if free > 0 {
        let of = now
            .iter()
            .filter_map(|c| c.maximum)
            .filter(|m| m.is_finite() && *m >= 1.0)
            .sum::<f64>();
        let words = if of >= free as f64 {
            format!("{free} of {} places free", of.floor() as u64)
        } else {
            format!("{free} places free")
        };
        return (Capacity::Capacity, Some(words));
    }
    let waiting: u64 = waitlists.iter().map(|c| c.places()).sum();
    if waiting > 0 {
        let said = waitlists.iter().map(|c| c.description.trim()).find(|d| !d.is_empty());
        let words = match said {
            Some(description) => format!("waiting list open: {description}"),
            None => format!("waiting list open ({waiting} places)"),
        };
        return (Capacity::Waitlist, Some(words));
    }
    (Capacity::NoCapacity, Some("no places free".into()))
}

/// Eligibility by age band and by the circumstances the service is restricted to.
fn eligibility(service: &Service, query: &AvailabilityQuery) -> Eligibility {
    let (youngest, oldest) = query.age_band.bounds();
    let (youngest, oldest) = (f64::from(youngest), f64::from(oldest));
    let min = service.minimum_age.filter(|a| a.is_finite() && *a > 0.0);
    let max = service.maximum_age.filter(|a| a.is_finite() && *a > 0.0);
    let ages = match (min, max) {
        (Some(min), Some(max)) => format!("for people aged {min} to {max}"),
        (Some(min), None) => format!("for people aged {min} and over"),
        (None, Some(max)) => format!("for people aged up to {max}"),
        (None, None) => String::new(),
    };
    if min.is_some_and(|m| oldest < m) || max.is_some_and(|m| youngest > m) {
        return Eligibility::NotEligible { reason: ages };
    }
    let straddles = min.is_some_and(|m| youngest < m) || max.is_some_and(|m| oldest > m);
    let restricted: Vec<&str> = service
        .attributes
        .iter()
        .filter(|a| a.link_type.eq_ignore_ascii_case("eligibility"))
        .map(Attribute::term)
        .filter(|t| t.starts_with("esdCircumstance:"))
        .collect();
    if !restricted.is_empty() {
        let has = |c: Circumstance| {
            query.circumstances.contains(&c)
                || (c == Circumstance::ChildrenInHousehold
                    && !query.household.children_ages.is_empty())
        };
        let known: Vec<(Circumstance, &str)> =
            restricted.iter().filter_map(|t| taxonomy::circumstance(t)).collect();
        if known.iter().any(|(c, _)| has(*c)) {
            return if straddles { Eligibility::Unknown } else { Eligibility::Eligible };
        }
        if known.len() < restricted.len() {
            return Eligibility::Unknown;
        }
        let who: Vec<&str> = known.iter().map(|(_, words)| *words).collect();
        return Eligibility::NotEligible { reason: format!("only for {}", who.join(" or ")) };
    }
    if straddles {
        Eligibility::Unknown
    } else {
        Eligibility::Eligible
    }
}
