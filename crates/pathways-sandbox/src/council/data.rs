//! The seeded world of the council simulator: the organisations and services of three
//! fictional but plausible council directories, and the taxonomy terms that tag them.
//!
//! - Kensington and Chelsea (E09000020), an inner-London borough with a service for most needs;
//! - Shropshire (E06000051), a rural county with several services and enough befriending
//!   schemes around Ludlow that one search spans more than one page;
//! - Barrow-in-Furness (E07000027), a district where little is open.
//!
//! Some services are full, some keep a waiting list, some are closed, inactive or defunct, some
//! are for over-60s or over-65s only, and some are only for carers or families. Services that
//! take referrals carry an attribute linking them to an Open311 `service_code`.
//!
//! The taxonomy term identifiers are CURIEs of the LGA's ESD lists (`esdNeed:`,
//! `esdServiceType:`, `esdCircumstance:`) as this sandbox uses them; apart from `esdNeed:69`
//! the numbers are illustrative. Every name, address and telephone number (Ofcom drama
//! ranges) is invented.

use super::seed::{SERVICES, TERMS};

/// A taxonomy term: its CURIE id, name and description.
pub(crate) type Term = (&'static str, &'static str, &'static str);

/// An organisation that provides services.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Organisation {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub website: &'static str,
}

/// Where a service is delivered in person.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Venue {
    pub name: &'static str,
    pub address_1: &'static str,
    pub city: &'static str,
    pub postcode: &'static str,
    pub lat: f64,
    pub lng: f64,
}

/// A service's seeded capacity (HSDS 3.1 `capacities[]`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CapacitySeed {
    /// Places free now.
    pub available: u32,
    /// Places in all.
    pub maximum: u32,
    /// Places left on the waiting list, when the service keeps one.
    pub waitlist: Option<u32>,
    /// How many days before the directory's today the figures were last updated.
    pub age_days: u32,
    /// The service's own words on the wait, if any.
    pub note: &'static str,
}

/// How a service takes referrals through Open311 GeoReport v2.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Open311Seed {
    /// The GeoReport `service_code`.
    pub code: &'static str,
    /// The GeoReport `group`.
    pub group: &'static str,
    /// Comma-separated GeoReport `keywords`.
    pub keywords: &'static str,
    /// The request is about a property, so a location (`address_string` or `lat`/`long`) is
    /// required, as GeoReport v2 requires for every request.
    pub needs_location: bool,
}

/// One seeded service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServiceSeed {
    /// Stable key; the HSDS ids derive from it.
    pub key: &'static str,
    pub organisation: &'static str,
    /// ONS code of the local authority it serves (its service area).
    pub area: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub eligibility: &'static str,
    pub application_process: &'static str,
    /// HSDS `status`: `active | inactive | defunct | temporarily closed`.
    pub status: &'static str,
    pub minimum_age: Option<u32>,
    pub maximum_age: Option<u32>,
    /// `esdNeed:` and `esdServiceType:` terms describing it.
    pub terms: &'static [&'static str],
    /// `esdCircumstance:` terms it is restricted to (any one qualifies).
    pub for_circumstances: &'static [&'static str],
    pub capacity: Option<CapacitySeed>,
    pub open311: Option<Open311Seed>,
    /// `None` for a service delivered by phone, online or at home.
    pub venue: Option<Venue>,
    /// Where an online-only service is used (an HSDS `virtual` location); empty for none.
    pub online_at: &'static str,
    /// Telephone number as published; empty for none.
    pub phone: &'static str,
    /// The service's email address (HSDS `service.email`); empty for none.
    pub email: &'static str,
    /// The service's web page (HSDS `service.url`); empty for none.
    pub url: &'static str,
    /// HSDS `wait_time`: the wait a client may expect, in words; empty when not published.
    pub wait_time: &'static str,
    /// RFC 5545 `BYDAY` of its opening days, e.g. `MO,WE,FR`.
    pub byday: &'static str,
    pub opens_at: &'static str,
    pub closes_at: &'static str,
}

/// The defaults every seeded service starts from.
pub(crate) const BASE: ServiceSeed = ServiceSeed {
    key: "",
    organisation: "",
    area: "",
    name: "",
    description: "",
    eligibility: "Anyone who lives in the area.",
    application_process: "Ask a professional to refer you, or phone us.",
    status: "active",
    minimum_age: None,
    maximum_age: None,
    terms: &[],
    for_circumstances: &[],
    capacity: None,
    open311: None,
    venue: None,
    online_at: "",
    phone: "",
    email: "",
    url: "",
    wait_time: "",
    byday: "MO,TU,WE,TH,FR",
    opens_at: "09:00:00",
    closes_at: "17:00:00",
};

/// Every seeded service, in directory order.
pub(crate) fn services() -> &'static [ServiceSeed] {
    SERVICES
}

/// A seeded service by its HSDS id.
pub(crate) fn service_by_id(id: &str) -> Option<&'static ServiceSeed> {
    SERVICES.iter().find(|s| ids::service(s.key) == id)
}

/// A seeded service by its Open311 `service_code`.
pub(crate) fn service_by_code(code: &str) -> Option<&'static ServiceSeed> {
    SERVICES.iter().find(|s| s.open311.is_some_and(|o| o.code == code))
}

/// A taxonomy term by its CURIE id.
pub(crate) fn term(id: &str) -> Option<&'static Term> {
    TERMS.iter().find(|(term_id, _, _)| *term_id == id)
}

/// An organisation by its key.
pub(crate) fn organisation(key: &str) -> Option<&'static Organisation> {
    super::seed::ORGANISATIONS.iter().find(|o| o.key == key)
}

/// Stable UUID-shaped identifiers derived from seed keys, so that ids survive restarts and
/// reorderings of the seed table.
pub(crate) mod ids {
    /// The HSDS id of the service with `key`.
    pub(crate) fn service(key: &str) -> String {
        uuid("service", key)
    }

    /// An id for the `kind` of object (`location`, `capacity`, ...) belonging to `key`.
    pub(crate) fn of(kind: &str, key: &str) -> String {
        uuid(kind, key)
    }

    /// A version-5-shaped UUID from two FNV-1a hashes of `kind/key`.
    fn uuid(kind: &str, key: &str) -> String {
        let text = format!("{kind}/{key}");
        let high = fnv1a(0xcbf2_9ce4_8422_2325, &text);
        let low = fnv1a(0x8422_2325_cbf2_9ce4, &text);
        let high = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_5000;
        let low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xFFFF,
            high & 0xFFFF,
            low >> 48,
            low & 0xFFFF_FFFF_FFFF
        )
    }

    fn fnv1a(seed: u64, text: &str) -> u64 {
        text.bytes().fold(seed, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_shaped_stable_and_distinct() {
        let id = ids::service("rbkc-welfare-rights");
        assert_eq!(id.len(), 36);
        assert_eq!(id, ids::service("rbkc-welfare-rights"));
        assert_eq!(&id[14..15], "5");
        let mut all: Vec<String> = services().iter().map(|s| ids::service(s.key)).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), services().len(), "every service has its own id");
    }

    #[test]
    fn every_seed_refers_to_known_terms_organisations_and_codes() {
        for s in services() {
            assert!(organisation(s.organisation).is_some(), "{}", s.key);
            for t in s.terms.iter().chain(s.for_circumstances) {
                assert!(term(t).is_some(), "{}: {t}", s.key);
            }
            if let Some(o) = s.open311 {
                assert_eq!(service_by_code(o.code).map(|f| f.key), Some(s.key));
            }
            assert!(
                ["active", "inactive", "defunct", "temporarily closed"].contains(&s.status),
                "{}",
                s.key
            );
        }
    }
}
