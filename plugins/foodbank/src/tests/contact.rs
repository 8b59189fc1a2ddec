//! How each offer is taken up and how to reach the food bank, against the simulator over real
//! HTTP: every offer is a referral by e-voucher, with the Give Food listing's phone, email,
//! homepage and address and the desk's session times; a badly typed phone falls back to the
//! second number; bad details are dropped without losing the offer; the next session's exact
//! date is kept. And the manifest requires nothing a voucher can be refused for.

use chrono::{Datelike, Days, NaiveTime};
use pathways_plugin_testkit::{sandbox, today};
use pathways_sdk::{
    missing_prerequisites, parse_case, Capacity, NeedCode, OpeningHours, Partner, PartnerPlugin,
    Referral, Route, ServiceContact, ServiceRef, TaskState, Weekday,
};
use serde_json::json;

use super::{partner, query};
use crate::mapping::{self, DirectoryFoodbank, VoucherAvailability};
use crate::FoodbankPartner;

fn at(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

#[tokio::test]
async fn offers_are_referred_and_carry_the_listing_and_session_hours() {
    let sandbox = sandbox().await;
    let offers = partner(&sandbox.foodbank_url())
        .check_availability(&query("W10 5AB", &[NeedCode::Food]))
        .await
        .unwrap()
        .offers;
    assert!(offers.iter().all(|o| o.route == Some(Route::Refer)), "{offers:#?}");
    let north = &offers[0];
    assert_eq!(north.service.id, "north-kensington");
    assert_eq!(
        north.contact,
        Some(ServiceContact {
            phone: Some("020 7946 0101".into()),
            email: Some("hello@north-kensington.foodbank.example".into()),
            url: Some("https://north-kensington.foodbank.example/".into()),
            address: Some("St Quintin Hall, 12 Ladbroke Row, London, W10 6ZZ".into()),
            opening_hours: vec![OpeningHours {
                days: vec![Weekday::Tue, Weekday::Fri],
                opens: at(10, 0),
                closes: at(13, 0),
            }],
            how_to_apply: None,
        })
    );
    assert_eq!(north.earliest_start, Some(today()), "Friday's session, as the desk says");
    let larder = offers.iter().find(|o| o.service.id == "notting-hill-larder").unwrap();
    let wait = larder.earliest_start.unwrap();
    assert_eq!(wait.weekday(), chrono::Weekday::Wed, "the desk's next session date is kept");
    assert!(wait >= today() + Days::new(14), "two weeks' waiting list");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_phone_typed_with_words_gives_way_to_the_second_number() {
    let sandbox = sandbox().await;
    let offers = partner(&sandbox.foodbank_url())
        .check_availability(&query("SY8 1AA", &[NeedCode::Food]))
        .await
        .unwrap()
        .offers;
    let ludlow = offers[0].contact.as_ref().unwrap();
    assert_eq!(offers[0].service.id, "ludlow-district");
    assert_eq!(ludlow.phone.as_deref(), Some("07700 900102"), "not \"... (Thursdays only)\"");
    assert_eq!(ludlow.opening_hours[0].days, [Weekday::Thu]);
    sandbox.shutdown().await;
}

#[test]
fn bad_listing_details_are_dropped_and_the_offer_kept() {
    let fb: DirectoryFoodbank = serde_json::from_value(json!({
        "name": "Messy Pantry", "slug": "messy", "postcode": 12, "closed": false,
        "distance_m": 800, "phone": "ring the church", "secondary_phone": 7946,
        "email": "pantry at church", "address": null, "urls": "https://messy.example/"
    }))
    .unwrap();
    let desk: VoucherAvailability = serde_json::from_value(json!({
        "accepting_referrals": true, "vouchers_remaining_this_week": 0, "waitlist_weeks": 2,
        "next_session": "soon", "sessions": [{"days": ["tue", "someday"], "opens_at": "10:00",
        "closes_at": "12:00"}, {"days": "wed"}, "mornings"]
    }))
    .unwrap();
    let offer = mapping::offer(&fb, 800, Some(&desk), today());
    assert_eq!((offer.capacity, offer.route), (Capacity::Waitlist, Some(Route::Refer)));
    assert_eq!(offer.contact, None, "nothing read cleanly");
    assert_eq!(
        offer.earliest_start,
        today().checked_add_days(Days::new(14)),
        "no session date: two weeks from today"
    );
    assert_eq!(offer.location.unwrap().postcode, None);
}

#[tokio::test]
async fn nothing_is_required_beyond_consent_and_a_client_without_a_phone_is_still_referred() {
    let manifest = pathways_sdk::manifest_of::<FoodbankPartner>();
    assert!(manifest.requires.is_empty());
    let case = parse_case(
        br#"{"reference": "CAKC-000125", "channel": "phone",
        "referrer": {"organisation": "citizens-advice-kc", "worker": "pf-17"},
        "client": {"name": "Test Person", "date_of_birth": "1989-04-02", "postcode": "W10 5AB",
          "local_authority": "E09000020", "preferred_language": "en", "safe_contact": false,
          "household": {"adults": 1, "children_ages": []}},
        "needs": [{"code": "food", "urgency": "urgent"}],
        "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
          "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}}"#,
    )
    .unwrap();
    assert!(missing_prerequisites(&case, &manifest, NeedCode::Food, false).is_empty());
    let sandbox = sandbox().await;
    let service = ServiceRef { id: "north-kensington".into(), name: "North Kensington".into() };
    let shares = FoodbankPartner::describe().shares;
    let referral = Referral::for_partner(
        &case,
        &"fb".parse().unwrap(),
        service,
        &[NeedCode::Food],
        &shares,
        false,
        "key-no-phone".parse().unwrap(),
    );
    assert!(referral.client.contact_via_referrer, "no phone: the agency is the contact");
    let receipt = partner(&sandbox.foodbank_url()).send_referral(&referral).await.unwrap();
    assert_eq!(receipt.state, TaskState::Requested);
    sandbox.shutdown().await;
}
