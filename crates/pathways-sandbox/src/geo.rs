//! Placing postcodes on the map, for every simulator that searches by place: the postcode
//! districts the sandbox knows (their approximate centres and the local authority each lies
//! in), finding the district of a postcode or of an address ending in one, and straight-line
//! distances.
//!
//! One table serves the food bank directory (nearest food banks to an address) and the
//! council directory (services whose area covers a postcode's local authority), so the two
//! simulators place a postcode in the same spot.

/// A postcode district the sandbox can place: its centre and its local authority's ONS code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct District {
    pub code: &'static str,
    pub lat: f64,
    pub lng: f64,
    pub local_authority: &'static str,
}

impl District {
    /// The district's centre as `(latitude, longitude)`.
    pub(crate) fn centre(&self) -> (f64, f64) {
        (self.lat, self.lng)
    }
}

const KC: &str = "E09000020";
const SHROPSHIRE: &str = "E06000051";
const BARROW: &str = "E07000027";

/// Approximate centres of the districts the sandbox knows; a district straddling a boundary
/// is given the authority that holds most of it.
const DISTRICTS: &[District] = &[
    District { code: "W2", lat: 51.5150, lng: -0.1800, local_authority: "E09000033" },
    District { code: "W8", lat: 51.5010, lng: -0.1930, local_authority: KC },
    District { code: "W10", lat: 51.5225, lng: -0.2150, local_authority: KC },
    District { code: "W11", lat: 51.5130, lng: -0.2050, local_authority: KC },
    District { code: "W14", lat: 51.4950, lng: -0.2090, local_authority: "E09000013" },
    District { code: "SW1A", lat: 51.5010, lng: -0.1410, local_authority: "E09000033" },
    District { code: "SW3", lat: 51.4900, lng: -0.1680, local_authority: KC },
    District { code: "SW5", lat: 51.4900, lng: -0.1910, local_authority: KC },
    District { code: "SW7", lat: 51.4960, lng: -0.1760, local_authority: KC },
    District { code: "SW10", lat: 51.4830, lng: -0.1830, local_authority: KC },
    District { code: "SY1", lat: 52.7160, lng: -2.7440, local_authority: SHROPSHIRE },
    District { code: "SY2", lat: 52.7050, lng: -2.7220, local_authority: SHROPSHIRE },
    District { code: "SY3", lat: 52.7000, lng: -2.7800, local_authority: SHROPSHIRE },
    District { code: "SY4", lat: 52.8000, lng: -2.7000, local_authority: SHROPSHIRE },
    District { code: "SY5", lat: 52.6500, lng: -2.8800, local_authority: SHROPSHIRE },
    District { code: "SY6", lat: 52.5400, lng: -2.8000, local_authority: SHROPSHIRE },
    District { code: "SY7", lat: 52.4400, lng: -2.8400, local_authority: SHROPSHIRE },
    District { code: "SY8", lat: 52.3680, lng: -2.7165, local_authority: SHROPSHIRE },
    District { code: "SY9", lat: 52.4930, lng: -2.9980, local_authority: SHROPSHIRE },
    District { code: "SY10", lat: 52.8500, lng: -3.1000, local_authority: SHROPSHIRE },
    District { code: "SY11", lat: 52.8600, lng: -3.0540, local_authority: SHROPSHIRE },
    District { code: "SY12", lat: 52.9000, lng: -2.8900, local_authority: SHROPSHIRE },
    District { code: "SY13", lat: 52.9700, lng: -2.6850, local_authority: SHROPSHIRE },
    District { code: "TF9", lat: 52.9030, lng: -2.4840, local_authority: SHROPSHIRE },
    District { code: "WV16", lat: 52.5340, lng: -2.4200, local_authority: SHROPSHIRE },
    District { code: "LA13", lat: 54.1250, lng: -3.2000, local_authority: BARROW },
    District { code: "LA14", lat: 54.1150, lng: -3.2300, local_authority: BARROW },
    District { code: "LA15", lat: 54.1600, lng: -3.1800, local_authority: BARROW },
    District { code: "KW1", lat: 58.4400, lng: -3.0950, local_authority: "S12000017" },
];

/// The district of a postcode (`SY8 1AA`, `sy81aa`) or a bare district (`SY8`); `None` when
/// the sandbox does not know it.
pub(crate) fn district_of(postcode: &str) -> Option<&'static District> {
    let compact: String =
        postcode.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if let Some(found) = find(&compact) {
        return Some(found);
    }
    // A full postcode: the inward code is always the last three characters.
    let outward = compact.len().checked_sub(3).and_then(|end| compact.get(..end))?;
    find(outward)
}

/// Places an address on the map from its postcode: a district (`W10`), a full postcode
/// (`W10 5AB`, `w105ab`) or an address ending in one. `None` when no known district is found.
pub(crate) fn geocode(address: &str) -> Option<(f64, f64)> {
    let tokens: Vec<&str> =
        address.split(|c: char| c == ',' || c.is_whitespace()).filter(|t| !t.is_empty()).collect();
    // Try the last two tokens as a postcode, then the last token as a district or postcode.
    let last_two = match tokens.as_slice() {
        [.., outward, inward] => Some(format!("{outward}{inward}")),
        _ => None,
    };
    let last = tokens.last().map(|t| (*t).to_string());
    last_two
        .into_iter()
        .chain(last)
        .find_map(|candidate| district_of(&candidate))
        .map(District::centre)
}

fn find(code: &str) -> Option<&'static District> {
    DISTRICTS.iter().find(|d| d.code == code)
}

/// Great-circle distance in metres between two `(latitude, longitude)` points (haversine;
/// plenty for "how far is it").
pub(crate) fn distance_m(from: (f64, f64), to: (f64, f64)) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_000.0;
    let (lat1, lat2) = (from.0.to_radians(), to.0.to_radians());
    let d_lat = lat2 - lat1;
    let d_lng = (to.1 - from.1).to_radians();
    let a = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn districts_and_postcodes_find_their_authority() {
        assert_eq!(district_of("W10").unwrap().local_authority, "E09000020");
        assert_eq!(district_of("sy8 1aa").unwrap().code, "SY8");
        assert_eq!(district_of("LA141AA").unwrap().local_authority, "E07000027");
        assert!(district_of("ZZ99 9ZZ").is_none());
        assert!(district_of("").is_none());
    }

    #[test]
    fn geocodes_districts_postcodes_and_addresses() {
        let w10 = geocode("W10").unwrap();
        assert_eq!(geocode("w10 5ab"), Some(w10));
        assert_eq!(geocode("W105AB"), Some(w10));
        assert_eq!(geocode("1 Some Road, London W10 5AB"), Some(w10));
        assert!(geocode("SW1A 1AA").is_some());
        assert_eq!(geocode("ZZ99"), None);
        assert_eq!(geocode(""), None);
    }

    #[test]
    fn distances_are_plausible() {
        let w10 = geocode("W10").unwrap();
        let sy8 = geocode("SY8").unwrap();
        let km = distance_m(w10, sy8) / 1000.0;
        assert!((180.0..220.0).contains(&km), "London to Ludlow is about 200 km, got {km}");
        let (sy8, sy7) = (district_of("SY8").unwrap(), district_of("SY7").unwrap());
        let km = distance_m(sy8.centre(), sy7.centre()) / 1000.0;
        assert!((8.0..14.0).contains(&km), "Ludlow to Craven Arms is about 11 km, got {km}");
    }
}
