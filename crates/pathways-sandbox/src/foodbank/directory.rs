//! The Give Food API v2 directory as the simulator renders it: nearest-food-bank search and a
//! single food bank, in Give Food's field names and shapes.
//!
//! Give Food answers "what does this food bank need donated", not "can it take a client"; the
//! e-voucher desk ([`super::vouchers`]) answers that.

use serde_json::{json, Value};

use super::data::{self, FoodbankSeed};
use crate::geo;

/// The public host the simulated `urls` point at (never contacted).
const GIVE_FOOD: &str = "https://www.givefood.example";

/// Most food banks a search returns, as Give Food does.
const SEARCH_LIMIT: usize = 10;

/// Why a search could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchError {
    /// Neither `address` nor `lat_lng` was given.
    MissingLocation,
    /// `lat_lng` is not `"lat,lng"`.
    BadLatLng,
    /// No known postcode district in `address`.
    UnknownAddress,
}

/// The nearest food banks (closed ones included, as Give Food lists them) to `address` or
/// `lat_lng`; `lat_lng` wins when both are given.
pub(crate) fn search(address: Option<&str>, lat_lng: Option<&str>) -> Result<Value, SearchError> {
    let origin = match (lat_lng, address) {
        (Some(lat_lng), _) => parse_lat_lng(lat_lng).ok_or(SearchError::BadLatLng)?,
        (None, Some(address)) => geo::geocode(address).ok_or(SearchError::UnknownAddress)?,
        (None, None) => return Err(SearchError::MissingLocation),
    };
    let mut nearest: Vec<(f64, &FoodbankSeed)> =
        data::FOODBANKS.iter().map(|fb| (geo::distance_m(origin, (fb.lat, fb.lng)), fb)).collect();
    nearest.sort_by(|a, b| a.0.total_cmp(&b.0));
    let list = nearest
        .into_iter()
        .take(SEARCH_LIMIT)
        .map(|(metres, fb)| search_entry(fb, metres))
        .collect();
    Ok(Value::Array(list))
}

/// One search result: the food bank's fields plus its distance.
fn search_entry(fb: &FoodbankSeed, metres: f64) -> Value {
    let mut entry = common_fields(fb);
    if let Value::Object(map) = &mut entry {
        // Give Food rounds metres to an integer and miles to two places.
        map.insert("distance_m".into(), json!(metres.round() as u64));
        map.insert("distance_mi".into(), json!((metres / 1609.344 * 100.0).round() / 100.0));
    }
    entry
}

/// One food bank in full (`GET /api/2/foodbank/{slug}/`), with its locations and neighbours.
pub(crate) fn foodbank(slug: &str) -> Option<Value> {
    let fb = data::foodbank(slug)?;
    let mut detail = common_fields(fb);
    let nearby: Vec<Value> = {
        let mut others: Vec<(f64, &FoodbankSeed)> = data::FOODBANKS
            .iter()
            .filter(|other| other.slug != fb.slug)
            .map(|other| (geo::distance_m((fb.lat, fb.lng), (other.lat, other.lng)), other))
            .collect();
        others.sort_by(|a, b| a.0.total_cmp(&b.0));
        others
            .into_iter()
            .take(5)
            .map(|(_, other)| {
                json!({
                    "name": other.name,
                    "slug": other.slug,
                    "address": other.address,
                    "lat_lng": lat_lng(other),
                    "urls": urls(other),
                })
            })
            .collect()
    };
    if let Value::Object(map) = &mut detail {
        map.insert(
            "locations".into(),
            json!([{
                "name": fb.name,
                "address": fb.address,
                "postcode": fb.postcode,
                "lat_lng": lat_lng(fb),
                "phone": fb.phone,
            }]),
        );
        map.insert("nearby_foodbanks".into(), Value::Array(nearby));
    }
    Some(detail)
}

/// The fields every Give Food food bank object carries.
fn common_fields(fb: &FoodbankSeed) -> Value {
    let need_count = fb.needs.lines().filter(|line| !line.is_empty()).count();
    json!({
        "name": fb.name,
        "alt_name": null,
        "slug": fb.slug,
        "phone": fb.phone,
        "secondary_phone": (!fb.secondary_phone.is_empty()).then_some(fb.secondary_phone),
        "email": fb.email,
        "address": fb.address,
        "postcode": fb.postcode,
        "closed": fb.closed,
        "country": "England",
        "lat_lng": lat_lng(fb),
        "network": fb.network,
        "created": "2020-03-01T09:00:00Z",
        "urls": urls(fb),
        "charity": {
            "registration_id": fb.charity_number,
            "register_url": format!(
                "https://register-of-charities.charitycommission.gov.uk/charity-details/?regId={}",
                fb.charity_number
            ),
        },
        "needs": {
            "id": format!("{:08x}", fnv1a(fb.slug)),
            "needs": fb.needs,
            "excess": fb.excess,
            "number": need_count,
            "found": "2026-11-01T08:00:00Z",
        },
        "politics": {
            "parliamentary_constituency": fb.constituency,
            "mp": null,
            "mp_party": null,
            "mp_parl_id": null,
            "ward": fb.ward,
            "district": fb.district,
        },
    })
}

fn urls(fb: &FoodbankSeed) -> Value {
    json!({
        "self": format!("{GIVE_FOOD}/api/2/foodbank/{}/", fb.slug),
        "html": format!("{GIVE_FOOD}/needs/at/{}/", fb.slug),
        "homepage": fb.homepage,
        "shopping_list": format!("{}donate/", fb.homepage),
        "map": format!("{GIVE_FOOD}/needs/at/{}/map.png", fb.slug),
    })
}

/// Parses Give Food's `lat_lng` form, `"51.52,-0.21"`.
fn parse_lat_lng(text: &str) -> Option<(f64, f64)> {
    let (lat, lng) = text.split_once(',')?;
    let lat: f64 = lat.trim().parse().ok()?;
    let lng: f64 = lng.trim().parse().ok()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng)).then_some((lat, lng))
}

fn lat_lng(fb: &FoodbankSeed) -> String {
    format!("{},{}", fb.lat, fb.lng)
}

/// A stable short id for a food bank's need list (FNV-1a; the value only has to be stable).
fn fnv1a(text: &str) -> u32 {
    text.bytes()
        .fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lat_lng_is_give_foods_comma_form_within_range() {
        assert_eq!(parse_lat_lng("51.52,-0.21"), Some((51.52, -0.21)));
        assert_eq!(parse_lat_lng("91,0"), None);
        assert_eq!(parse_lat_lng("abc"), None);
    }

    #[test]
    fn search_by_district_lists_the_nearest_first_with_give_food_fields() {
        let list = search(Some("W10"), None).unwrap();
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), data::FOODBANKS.len().min(SEARCH_LIMIT));
        assert_eq!(list[0]["slug"], "north-kensington");
        let distances: Vec<u64> =
            list.iter().map(|fb| fb["distance_m"].as_u64().unwrap()).collect();
        assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
        for field in [
            "name", "slug", "phone", "email", "address", "postcode", "closed", "lat_lng", "network",
        ] {
            assert!(list[0].get(field).is_some(), "missing {field}");
        }
        assert!(list[0]["urls"]["homepage"].is_string());
        assert!(list[0]["needs"]["needs"].is_string());
        assert!(list[0]["lat_lng"].as_str().unwrap().contains(','));
    }

    #[test]
    fn phones_are_listed_as_typed_with_a_second_number_where_given() {
        let list = search(Some("SY8"), None).unwrap();
        let ludlow = &list[0];
        assert_eq!(ludlow["slug"], "ludlow-district");
        assert_eq!(ludlow["phone"], "01632 960102 (Thursdays only)");
        assert_eq!(ludlow["secondary_phone"], "07700 900102");
        assert_eq!(ludlow["urls"]["homepage"], data::foodbank("ludlow-district").unwrap().homepage);
        let london = search(Some("W10"), None).unwrap();
        assert_eq!(
            (&london[0]["phone"], &london[0]["secondary_phone"]),
            (&json!("020 7946 0101"), &Value::Null)
        );
    }

    #[test]
    fn search_by_lat_lng_and_errors() {
        let list = search(None, Some("54.11,-3.23")).unwrap();
        assert_eq!(list[0]["slug"], "furness");
        assert_eq!(search(None, None), Err(SearchError::MissingLocation));
        assert_eq!(search(None, Some("north")), Err(SearchError::BadLatLng));
        assert_eq!(search(Some("Atlantis"), None), Err(SearchError::UnknownAddress));
    }

    #[test]
    fn detail_has_locations_and_neighbours() {
        let fb = foodbank("shrewsbury").unwrap();
        assert_eq!(fb["name"], "Shrewsbury Food Bank");
        assert_eq!(fb["locations"][0]["postcode"], "SY1 2ZZ");
        assert!(fb["nearby_foodbanks"].as_array().is_some_and(|n| !n.is_empty()));
        assert!(foodbank("nowhere").is_none());
    }
}
