//! The HSDS 3.0 directory: service objects built from the seed, the `/services` filters, and
//! the Page that lists them.
//!
//! Objects follow the published schemas (see `standards/hsds`), with the HSDS 3.1
//! `capacities[]` added to services. Filters follow the OpenAPI descriptions: `postcode` keeps
//! services whose service area covers the postcode's local authority, and `proximity` (metres)
//! keeps services with a venue that near the postcode's centre; a service with no venue (phone,
//! online, home visits) passes `proximity` when its area covers the postcode.

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use serde_json::{json, Value};

use super::data::{self, ids, CapacitySeed, ServiceSeed};
use crate::geo::{self, District};
use crate::CapacityOverride;

/// The taxonomy term linking a service to the Open311 `service_code` (its attribute `value`)
/// under which it takes referrals.
pub(crate) const OPEN311_TERM: &str = "open311:service_code";

/// What the directory's answers depend on besides the seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    pub today: NaiveDate,
    pub capacity: Option<CapacityOverride>,
}

impl Context {
    /// 08:30 UTC `days` before today: when seeded figures were last updated.
    fn days_ago(&self, days: u32) -> DateTime<Utc> {
        let day = self.today.checked_sub_days(Days::new(u64::from(days))).unwrap_or(self.today);
        day.and_time(NaiveTime::from_hms_opt(8, 30, 0).unwrap_or_default()).and_utc()
    }
}

/// `GET /services` parameters after checking.
#[derive(Debug, Default)]
pub(crate) struct Search {
    text: Option<String>,
    term: Option<String>,
    taxonomy: Option<String>,
    organization_id: Option<String>,
    modified_after: Option<DateTime<Utc>>,
    district: Option<&'static District>,
    proximity_m: Option<f64>,
    page: usize,
    per_page: usize,
    full: bool,
}

/// Parameters `/services` understands; anything else is refused, so a misspelt filter cannot
/// silently widen the search.
const PARAMS: &[&str] = &[
    "search",
    "page",
    "per_page",
    "taxonomy_term_id",
    "taxonomy_id",
    "organization_id",
    "modified_after",
    "full",
    "postcode",
    "proximity",
];

impl Search {
    /// Checks the query parameters; the error names the parameter, never its value.
    pub(crate) fn parse(
        params: &HashMap<String, String>,
        max_per_page: usize,
    ) -> Result<Self, String> {
        if let Some(unknown) = params.keys().find(|k| !PARAMS.contains(&k.as_str())) {
            return Err(format!("unknown parameter `{unknown}`; known: {}", PARAMS.join(", ")));
        }
        let get = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let number = |name: &str, default: usize| match get(name) {
            None => Ok(default),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!("`{name}` must be a whole number of at least 1")),
            },
        };
        let district = match get("postcode") {
            None => None,
            Some(text) => Some(
                geo::district_of(text)
                    .ok_or("`postcode` is not a postcode or district this directory knows")?,
            ),
        };
        let proximity_m = match get("proximity") {
            None => None,
            Some(_) if district.is_none() => return Err("`proximity` needs `postcode`".into()),
            Some(text) => match text.parse::<f64>() {
                Ok(m) if m.is_finite() && m > 0.0 => Some(m),
                _ => return Err("`proximity` must be a positive number of metres".into()),
            },
        };
        let modified_after =
            match get("modified_after") {
                None => None,
                Some(text) => Some(parse_datetime(text).ok_or(
                    "`modified_after` must be a date (2026-11-20) or a date-time (RFC 3339)",
                )?),
            };
        let full = match get("full") {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err("`full` must be `true` or `false`".into()),
        };
        Ok(Search {
            text: get("search").map(str::to_lowercase),
            term: get("taxonomy_term_id").map(str::to_string),
            taxonomy: get("taxonomy_id").map(str::to_string),
            organization_id: get("organization_id").map(str::to_string),
            modified_after,
            district,
            proximity_m,
            page: number("page", 1)?,
            per_page: number("per_page", max_per_page)?.min(max_per_page),
            full,
        })
    }

    fn matches(&self, seed: &ServiceSeed, ctx: &Context) -> bool {
        let terms = || seed.terms.iter().chain(seed.for_circumstances);
        let text_ok = self.text.as_ref().is_none_or(|text| {
            seed.name.to_lowercase().contains(text)
                || seed.description.to_lowercase().contains(text)
        });
        let term_ok = self.term.as_ref().is_none_or(|term| {
            terms().any(|t| t == term) || (term == OPEN311_TERM && seed.open311.is_some())
        });
        let taxonomy_ok = self
            .taxonomy
            .as_ref()
            .is_none_or(|taxonomy| terms().any(|t| t.split(':').next() == Some(taxonomy.as_str())));
        let org_ok = self
            .organization_id
            .as_ref()
            .is_none_or(|id| *id == ids::of("organization", seed.organisation));
        let modified_ok = self.modified_after.is_none_or(|after| last_modified(seed, ctx) >= after);
        let area_ok = self.district.is_none_or(|d| d.local_authority == seed.area);
        let near_ok = match (self.district, self.proximity_m, seed.venue) {
            (Some(d), Some(limit), Some(v)) => {
                geo::distance_m((d.lat, d.lng), (v.lat, v.lng)) <= limit
            }
            _ => true,
        };
        text_ok && term_ok && taxonomy_ok && org_ok && modified_ok && area_ok && near_ok
    }
}

/// `GET /services`: one Page of the services matching `search`.
pub(crate) fn services_page(search: &Search, ctx: &Context) -> Value {
    let found: Vec<&ServiceSeed> =
        data::services().iter().filter(|s| search.matches(s, ctx)).collect();
    let total_items = found.len();
    let total_pages = total_items.div_ceil(search.per_page);
    let start = (search.page - 1).saturating_mul(search.per_page);
    let contents: Vec<Value> = found
        .iter()
        .skip(start)
        .take(search.per_page)
        .map(|s| service(s, ctx, search.full))
        .collect();
    json!({
        "total_items": total_items,
        "total_pages": total_pages,
        "page_number": search.page,
        "size": contents.len(),
        "first_page": search.page == 1,
        "last_page": search.page >= total_pages,
        "empty": contents.is_empty(),
        "contents": contents,
    })
}

/// A service object: the one-to-one fields and its organisation, plus every related array
/// when `full` (as `GET /services/{id}` always is).
pub(crate) fn service(seed: &ServiceSeed, ctx: &Context, full: bool) -> Value {
    let id = ids::service(seed.key);
    let org = data::organisation(seed.organisation);
    let mut out = json!({
        "id": id,
        "organization_id": ids::of("organization", seed.organisation),
        "name": seed.name,
        "description": seed.description,
        "status": seed.status,
        "eligibility_description": seed.eligibility,
        "application_process": seed.application_process,
        "last_modified": last_modified(seed, ctx).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "organization": org.map(|o| json!({
            "id": ids::of("organization", o.key),
            "name": o.name,
            "description": o.description,
            "website": o.website,
        })),
    });
    if let Some(age) = seed.minimum_age {
        out["minimum_age"] = json!(age);
    }
    if let Some(age) = seed.maximum_age {
        out["maximum_age"] = json!(age);
    }
    for (field, value) in [("email", seed.email), ("url", seed.url), ("wait_time", seed.wait_time)]
    {
        if !value.is_empty() {
            out[field] = json!(value);
        }
    }
    if !full {
        return out;
    }
    let phones = || {
        let phone =
            json!({"id": ids::of("phone", seed.key), "number": seed.phone, "type": "voice"});
        json!(if seed.phone.is_empty() { Vec::new() } else { vec![phone] })
    };
    out["phones"] = phones();
    out["schedules"] = json!(if seed.byday.is_empty() {
        Vec::new()
    } else {
        vec![json!({
            "id": ids::of("schedule", seed.key),
            "service_id": id,
            "freq": "WEEKLY",
            "wkst": "MO",
            "byday": seed.byday,
            "opens_at": seed.opens_at,
            "closes_at": seed.closes_at,
            "description": opening_words(seed),
        })]
    });
    out["service_areas"] = json!([{
        "id": ids::of("service_area", seed.key),
        "service_id": id,
        "name": area_name(seed.area),
        "description": format!("Residents of {}", area_name(seed.area)),
        "extent_type": "text",
        "extent": seed.area,
        "uri": format!("http://statistics.data.gov.uk/id/statistical-geography/{}", seed.area),
    }]);
    let mut at_locations: Vec<Value> = seed
        .venue
        .map(|v| {
            json!({
                "id": ids::of("service_at_location", seed.key),
                "service_id": id,
                "location_id": ids::of("location", v.name),
                "location": {
                    "id": ids::of("location", v.name),
                    "location_type": "physical",
                    "name": v.name,
                    "latitude": v.lat,
                    "longitude": v.lng,
                    "addresses": [{
                        "id": ids::of("address", v.name),
                        "location_id": ids::of("location", v.name),
                        "address_1": v.address_1,
                        "city": v.city,
                        "state_province": county(seed.area),
                        "postal_code": v.postcode,
                        "country": "GB",
                        "address_type": "physical",
                    }],
                },
            })
        })
        .into_iter()
        .collect();
    if !seed.online_at.is_empty() {
        // HSDS 3: an online service is at a `virtual` location whose `url` is where it is used.
        at_locations.push(json!({
            "id": ids::of("service_at_location", &format!("{}/online", seed.key)),
            "service_id": id,
            "location_id": ids::of("location", seed.online_at),
            "location": {
                "id": ids::of("location", seed.online_at),
                "location_type": "virtual",
                "name": format!("{} (online)", seed.name),
                "url": seed.online_at,
            },
        }));
    }
    out["service_at_locations"] = json!(at_locations);
    let mut contact = json!({
        "id": ids::of("contact", seed.key),
        "service_id": id,
        "name": if seed.open311.is_some() { "Referrals team" } else { "Enquiries" },
        "phones": phones(),
    });
    if !seed.email.is_empty() {
        contact["email"] = json!(seed.email);
    }
    out["contacts"] = json!([contact]);
    out["attributes"] = json!(attributes(seed, &id));
    out["capacities"] = json!(capacities(seed, ctx));
    out
}

/// The schedule in words, as a directory editor would write its `description`.
fn opening_words(seed: &ServiceSeed) -> String {
    let days: Vec<&str> = seed
        .byday
        .split(',')
        .map(|d| match d.trim() {
            "MO" => "Mondays",
            "TU" => "Tuesdays",
            "WE" => "Wednesdays",
            "TH" => "Thursdays",
            "FR" => "Fridays",
            "SA" => "Saturdays",
            "SU" => "Sundays",
            other => other,
        })
        .collect();
    let days = match days.as_slice() {
        ["Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays"] => "Monday to Friday".into(),
        [one] => (*one).to_string(),
        [first @ .., last] => format!("{} and {last}", first.join(", ")),
        [] => String::new(),
    };
    let time = |t: &str| t.get(..5).unwrap_or(t).to_string();
    format!("{days}, {} to {}, except bank holidays", time(seed.opens_at), time(seed.closes_at))
}

/// Taxonomy tags: needs and service types describe it, circumstances restrict it, and the
/// Open311 link says where referrals go.
fn attributes(seed: &ServiceSeed, service_id: &str) -> Vec<Value> {
    let tag = |term_id: &str, link_type: &str, value: Option<&str>| {
        let (name, description) = match data::term(term_id) {
            Some((_, name, description)) => (*name, *description),
            None => (
                "Open311 service code",
                "Takes referrals as Open311 GeoReport v2 service requests with this service_code",
            ),
        };
        let (taxonomy, code) = term_id.split_once(':').unwrap_or((term_id, ""));
        let mut attribute = json!({
            "id": ids::of("attribute", &format!("{}/{term_id}", seed.key)),
            "link_id": service_id,
            "link_type": link_type,
            "link_entity": "service",
            "taxonomy_term_id": term_id,
            "taxonomy_term": {
                "id": term_id,
                "code": code,
                "name": name,
                "description": description,
                "taxonomy": taxonomy,
            },
        });
        if let Some(value) = value {
            attribute["value"] = json!(value);
        }
        attribute
    };
    let mut out: Vec<Value> = seed
        .terms
        .iter()
        .map(|t| tag(t, if t.starts_with("esdNeed:") { "need" } else { "service_type" }, None))
        .collect();
    out.extend(seed.for_circumstances.iter().map(|t| tag(t, "eligibility", None)));
    if let Some(o) = seed.open311 {
        out.push(tag(OPEN311_TERM, "referral", Some(o.code)));
    }
    out
}

/// The capacity a service has once the `capacity` fault knob is applied.
pub(crate) fn effective_capacity(
    seed: &ServiceSeed,
    knob: Option<CapacityOverride>,
) -> Option<CapacitySeed> {
    let base = seed.capacity.unwrap_or(CapacitySeed {
        available: 0,
        maximum: 10,
        waitlist: None,
        age_days: 0,
        note: "",
    });
    match knob {
        None => seed.capacity,
        Some(CapacityOverride::Open) => {
            Some(CapacitySeed { available: base.maximum.max(1), waitlist: None, ..base })
        }
        Some(CapacityOverride::Waitlist) => Some(CapacitySeed {
            available: 0,
            waitlist: Some(base.waitlist.unwrap_or(0).max(10)),
            ..base
        }),
        Some(CapacityOverride::Full) => {
            Some(CapacitySeed { available: 0, waitlist: base.waitlist.map(|_| 0), ..base })
        }
    }
}

/// HSDS 3.1 `capacities[]`: places free now and, where kept, places left on a waiting list.
fn capacities(seed: &ServiceSeed, ctx: &Context) -> Vec<Value> {
    let Some(c) = effective_capacity(seed, ctx.capacity) else {
        return Vec::new();
    };
    let updated = ctx.days_ago(c.age_days).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut out = vec![json!({
        "id": ids::of("capacity", seed.key),
        "unit": {"id": ids::of("unit", "place"), "name": "Place", "identifier": "place"},
        "available": c.available,
        "maximum": c.maximum,
        "description": "Places free now",
        "updated": updated,
    })];
    if let Some(places) = c.waitlist {
        let description = if c.note.is_empty() {
            "Places left on the waiting list".to_string()
        } else {
            format!("Places left on the waiting list; wait {}", c.note)
        };
        out.push(json!({
            "id": ids::of("capacity", &format!("{}/waitlist", seed.key)),
            "unit": {"id": ids::of("unit", "waitlist"), "name": "Waiting list place", "identifier": "waitlist"},
            "available": places,
            "description": description,
            "updated": updated,
        }));
    }
    out
}

/// When the service's record last changed: its capacity update, or a month ago.
fn last_modified(seed: &ServiceSeed, ctx: &Context) -> DateTime<Utc> {
    ctx.days_ago(seed.capacity.map_or(30, |c| c.age_days))
}

fn area_name(code: &str) -> &'static str {
    match code {
        "E09000020" => "Royal Borough of Kensington and Chelsea",
        "E06000051" => "Shropshire",
        "E07000027" => "Barrow-in-Furness",
        _ => "the council's area",
    }
}

fn county(code: &str) -> &'static str {
    match code {
        "E09000020" => "Greater London",
        "E07000027" => "Cumbria",
        _ => "Shropshire",
    }
}

/// A date (`2026-11-20`, meaning its start) or an RFC 3339 date-time.
fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(day.and_time(NaiveTime::MIN).and_utc())
}
