//! The seed table itself (see `data` for what each field means and why the areas differ).

use super::data::{CapacitySeed, Open311Seed, Organisation, ServiceSeed, Term, Venue, BASE};

const KC: &str = "E09000020";
const SHROPSHIRE: &str = "E06000051";
const BARROW: &str = "E07000027";

// The tables below are kept one entry to a line or two (`rustfmt::skip`): a seed table reads
// better as a table than as rustfmt's one field per line.

/// Taxonomy terms: `esdNeed:` (what a person needs), `esdServiceType:` (what a service does)
/// and `esdCircumstance:` (who a service is for).
#[rustfmt::skip]
pub(crate) const TERMS: &[Term] = &[
    ("esdNeed:12", "Help with daily living", "Washing, dressing, meals and getting around the home"),
    ("esdNeed:25", "Work and skills", "Finding work, training and qualifications"),
    ("esdNeed:33", "Money and debt", "Debts, arrears, benefits and budgeting"),
    ("esdNeed:34", "Heating and energy costs", "Paying for heating, power and water"),
    ("esdNeed:40", "Family support", "Support for parents, children and young people"),
    ("esdNeed:46", "Poor housing conditions", "Damp, mould, disrepair and unsafe homes"),
    ("esdNeed:55", "Mobility and disability", "Getting about with a disability or health condition"),
    ("esdNeed:69", "Loneliness and social isolation", "Feeling alone or cut off from others"),
    ("esdNeed:91", "Getting about", "Travel where public transport does not reach"),
    ("esdNeed:101", "Getting online", "Devices, data and the skills to use them"),
    ("esdServiceType:20", "Blue Badge", "Parking concessions for disabled people"),
    ("esdServiceType:23", "Befriending", "Regular contact with a volunteer"),
    ("esdServiceType:34", "Care and support assessment", "An assessment of care needs under the Care Act 2014"),
    ("esdServiceType:35", "Carers assessment", "An assessment of a carer's own needs"),
    ("esdServiceType:52", "Housing standards enforcement", "Inspection of rented homes and action against hazards"),
    ("esdServiceType:61", "Employment support", "Help into work"),
    ("esdServiceType:89", "Family hub", "One place for family services"),
    ("esdServiceType:116", "Welfare rights advice", "Benefit checks, appeals and debt advice"),
    ("esdServiceType:133", "Energy advice and grants", "Advice, grants and hardship payments for energy bills"),
    ("esdServiceType:156", "Community transport", "Door-to-door transport run by volunteers"),
    ("esdServiceType:178", "Digital inclusion", "Devices, data and digital skills"),
    ("esdCircumstance:7", "Unpaid carer", "Looks after someone without being paid"),
    ("esdCircumstance:21", "Family with children", "Lives with children under 18"),
    ("esdCircumstance:22", "Expecting a baby", "Pregnant, or a partner is"),
];

/// The organisations behind the services.
#[rustfmt::skip]
pub(crate) const ORGANISATIONS: &[Organisation] = &[
    Organisation { key: "rbkc", name: "Royal Borough of Kensington and Chelsea", description: "The local council for Kensington and Chelsea.", website: "https://rbkc.council.example/" },
    Organisation { key: "nk-connectors", name: "North Kensington Community Connectors", description: "A local charity of volunteer befrienders.", website: "https://nk-connectors.example/" },
    Organisation { key: "shropshire", name: "Shropshire Council", description: "The unitary council for Shropshire.", website: "https://shropshire.council.example/" },
    Organisation { key: "south-shropshire-vcs", name: "South Shropshire Community Network", description: "Village halls, lunch clubs and good neighbour schemes in south Shropshire.", website: "https://ssc-network.example/" },
    Organisation { key: "barrow", name: "Barrow Borough Council", description: "The district council for Barrow-in-Furness.", website: "https://barrow.council.example/" },
];

#[rustfmt::skip]
const TOWN_HALL: Venue = Venue { name: "Kensington Town Hall", address_1: "Hornton Street", city: "London", postcode: "W8 7NX", lat: 51.5016, lng: -0.1925 };
#[rustfmt::skip]
const NK_LIBRARY: Venue = Venue { name: "North Kensington Library", address_1: "108 Ladbroke Grove", city: "London", postcode: "W10 5LL", lat: 51.5205, lng: -0.2105 };
#[rustfmt::skip]
const SHIREHALL: Venue = Venue { name: "Shirehall", address_1: "Abbey Foregate", city: "Shrewsbury", postcode: "SY2 6ND", lat: 52.7058, lng: -2.7340 };
#[rustfmt::skip]
const LUDLOW_HUB: Venue = Venue { name: "Ludlow Assembly Rooms", address_1: "1 Mill Street", city: "Ludlow", postcode: "SY8 1AZ", lat: 52.3665, lng: -2.7190 };
#[rustfmt::skip]
const BARROW_TOWN_HALL: Venue = Venue { name: "Barrow Town Hall", address_1: "Duke Street", city: "Barrow-in-Furness", postcode: "LA14 2LD", lat: 54.1135, lng: -3.2275 };

/// Capacity with `available` of `maximum` places free now, updated today.
const fn places(available: u32, maximum: u32) -> Option<CapacitySeed> {
    Some(CapacitySeed { available, maximum, waitlist: None, age_days: 0, note: "" })
}

/// Referrals taken through Open311 with `code`, for a service about a person (no location).
const fn referrals(
    code: &'static str,
    group: &'static str,
    keywords: &'static str,
) -> Option<Open311Seed> {
    Some(Open311Seed { code, group, keywords, needs_location: false })
}

/// Every seeded service, in directory order.
#[rustfmt::skip]
pub(crate) const SERVICES: &[ServiceSeed] = &[
    // ---- Kensington and Chelsea: a service for most needs.
    ServiceSeed { key: "rbkc-welfare-rights", organisation: "rbkc", area: KC, name: "Welfare Rights Advice",
        description: "Benefit checks, help with claims and appeals, and advice on council tax and rent arrears.",
        terms: &["esdNeed:33", "esdServiceType:116"], capacity: places(4, 10),
        open311: referrals("RBKC-WELFARE-RIGHTS", "Money", "benefits,debt,arrears"),
        venue: Some(TOWN_HALL), phone: "020 7946 0200", email: "welfare.rights@rbkc.council.example",
        url: "https://rbkc.council.example/benefits/welfare-rights", ..BASE },
    ServiceSeed { key: "rbkc-energy-hardship", organisation: "rbkc", area: KC, name: "Household Energy Advice and Hardship Fund",
        description: "Energy advice by phone and one-off payments towards energy debt.",
        terms: &["esdNeed:34", "esdServiceType:133"],
        capacity: Some(CapacitySeed { available: 0, maximum: 20, waitlist: Some(12), age_days: 1, note: "about 3 weeks" }),
        open311: referrals("RBKC-ENERGY-HARDSHIP", "Money", "energy,fuel,hardship"), phone: "0808 157 0201",
        email: "energy.advice@rbkc.council.example", wait_time: "About 3 weeks", ..BASE },
    ServiceSeed { key: "rbkc-housing-disrepair", organisation: "rbkc", area: KC, name: "Private Housing Disrepair Inspections",
        description: "Environmental health officers inspect privately rented homes for damp, mould and other hazards.",
        eligibility: "Tenants of privately rented homes in the borough.",
        terms: &["esdNeed:46", "esdServiceType:52"], capacity: places(2, 6),
        open311: Some(Open311Seed { code: "RBKC-HOUSING-DISREPAIR", group: "Housing", keywords: "damp,mould,disrepair", needs_location: true }),
        phone: "020 7946 0202", email: "environmental.health@rbkc.council.example", ..BASE },
    ServiceSeed { key: "rbkc-digital-dropin", organisation: "rbkc", area: KC, name: "Digital Inclusion Drop-in",
        description: "Help with devices, data and online forms. No appointment needed.",
        application_process: "Drop in during opening hours.", terms: &["esdNeed:101", "esdServiceType:178"],
        venue: Some(NK_LIBRARY), phone: "020 7946 0203", url: "https://rbkc.council.example/libraries/digital-help",
        byday: "TU,TH", opens_at: "10:00:00", closes_at: "13:00:00", ..BASE },
    ServiceSeed { key: "rbkc-family-hub", organisation: "rbkc", area: KC, name: "Family Hub North Kensington",
        description: "Parenting support, early help and family services in one place.",
        eligibility: "Families with children under 19, and expectant parents.",
        terms: &["esdNeed:40", "esdServiceType:89"], for_circumstances: &["esdCircumstance:21", "esdCircumstance:22"],
        capacity: places(8, 15), open311: referrals("RBKC-FAMILY-HUB", "Families", "parenting,early help"),
        venue: Some(NK_LIBRARY), phone: "020 7946 0204", email: "familyhub@rbkc.council.example", ..BASE },
    ServiceSeed { key: "nk-befriending", organisation: "nk-connectors", area: KC, name: "Community Connectors Befriending",
        description: "A volunteer visits or phones every week.", terms: &["esdNeed:69", "esdServiceType:23"],
        capacity: places(0, 25), open311: referrals("RBKC-BEFRIENDING", "People", "loneliness,befriending"),
        phone: "020 7946 0205", email: "befriending@nk-connectors.example", ..BASE },
    ServiceSeed { key: "rbkc-work-zone", organisation: "rbkc", area: KC, name: "Work Zone Employment Support",
        description: "Job search, CVs and training. Closed while the centre is refurbished.",
        status: "temporarily closed", terms: &["esdNeed:25", "esdServiceType:61"], venue: Some(TOWN_HALL),
        phone: "020 7946 0206", ..BASE },
    ServiceSeed { key: "rbkc-dial-a-ride", organisation: "rbkc", area: KC, name: "Kensington Dial-a-Ride",
        description: "Door-to-door minibus. No longer taking new members.", status: "inactive",
        terms: &["esdNeed:91", "esdServiceType:156"], phone: "020 7946 0207", ..BASE },
    ServiceSeed { key: "rbkc-blue-badge", organisation: "rbkc", area: KC, name: "Blue Badge Applications",
        description: "Apply for a Blue Badge, or get help with the application.", terms: &["esdServiceType:20"],
        open311: referrals("RBKC-BLUE-BADGE", "People", "parking,disability"), phone: "020 7946 0208",
        url: "https://rbkc.council.example/parking/blue-badges", ..BASE },
    ServiceSeed { key: "rbkc-carers-assessment", organisation: "rbkc", area: KC, name: "Carers Assessment",
        description: "An assessment of what support an unpaid carer needs.", eligibility: "Unpaid carers aged 18 and over.",
        minimum_age: Some(18), terms: &["esdNeed:12", "esdServiceType:35"], for_circumstances: &["esdCircumstance:7"],
        capacity: places(5, 12), open311: referrals("RBKC-CARERS-ASSESSMENT", "Adult social care", "carers"),
        phone: "020 7946 0209", ..BASE },
    // ---- Shropshire: several services, spread out; many befriending schemes near Ludlow.
    ServiceSeed { key: "shr-welfare-benefits", organisation: "shropshire", area: SHROPSHIRE, name: "Welfare Benefits Advice",
        description: "Benefit checks and help with debts, by phone or at the Shirehall.",
        terms: &["esdNeed:33", "esdServiceType:116"], capacity: places(6, 12),
        open311: referrals("SHR-WELFARE-BENEFITS", "Money", "benefits,debt"), venue: Some(SHIREHALL), phone: "0306 999 0100", email: "welfare.benefits@shropshire.council.example",
        wait_time: "A benefits adviser phones within 10 working days", ..BASE },
    ServiceSeed { key: "shr-keep-warm", organisation: "shropshire", area: SHROPSHIRE, name: "Keep Shropshire Warm",
        description: "Energy advice, home energy checks and hardship grants.", terms: &["esdNeed:34", "esdServiceType:133"],
        capacity: places(10, 40), open311: referrals("SHR-KEEP-WARM", "Money", "energy,fuel"), phone: "0808 157 0101",
        opens_at: "08:30:00", closes_at: "18:00:00", url: "https://shropshire.council.example/keep-warm", ..BASE },
    ServiceSeed { key: "shr-housing-standards", organisation: "shropshire", area: SHROPSHIRE, name: "Private Rented Housing Standards",
        description: "Inspections of privately rented homes for hazards.", terms: &["esdNeed:46", "esdServiceType:52"],
        capacity: Some(CapacitySeed { available: 3, maximum: 5, waitlist: None, age_days: 60, note: "" }),
        open311: Some(Open311Seed { code: "SHR-HOUSING-STANDARDS", group: "Housing", keywords: "damp,disrepair", needs_location: true }),
        phone: "0306 999 0102", ..BASE },
    ServiceSeed { key: "shr-telephone-befriending", organisation: "shropshire", area: SHROPSHIRE, name: "Shropshire Telephone Befriending",
        description: "A weekly call from a trained volunteer.", eligibility: "People aged 65 and over living in Shropshire.",
        minimum_age: Some(65), terms: &["esdNeed:69", "esdServiceType:23"], capacity: places(3, 30),
        open311: referrals("SHR-BEFRIENDING", "People", "loneliness,befriending"), phone: "0306 999 0103", ..BASE },
    ServiceSeed { key: "sss-ludlow-lunch-club", organisation: "south-shropshire-vcs", area: SHROPSHIRE, name: "Ludlow Lunch Club",
        description: "A hot lunch and company every Wednesday.", eligibility: "People aged 60 and over.", minimum_age: Some(60),
        terms: &["esdNeed:69"], capacity: places(7, 30), venue: Some(LUDLOW_HUB), phone: "01632 960110",
        byday: "WE", opens_at: "12:00:00", closes_at: "14:00:00", ..BASE },
    ServiceSeed { key: "sss-craven-arms-cafe", organisation: "south-shropshire-vcs", area: SHROPSHIRE, name: "Craven Arms Community Café",
        description: "A weekly café and chat.", terms: &["esdNeed:69", "esdServiceType:23"],
        venue: Some(Venue { name: "Craven Arms Community Centre", address_1: "Newington Way", city: "Craven Arms", postcode: "SY7 9PS", lat: 52.4410, lng: -2.8370 }),
        phone: "01632 960111", byday: "FR", opens_at: "10:00:00", closes_at: "15:00:00", ..BASE },
    ServiceSeed { key: "sss-ludlow-good-neighbours", organisation: "south-shropshire-vcs", area: SHROPSHIRE, name: "Ludlow Good Neighbours",
        description: "Volunteers who visit, shop and give lifts.", terms: &["esdNeed:69", "esdServiceType:23"],
        capacity: places(2, 15), phone: "01632 960112", ..BASE },
    ServiceSeed { key: "sss-online-friendship", organisation: "south-shropshire-vcs", area: SHROPSHIRE, name: "Online Friendship Circle",
        description: "Weekly video chats for people who cannot easily get out.", terms: &["esdNeed:69"],
        application_process: "Join online: sign up on the website, no referral needed.",
        online_at: "https://ssc-network.example/online-friendship", url: "https://ssc-network.example/online-friendship",
        email: "friendship@ssc-network.example", phone: "01632 960113", byday: "TU,TH", opens_at: "14:00:00", closes_at: "15:30:00", ..BASE },
    ServiceSeed { key: "sss-stretton-walks", organisation: "south-shropshire-vcs", area: SHROPSHIRE, name: "Church Stretton Walking Group",
        description: "Gentle walks and a cup of tea.", terms: &["esdNeed:69"],
        venue: Some(Venue { name: "Church Stretton Library", address_1: "Church Street", city: "Church Stretton", postcode: "SY6 6DQ", lat: 52.5380, lng: -2.8030 }),
        phone: "01632 960114", byday: "SA", opens_at: "10:00:00", closes_at: "12:00:00", ..BASE },
    ServiceSeed { key: "sss-ludlow-mens-shed", organisation: "south-shropshire-vcs", area: SHROPSHIRE, name: "Ludlow Men's Shed",
        description: "Woodwork, repairs and company.", terms: &["esdNeed:69"], capacity: places(0, 12),
        venue: Some(LUDLOW_HUB), phone: "01632 960115", ..BASE },
    ServiceSeed { key: "shr-bishops-castle-hub", organisation: "south-shropshire-vcs", area: SHROPSHIRE, name: "Bishop's Castle Community Hub",
        description: "Activities and advice in the town hall.", terms: &["esdNeed:69"],
        venue: Some(Venue { name: "Bishop's Castle Town Hall", address_1: "High Street", city: "Bishop's Castle", postcode: "SY9 5BG", lat: 52.4930, lng: -2.9990 }),
        phone: "01632 960116", ..BASE },
    ServiceSeed { key: "shr-asc-assessment", organisation: "shropshire", area: SHROPSHIRE, name: "Adult Social Care Needs Assessment",
        description: "An assessment of care and support needs under the Care Act 2014.", minimum_age: Some(18),
        terms: &["esdNeed:12", "esdServiceType:34"],
        capacity: Some(CapacitySeed { available: 0, maximum: 40, waitlist: Some(30), age_days: 2, note: "about 6 to 8 weeks" }),
        open311: referrals("SHR-ASC-ASSESSMENT", "Adult social care", "care,assessment"), phone: "0306 999 0104",
        email: "adult.social.care@shropshire.council.example", wait_time: "About 6 to 8 weeks", ..BASE },
    ServiceSeed { key: "shr-carers", organisation: "shropshire", area: SHROPSHIRE, name: "Shropshire Carers Assessment",
        description: "Support and a break for unpaid carers.", eligibility: "Unpaid carers.",
        terms: &["esdNeed:12", "esdServiceType:35"], for_circumstances: &["esdCircumstance:7"], capacity: places(5, 20),
        open311: referrals("SHR-CARERS", "Adult social care", "carers"), phone: "0306 999 0105", ..BASE },
    ServiceSeed { key: "shr-ludlow-digital", organisation: "shropshire", area: SHROPSHIRE, name: "Digital Skills at Ludlow Library",
        description: "One-to-one help with tablets, email and online forms.", terms: &["esdNeed:101", "esdServiceType:178"],
        application_process: "Phone the library to book a session, or drop in.",
        capacity: places(4, 8), venue: Some(LUDLOW_HUB), phone: "0306 999 0106", email: "ludlow.library@shropshire.council.example",
        url: "https://shropshire.council.example/libraries/digital-skills", byday: "MO,TH", opens_at: "10:00:00", closes_at: "16:00:00", ..BASE },
    ServiceSeed { key: "shr-community-transport", organisation: "shropshire", area: SHROPSHIRE, name: "South Shropshire Community Transport",
        description: "Volunteer drivers for medical appointments and shopping.", terms: &["esdNeed:91", "esdServiceType:156"],
        capacity: places(2, 10), open311: referrals("SHR-COMMUNITY-TRANSPORT", "People", "transport,lifts"),
        phone: "0306 999 0107", ..BASE },
    ServiceSeed { key: "shr-blue-badge", organisation: "shropshire", area: SHROPSHIRE, name: "Blue Badge (Shropshire)",
        description: "Apply for a Blue Badge, with help at home if needed.", terms: &["esdNeed:55", "esdServiceType:20"],
        open311: referrals("SHR-BLUE-BADGE", "People", "parking,disability"), phone: "0306 999 0108",
        url: "https://shropshire.council.example/blue-badge", ..BASE },
    ServiceSeed { key: "shr-family-hub-shrewsbury", organisation: "shropshire", area: SHROPSHIRE, name: "Shrewsbury Family Hub",
        description: "Closed; family services are now offered by phone through the council.", status: "defunct",
        terms: &["esdNeed:40", "esdServiceType:89"], venue: Some(SHIREHALL), phone: "0306 999 0109", ..BASE },
    ServiceSeed { key: "shr-employment", organisation: "shropshire", area: SHROPSHIRE, name: "Shropshire Employment Support",
        description: "Help into work for people who have been out of work for a while.", minimum_age: Some(16), maximum_age: Some(64),
        terms: &["esdNeed:25", "esdServiceType:61"], capacity: places(9, 25),
        open311: referrals("SHR-EMPLOYMENT", "Work", "jobs,training"), phone: "0306 999 0117", ..BASE },
    // ---- Barrow-in-Furness: sparse, and little of it open.
    ServiceSeed { key: "barrow-welfare-rights", organisation: "barrow", area: BARROW, name: "Barrow Welfare Rights",
        description: "Benefits and debt advice.", terms: &["esdNeed:33", "esdServiceType:116"],
        capacity: Some(CapacitySeed { available: 0, maximum: 8, waitlist: Some(5), age_days: 3, note: "about 4 weeks" }),
        open311: referrals("BARROW-WELFARE-RIGHTS", "Money", "benefits,debt"), venue: Some(BARROW_TOWN_HALL), phone: "01632 960200", wait_time: "About 4 weeks", ..BASE },
    ServiceSeed { key: "barrow-warm-homes", organisation: "barrow", area: BARROW, name: "Furness Warm Homes",
        description: "Grant scheme closed.", status: "inactive", terms: &["esdNeed:34", "esdServiceType:133"],
        phone: "01632 960201", ..BASE },
    ServiceSeed { key: "barrow-housing-enforcement", organisation: "barrow", area: BARROW, name: "Barrow Private Housing Enforcement",
        description: "Not taking new cases until staff are recruited.", status: "temporarily closed",
        terms: &["esdNeed:46", "esdServiceType:52"], phone: "01632 960202", ..BASE },
];
