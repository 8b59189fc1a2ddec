//! Placing things on the map: the postcode districts the simulator can geocode, Give Food's
//! `lat_lng` form, and straight-line distances.

/// Approximate centres of the postcode districts the simulator can geocode.
const DISTRICTS: &[(&str, f64, f64)] = &[
    ("W2", 51.5150, -0.1800),
    ("W8", 51.5010, -0.1930),
    ("W10", 51.5225, -0.2150),
    ("W11", 51.5130, -0.2050),
    ("W14", 51.4950, -0.2090),
    ("SW1A", 51.5010, -0.1410),
    ("SW3", 51.4900, -0.1680),
    ("SW5", 51.4900, -0.1910),
    ("SW7", 51.4960, -0.1760),
    ("SW10", 51.4830, -0.1830),
    ("SY1", 52.7160, -2.7440),
    ("SY2", 52.7050, -2.7220),
    ("SY3", 52.7000, -2.7800),
    ("SY4", 52.8000, -2.7000),
    ("SY5", 52.6500, -2.8800),
    ("SY7", 52.4400, -2.8400),
    ("SY8", 52.3680, -2.7165),
    ("SY10", 52.8500, -3.1000),
    ("SY11", 52.8600, -3.0540),
    ("SY12", 52.9000, -2.8900),
    ("SY13", 52.9700, -2.6850),
    ("TF9", 52.9030, -2.4840),
    ("WV16", 52.5340, -2.4200),
    ("LA13", 54.1250, -3.2000),
    ("LA14", 54.1150, -3.2300),
    ("LA15", 54.1600, -3.1800),
    ("KW1", 58.4400, -3.0950),
];

/// Places an address on the map from its postcode: a district (`W10`), a full postcode
/// (`W10 5AB`, `w105ab`) or an address ending in one. `None` when no known district is found.
pub(crate) fn geocode(address: &str) -> Option<(f64, f64)> {
    let upper = address.to_ascii_uppercase();
    let tokens: Vec<&str> =
        upper.split(|c: char| c == ',' || c.is_whitespace()).filter(|t| !t.is_empty()).collect();
    // Try the last two tokens as a postcode, then the last token as a district or postcode.
    let mut candidates = Vec::new();
    if tokens.len() >= 2 {
        candidates.push(format!("{}{}", tokens[tokens.len() - 2], tokens[tokens.len() - 1]));
    }
    if let Some(last) = tokens.last() {
        candidates.push((*last).to_string());
    }
    for candidate in candidates {
        if let Some(found) = district_centre(&candidate) {
            return Some(found);
        }
        // A full postcode: the inward code is always the last three characters.
        if candidate.len() >= 5 {
            if let Some(found) = district_centre(&candidate[..candidate.len() - 3]) {
                return Some(found);
            }
        }
    }
    None
}

fn district_centre(district: &str) -> Option<(f64, f64)> {
    DISTRICTS.iter().find(|(code, _, _)| *code == district).map(|&(_, lat, lng)| (lat, lng))
}

/// Parses Give Food's `lat_lng` form, `"51.52,-0.21"`.
pub(crate) fn parse_lat_lng(text: &str) -> Option<(f64, f64)> {
    let (lat, lng) = text.split_once(',')?;
    let lat: f64 = lat.trim().parse().ok()?;
    let lng: f64 = lng.trim().parse().ok()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng)).then_some((lat, lng))
}

/// Great-circle distance in metres (haversine; plenty for "how far is the food bank").
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
        assert_eq!(parse_lat_lng("51.52,-0.21"), Some((51.52, -0.21)));
        assert_eq!(parse_lat_lng("91,0"), None);
        assert_eq!(parse_lat_lng("abc"), None);
    }
}
