//! How each offer is taken up and how to reach the service, against the sandbox's directory
//! over real HTTP: services without an Open311 code are signposts with their phone, hours and
//! address; online-only ones are self-help; stated waits become start dates; bad contact data
//! is dropped without losing the offer. Also what the manifest requires, and that the send
//! path refuses exactly that.

use chrono::{Days, NaiveTime};
use pathways_plugin_testkit::{today, Capture};
use pathways_sdk::{
    missing_prerequisites, parse_case, AgeBand, Capacity, ClientField, Missing, NeedCode,
    OpeningHours, Partner, PartnerErrorKind, PartnerPlugin, Referral, Route, ServiceChannel,
    ServiceContact, ServiceRef, Weekday,
};
use serde_json::{json, Value};

use super::{named, partner, query, sandbox};
use crate::mapping::{self, Service};
use crate::{CouncilPartner, Settings};

fn at(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn weekdays(opens: NaiveTime, closes: NaiveTime) -> OpeningHours {
    OpeningHours { days: Weekday::ALL[..5].to_vec(), opens, closes }
}

#[tokio::test]
async fn a_service_without_open311_is_a_signpost_with_its_phone_hours_and_address() {
    let sandbox = sandbox().await;
    let needs = [NeedCode::Digital, NeedCode::PhysicalHealthDisability];
    let q = query("E06000051", "SY8", AgeBand::From75, &needs, &[]);
    let offers = partner(&sandbox.council_url()).check_availability(&q).await.unwrap().offers;

    let digital = named(&offers, "Digital Skills at Ludlow Library");
    assert_eq!(digital.route, Some(Route::Signpost), "no Open311 service_code: {digital:#?}");
    assert_eq!(digital.route_for(true), Route::Signpost, "even from a partner that refers");
    assert_eq!(
        digital.contact,
        Some(ServiceContact {
            phone: Some("0306 999 0106".into()),
            email: Some("ludlow.library@shropshire.council.example".into()),
            url: Some("https://shropshire.council.example/libraries/digital-skills".into()),
            address: Some("Ludlow Assembly Rooms, 1 Mill Street, Ludlow, SY8 1AZ".into()),
            opening_hours: vec![OpeningHours {
                days: vec![Weekday::Mon, Weekday::Thu],
                opens: at(10, 0),
                closes: at(16, 0),
            }],
            how_to_apply: Some("Phone the library to book a session, or drop in.".into()),
        })
    );

    let badge = named(&offers, "Blue Badge (Shropshire)");
    assert_eq!(badge.route, Some(Route::Refer), "it links SHR-BLUE-BADGE");
    let contact = badge.contact.as_ref().unwrap();
    assert_eq!(contact.phone.as_deref(), Some("0306 999 0108"));
    assert_eq!(contact.opening_hours, [weekdays(at(9, 0), at(17, 0))]);
    assert_eq!(contact.address, None, "delivered by phone and at home: no venue");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_online_only_service_is_self_help_and_every_offer_says_its_route() {
    let sandbox = sandbox().await;
    let q = query("E06000051", "SY8", AgeBand::From75, &[NeedCode::SocialIsolation], &[]);
    let offers = partner(&sandbox.council_url()).check_availability(&q).await.unwrap().offers;
    let online = named(&offers, "Online Friendship Circle");
    assert_eq!(
        (online.route, online.channel),
        (Some(Route::SelfHelp), Some(ServiceChannel::Online))
    );
    let contact = online.contact.as_ref().unwrap();
    assert_eq!(contact.url.as_deref(), Some("https://ssc-network.example/online-friendship"));
    assert_eq!(contact.phone.as_deref(), Some("01632 960113"));
    let routes: Vec<(&str, Route)> =
        offers.iter().map(|o| (o.service.name.as_str(), o.route.unwrap())).collect();
    assert!(routes.contains(&("Shropshire Telephone Befriending", Route::Refer)), "{routes:?}");
    assert!(routes.contains(&("Ludlow Lunch Club", Route::Signpost)), "{routes:?}");
    assert!(offers.iter().all(|o| o.contact.as_ref().is_some_and(|c| c.phone.is_some())));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_stated_wait_becomes_a_start_date_and_a_bound_does_not() {
    let sandbox = sandbox().await;
    let council = partner(&sandbox.council_url());
    // Shrewsbury: the benefits advice is at the Shirehall, too far from Ludlow.
    let needs = [NeedCode::CarerCare, NeedCode::DebtMoney];
    let q = query("E06000051", "SY1", AgeBand::From75, &needs, &[]);
    let offers = council.check_availability(&q).await.unwrap().offers;
    let assessment = named(&offers, "Adult Social Care Needs Assessment");
    assert_eq!(assessment.capacity, Capacity::Waitlist);
    assert_eq!(assessment.earliest_start, today().checked_add_days(Days::new(42)), "6 to 8 weeks");
    assert!(assessment.wait_estimate.as_deref().unwrap().contains("6 to 8 weeks"));
    let benefits = named(&offers, "Welfare Benefits Advice");
    assert_eq!(benefits.capacity, Capacity::Capacity);
    assert_eq!(benefits.earliest_start, None, "\"within 10 working days\" is only a bound");
    assert_eq!(
        benefits.wait_estimate.as_deref(),
        Some("6 of 12 places free; A benefits adviser phones within 10 working days")
    );

    let kensington =
        query("E09000020", "W10", AgeBand::From35To49, &[NeedCode::FuelUtilities], &[]);
    let offers = council.check_availability(&kensington).await.unwrap().offers;
    let energy = named(&offers, "Household Energy Advice and Hardship Fund");
    assert_eq!(energy.earliest_start, today().checked_add_days(Days::new(21)), "about 3 weeks");
    assert_eq!(energy.contact.as_ref().unwrap().phone.as_deref(), Some("0808 157 0201"));
    let barrow =
        query("E07000027", "LA14", AgeBand::From35To49, &[NeedCode::HousingConditions], &[]);
    let offers = council.check_availability(&barrow).await.unwrap().offers;
    let closed = named(&offers, "Barrow Private Housing Enforcement");
    assert_eq!((closed.capacity, closed.earliest_start), (Capacity::NoCapacity, None));
    sandbox.shutdown().await;
}

/// A directory page whose one digital service publishes every contact detail wrongly.
const BAD_PAGE: &str = r#"{"total_pages": 1, "last_page": true, "contents": [{
  "id": "svc-bad", "name": "Badly Kept Digital Café", "status": "active",
  "attributes": [{"taxonomy_term_id": "esdNeed:101"}],
  "phones": [{"number": "ring reception"}, {"number": "01632 960999", "type": "fax"},
             {"number": 1632960999}],
  "contacts": "the team",
  "email": "not an address", "url": "www.no-scheme.example", "wait_time": 6,
  "application_process": null,
  "schedules": [{"freq": "WEEKLY", "byday": "MO,XX", "opens_at": "09:00", "closes_at": "17:00"},
                {"freq": "WEEKLY", "byday": "TU", "opens_at": "17:00", "closes_at": "09:00"},
                {"freq": "MONTHLY", "byday": "1WE", "opens_at": "09:00", "closes_at": "12:00"},
                {"freq": "WEEKLY", "byday": "TH", "opens_at": "nine", "closes_at": "17:00"},
                "every day"],
  "service_at_locations": [{"location": {"location_type": "physical", "name": "Back Room",
                            "addresses": [{"address_1": 12, "postal_code": null}]}}]
}]}"#;

#[tokio::test]
async fn bad_contact_data_is_dropped_and_the_offer_kept() {
    let capture = Capture::serving(BAD_PAGE, "[]");
    let council = CouncilPartner::from_settings(Settings::new(capture.url())).unwrap();
    let q = query("E06000051", "SY8", AgeBand::From35To49, &[NeedCode::Digital], &[]);
    let offers = council.check_availability(&q).await.unwrap().offers;
    assert_eq!(offers.len(), 1, "{offers:#?}");
    let offer = &offers[0];
    assert_eq!(
        (offer.route, offer.channel),
        (Some(Route::Signpost), Some(ServiceChannel::InPerson))
    );
    let contact = offer.contact.clone().unwrap();
    assert_eq!(
        contact,
        ServiceContact { address: Some("Back Room".into()), ..ServiceContact::default() },
        "no phone, email, url or hours read cleanly"
    );
    assert_eq!(offer.earliest_start, None);
}

#[test]
fn the_published_example_maps_its_phone_extension_email_url_and_address() {
    let example: Service = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crates/pathways-sandbox/standards/hsds/examples/service_full.json"
    )))
    .unwrap();
    let q = query("E09000020", "W10", AgeBand::From35To49, &[NeedCode::SocialIsolation], &[]);
    let offer = mapping::offer(&example, NeedCode::SocialIsolation, &q, 14);
    assert_eq!(offer.route, Some(Route::Signpost), "it links no Open311 service_code");
    let contact = offer.contact.unwrap();
    assert_eq!(contact.phone.as_deref(), Some("+44 1234 234567 ext. 100"), "quotes removed");
    assert_eq!(contact.email.as_deref(), Some("email@example.com"));
    assert_eq!(contact.url.as_deref(), Some("http://example.com/counselling"));
    let address = contact.address.unwrap();
    assert!(
        address.starts_with("MyCity Civic Center, 1-30 Main Street, MyVillage, MyCity"),
        "{address}"
    );
    assert!(contact.opening_hours.is_empty(), "its schedule was valid only on 2005-01-01");
    assert!(contact.how_to_apply.unwrap().starts_with("If you are an NHS patient"));
}

#[test]
fn a_schedule_in_force_today_is_read_from_the_venue_when_the_service_has_none() {
    let service: Service = serde_json::from_value(json!({
        "id": "s", "name": "S", "status": "active",
        "schedules": [{"byday": "SA", "opens_at": "10:00", "closes_at": "12:00", "valid_to": "2026-01-01"}],
        "service_at_locations": [{
            "schedules": [{"freq": "WEEKLY", "byday": "WE,FR", "opens_at": "09:30:00Z", "closes_at": "12:30:00Z"}],
            "location": {"location_type": "physical", "name": "Hall"}
        }]
    }))
    .unwrap();
    let q = query("E09000020", "W10", AgeBand::From35To49, &[NeedCode::Digital], &[]);
    let contact = mapping::offer(&service, NeedCode::Digital, &q, 14).contact.unwrap();
    assert_eq!(
        contact.opening_hours,
        [OpeningHours {
            days: vec![Weekday::Wed, Weekday::Fri],
            opens: at(9, 30),
            closes: at(12, 30)
        }]
    );
    let bare: Service =
        serde_json::from_value(json!({"id": "s", "name": "S", "status": "active"})).unwrap();
    let offer = mapping::offer(&bare, NeedCode::Digital, &q, 14);
    assert_eq!((offer.contact, offer.channel), (None, None), "nothing published, nothing said");
}

/// A Kensington case with a housing-conditions need and no address recorded.
fn case_without_address() -> pathways_sdk::Case {
    let json = r#"{"reference": "CAKC-000124", "channel": "phone",
        "referrer": {"organisation": "citizens-advice-kc", "worker": "pf-17"},
        "client": {"name": "Test Q Person", "date_of_birth": "1989-04-02", "postcode": "W10 5AB",
          "local_authority": "E09000020", "phone": "07700 900123", "preferred_language": "en",
          "safe_contact": false, "household": {"adults": 1, "children_ages": []}},
        "needs": [{"code": "housing_conditions", "urgency": "soon"}, {"code": "debt_money", "urgency": "soon"}],
        "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
          "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}}"#;
    parse_case(json.as_bytes()).unwrap()
}

#[tokio::test]
async fn the_manifest_requires_the_address_for_housing_conditions_and_the_send_path_agrees() {
    let manifest = pathways_sdk::manifest_of::<CouncilPartner>();
    let case = case_without_address();
    assert_eq!(
        missing_prerequisites(&case, &manifest, NeedCode::HousingConditions, false),
        [Missing::ClientField { field: ClientField::Address }]
    );
    assert!(missing_prerequisites(&case, &manifest, NeedCode::DebtMoney, false).is_empty());
    let with_address = super::case(false);
    assert!(missing_prerequisites(&with_address, &manifest, NeedCode::HousingConditions, false)
        .is_empty());

    let sandbox = sandbox().await;
    let council = partner(&sandbox.council_url());
    let service =
        ServiceRef { id: "any".into(), name: "Private Housing Disrepair Inspections".into() };
    let shares = CouncilPartner::describe().shares;
    let need = [NeedCode::HousingConditions];
    let referral = Referral::for_partner(
        &case,
        &"rbkc".parse().unwrap(),
        service,
        &need,
        &shares,
        false,
        "k-no-address".parse().unwrap(),
    );
    let err = council.send_referral(&referral).await.unwrap_err();
    // Not the directory's 404 for service `any`: refused before any call.
    assert_eq!(err.kind, PartnerErrorKind::InvalidRequest, "{err}");
    assert!(err.message.contains("address"), "{err}");
    assert_eq!(sandbox.council_stats().total_posts, 0);
    sandbox.shutdown().await;
}

/// Offers in the wire form the host reads: route and contact survive the trip.
#[test]
fn route_and_contact_travel_in_the_offer_json() {
    let service: Service = serde_json::from_value(json!({
        "id": "s", "name": "S", "status": "active",
        "phones": [{"number": "020 7946 0999"}]
    }))
    .unwrap();
    let q = query("E09000020", "W10", AgeBand::From35To49, &[NeedCode::Digital], &[]);
    let offer = mapping::offer(&service, NeedCode::Digital, &q, 14);
    let wire: Value = serde_json::to_value(&offer).unwrap();
    assert_eq!(wire["route"], "signpost");
    assert_eq!(wire["contact"], json!({"phone": "020 7946 0999"}));
}
