//! The seeded world of the food bank simulator: fictional food banks in three areas, and the
//! postcode districts the simulator can place on a map.
//!
//! The areas are chosen to exercise a planner: an inner-London borough with several food
//! banks (Kensington and Chelsea, E09000020), a large rural county where they are far apart
//! (Shropshire, E06000051), and a sparse district with a single food bank that is full
//! (Barrow-in-Furness, E07000027). `KW1` (Wick, see [`crate::geo`]) has no food bank within any
//! sensible distance.
//!
//! Every name, street, telephone number (Ofcom drama ranges) and address here is invented.

use chrono::Weekday;

/// One food bank as the directory lists it, and how its e-voucher desk behaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FoodbankSeed {
    pub name: &'static str,
    pub slug: &'static str,
    pub network: &'static str,
    /// Telephone number as Give Food lists it: what the food bank typed, not always clean.
    pub phone: &'static str,
    /// A second number (Give Food `secondary_phone`); empty for `null`.
    pub secondary_phone: &'static str,
    pub email: &'static str,
    /// Address lines, newline separated (Give Food's "multiline string").
    pub address: &'static str,
    pub postcode: &'static str,
    pub lat: f64,
    pub lng: f64,
    pub closed: bool,
    pub homepage: &'static str,
    pub charity_number: &'static str,
    pub constituency: &'static str,
    pub district: &'static str,
    pub ward: &'static str,
    /// What it asks donors for, newline separated.
    pub needs: &'static str,
    /// What it has too much of, newline separated.
    pub excess: &'static str,
    pub vouchers: VoucherDesk,
}

/// How a food bank's e-voucher desk answers: its seeded capacity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VoucherDesk {
    /// Whether it takes referrals at all this week.
    pub accepting: bool,
    /// Vouchers it can issue this week before referrals wait for next week.
    pub weekly_vouchers: u32,
    /// Weeks a new referral waits before its first session.
    pub waitlist_weeks: u32,
    /// Days the distribution sessions run.
    pub session_days: &'static [Weekday],
    /// When a session opens and closes (`HH:MM`, local time), the same each session day.
    pub session_hours: (&'static str, &'static str),
}

const NEEDS_COMMON: &str =
    "UHT Milk\nTinned Tomatoes\nTinned Meat\nRice Pudding\nToiletries\nTea Bags";

/// Every seeded food bank.
pub(crate) const FOODBANKS: &[FoodbankSeed] = &[
    FoodbankSeed {
        name: "North Kensington Community Food Bank",
        slug: "north-kensington",
        network: "Trussell",
        phone: "020 7946 0101",
        secondary_phone: "",
        email: "hello@north-kensington.foodbank.example",
        address: "St Quintin Hall\n12 Ladbroke Row\nLondon",
        postcode: "W10 6ZZ",
        lat: 51.5218,
        lng: -0.2168,
        closed: false,
        homepage: "https://north-kensington.foodbank.example/",
        charity_number: "1190101",
        constituency: "Kensington and Bayswater",
        district: "Kensington and Chelsea",
        ward: "Golborne",
        needs: NEEDS_COMMON,
        excess: "Pasta\nBaked Beans",
        vouchers: VoucherDesk {
            accepting: true,
            weekly_vouchers: 12,
            waitlist_weeks: 0,
            session_days: &[Weekday::Tue, Weekday::Fri],
            session_hours: ("10:00", "13:00"),
        },
    },
    FoodbankSeed {
        name: "Notting Hill Larder",
        slug: "notting-hill-larder",
        network: "Independent",
        phone: "020 7946 0102",
        secondary_phone: "",
        email: "larder@nottinghill.example",
        address: "The Crypt, All Hallows Church\n4 Pembridge Walk\nLondon",
        postcode: "W11 2ZZ",
        lat: 51.5128,
        lng: -0.2021,
        closed: false,
        homepage: "https://nottinghill-larder.example/",
        charity_number: "1190102",
        constituency: "Kensington and Bayswater",
        district: "Kensington and Chelsea",
        ward: "Pembridge",
        needs: "Cooking Oil\nTinned Fish\nNappies (size 5)",
        excess: "Pasta",
        vouchers: VoucherDesk {
            accepting: true,
            weekly_vouchers: 0,
            waitlist_weeks: 2,
            session_days: &[Weekday::Wed],
            session_hours: ("12:00", "15:00"),
        },
    },
    FoodbankSeed {
        name: "Chelsea & Fulham Food Bank",
        slug: "chelsea-fulham",
        network: "Trussell",
        phone: "020 7946 0103",
        secondary_phone: "",
        email: "info@chelsea-fulham.foodbank.example",
        address: "Worlds End Community Centre\n3 Cremorne Walk\nLondon",
        postcode: "SW10 0ZZ",
        lat: 51.4815,
        lng: -0.1800,
        closed: false,
        homepage: "https://chelsea-fulham.foodbank.example/",
        charity_number: "1190103",
        constituency: "Chelsea and Fulham",
        district: "Kensington and Chelsea",
        ward: "Stanley",
        needs: NEEDS_COMMON,
        excess: "Soup",
        vouchers: VoucherDesk {
            accepting: true,
            weekly_vouchers: 6,
            waitlist_weeks: 0,
            session_days: &[Weekday::Mon, Weekday::Thu],
            session_hours: ("10:00", "12:30"),
        },
    },
    FoodbankSeed {
        name: "Earl's Court Pantry",
        slug: "earls-court-pantry",
        network: "IFAN",
        phone: "020 7946 0104",
        secondary_phone: "",
        email: "pantry@earlscourt.example",
        address: "Basement, 21 Trebovir Mews\nLondon",
        postcode: "SW5 9ZZ",
        lat: 51.4905,
        lng: -0.1945,
        closed: true,
        homepage: "https://earlscourt-pantry.example/",
        charity_number: "1190104",
        constituency: "Kensington and Bayswater",
        district: "Kensington and Chelsea",
        ward: "Earl's Court",
        needs: "Unknown",
        excess: "",
        vouchers: VoucherDesk {
            accepting: false,
            weekly_vouchers: 0,
            waitlist_weeks: 0,
            session_days: &[Weekday::Sat],
            session_hours: ("10:00", "12:00"),
        },
    },
    FoodbankSeed {
        name: "Shrewsbury Food Bank",
        slug: "shrewsbury",
        network: "Trussell",
        phone: "01632 960101",
        secondary_phone: "",
        email: "office@shrewsbury.foodbank.example",
        address: "Castle Foregate Mission\n8 Howard Yard\nShrewsbury",
        postcode: "SY1 2ZZ",
        lat: 52.7155,
        lng: -2.7505,
        closed: false,
        homepage: "https://shrewsbury.foodbank.example/",
        charity_number: "1190105",
        constituency: "Shrewsbury",
        district: "Shropshire",
        ward: "Castlefields and Ditherington",
        needs: NEEDS_COMMON,
        excess: "Baked Beans",
        vouchers: VoucherDesk {
            accepting: true,
            weekly_vouchers: 20,
            waitlist_weeks: 0,
            session_days: &[Weekday::Mon, Weekday::Wed, Weekday::Fri],
            session_hours: ("10:00", "14:00"),
        },
    },
    FoodbankSeed {
        name: "Ludlow & District Food Bank",
        slug: "ludlow-district",
        network: "IFAN",
        // As typed into Give Food: a number with words after it, and a mobile as the second.
        phone: "01632 960102 (Thursdays only)",
        secondary_phone: "07700 900102",
        email: "ludlowfood@example.org",
        address: "The Old Drill Hall\n2 Corve Lane\nLudlow",
        postcode: "SY8 1ZZ",
        lat: 52.3672,
        lng: -2.7195,
        closed: false,
        homepage: "https://ludlow-foodbank.example/",
        charity_number: "1190106",
        constituency: "South Shropshire",
        district: "Shropshire",
        ward: "Ludlow North",
        needs: "Tinned Vegetables\nSugar\nLong-life Juice",
        excess: "",
        vouchers: VoucherDesk {
            accepting: true,
            weekly_vouchers: 0,
            waitlist_weeks: 1,
            session_days: &[Weekday::Thu],
            session_hours: ("10:00", "12:00"),
        },
    },
    FoodbankSeed {
        name: "Oswestry Borderlands Food Bank",
        slug: "oswestry-borderlands",
        network: "Trussell",
        phone: "01632 960103",
        secondary_phone: "",
        email: "help@oswestry.foodbank.example",
        address: "Unit 2, Cae Glas Yard\nOswestry",
        postcode: "SY11 1ZZ",
        lat: 52.8595,
        lng: -3.0530,
        closed: false,
        homepage: "https://oswestry.foodbank.example/",
        charity_number: "1190107",
        constituency: "North Shropshire",
        district: "Shropshire",
        ward: "Oswestry South",
        needs: NEEDS_COMMON,
        excess: "Pasta\nCereal",
        vouchers: VoucherDesk {
            accepting: false,
            weekly_vouchers: 0,
            waitlist_weeks: 0,
            session_days: &[Weekday::Tue],
            session_hours: ("13:00", "15:30"),
        },
    },
    FoodbankSeed {
        name: "Market Drayton Community Pantry",
        slug: "market-drayton-pantry",
        network: "Independent",
        phone: "01632 960104",
        secondary_phone: "",
        email: "pantry@marketdrayton.example",
        address: "Methodist Rooms\n5 Shropshire Row\nMarket Drayton",
        postcode: "TF9 3ZZ",
        lat: 52.9040,
        lng: -2.4850,
        closed: false,
        homepage: "https://marketdrayton-pantry.example/",
        charity_number: "1190108",
        constituency: "North Shropshire",
        district: "Shropshire",
        ward: "Market Drayton East",
        needs: "Coffee\nTinned Fruit",
        excess: "",
        vouchers: VoucherDesk {
            accepting: true,
            weekly_vouchers: 8,
            waitlist_weeks: 0,
            session_days: &[Weekday::Sat],
            session_hours: ("09:30", "11:30"),
        },
    },
    FoodbankSeed {
        name: "Furness Food Bank",
        slug: "furness",
        network: "Trussell",
        phone: "01632 960105",
        secondary_phone: "",
        email: "team@furness.foodbank.example",
        address: "Unit 4, Dock Road Trading Estate\nBarrow-in-Furness",
        postcode: "LA14 2ZZ",
        lat: 54.1105,
        lng: -3.2280,
        closed: false,
        homepage: "https://furness.foodbank.example/",
        charity_number: "1190109",
        constituency: "Barrow and Furness",
        district: "Westmorland and Furness",
        ward: "Central",
        needs: NEEDS_COMMON,
        excess: "",
        vouchers: VoucherDesk {
            accepting: false,
            weekly_vouchers: 0,
            waitlist_weeks: 0,
            session_days: &[Weekday::Tue, Weekday::Fri],
            session_hours: ("11:00", "14:00"),
        },
    },
];

/// Finds a food bank by slug.
pub(crate) fn foodbank(slug: &str) -> Option<&'static FoodbankSeed> {
    FOODBANKS.iter().find(|fb| fb.slug == slug)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo;

    #[test]
    fn slugs_are_unique_and_every_food_bank_sits_in_a_known_district() {
        for (i, fb) in FOODBANKS.iter().enumerate() {
            assert!(FOODBANKS[..i].iter().all(|other| other.slug != fb.slug), "{}", fb.slug);
            let place =
                geo::geocode(fb.postcode).unwrap_or_else(|| panic!("{} not geocoded", fb.postcode));
            assert!(
                geo::distance_m(place, (fb.lat, fb.lng)) < 3_000.0,
                "{} far from its district",
                fb.slug
            );
        }
    }
}
