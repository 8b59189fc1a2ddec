//! How each offer is taken up and how to reach the service, against the simulator over real
//! HTTP: every offer is a BaRS referral, with the service's telecom, availableTime,
//! extraDetails and its included Location's address; a capacity note that states a wait
//! becomes `earliest_start`; malformed details are dropped without losing the offer. And the
//! manifest requires nothing the send path refuses.

use chrono::{Days, NaiveTime};
use pathways_plugin_testkit::today;
use pathways_sdk::{
    missing_prerequisites, AgeBand, Capacity, NeedCode, NeedRequest, OpeningHours, Partner, Route,
    ServiceContact, TaskState, Urgency, Weekday,
};
use serde_json::json;

use super::{all_needs, case, kc_case, partner, query, referral_of, sandbox};
use crate::fhir::Resource;
use crate::mapping::{self, Judged};
use crate::NhsPartner;

fn at(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn in_days(days: u64) -> Option<chrono::NaiveDate> {
    today().checked_add_days(Days::new(days))
}

#[tokio::test]
async fn offers_are_referred_with_telecom_hours_and_the_venues_address() {
    let sandbox = sandbox().await;
    let offers = partner(&sandbox.nhs_url())
        .check_availability(&query(&kc_case(), &all_needs()))
        .await
        .unwrap()
        .offers;
    assert!(offers.iter().all(|o| o.route == Some(Route::Refer)), "{offers:#?}");
    let therapies = &offers[0];
    assert_eq!(therapies.service.id, "2000100001");
    assert_eq!(
        therapies.contact,
        Some(ServiceContact {
            phone: Some("020 7946 0301".into()),
            email: Some("kc.talkingtherapies@nhs.example".into()),
            url: Some("https://talkingtherapies-kc.nhs.example/".into()),
            address: None,
            opening_hours: vec![
                OpeningHours {
                    days: Weekday::ALL[..5].to_vec(),
                    opens: at(8, 0),
                    closes: at(20, 0)
                },
                OpeningHours { days: vec![Weekday::Sat], opens: at(9, 0), closes: at(13, 0) },
            ],
            how_to_apply: Some(
                "Refer yourself online or by phone, or ask your GP to refer you.".into()
            ),
        })
    );
    let drugs = &offers[1];
    let venue = drugs.location.as_ref().unwrap();
    assert_eq!(
        (venue.name.as_str(), venue.postcode.as_deref()),
        ("Westway Recovery Hub", Some("W10 5ZX"))
    );
    let contact = drugs.contact.as_ref().unwrap();
    assert_eq!(
        contact.address.as_deref(),
        Some("Westway Recovery Hub, 40 Acklam Walk, London, W10 5ZX")
    );
    assert_eq!(contact.phone.as_deref(), Some("020 7946 0303"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_capacity_note_that_states_a_wait_becomes_an_earliest_start() {
    let sandbox = sandbox().await;
    let nhs = partner(&sandbox.nhs_url());
    let offers = nhs.check_availability(&query(&kc_case(), &all_needs())).await.unwrap().offers;
    let therapies = &offers[0];
    assert_eq!(therapies.capacity, Capacity::Waitlist);
    assert_eq!(therapies.earliest_start, in_days(28), "4–6 weeks: the shortest wait");
    assert_eq!(
        therapies.wait_estimate.as_deref(),
        Some("~15 on waitlist; 4–6 weeks"),
        "words kept"
    );
    let link_workers = &offers[2];
    assert_eq!(
        (link_workers.service.id.as_str(), link_workers.earliest_start),
        ("2000100002", None),
        "\"within 5 working days\" is a bound, not a start"
    );

    let shropshire = case("E06000051", "SY8 1AA", "1950-06-01", false);
    let offers = nhs.check_availability(&query(&shropshire, &all_needs())).await.unwrap().offers;
    let social = offers.iter().find(|o| o.service.id == "2000200002").unwrap();
    assert_eq!((social.capacity, social.earliest_start), (Capacity::Waitlist, in_days(14)));
    let drugs = offers.iter().find(|o| o.service.id == "2000200003").unwrap();
    assert_eq!((drugs.capacity, drugs.earliest_start), (Capacity::NoCapacity, None));
    let barrow = case("E07000027", "LA14 1AA", "1950-06-01", false);
    let offers = nhs.check_availability(&query(&barrow, &all_needs())).await.unwrap().offers;
    let furness = offers.iter().find(|o| o.service.id == "2000300001").unwrap();
    assert_eq!(furness.earliest_start, in_days(70), "10–12 weeks");
    sandbox.shutdown().await;
}

#[test]
fn malformed_contact_details_are_dropped_and_the_offer_kept() {
    let bundle = json!({"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "HealthcareService", "id": "x", "active": true,
            "identifier": [{"system": "urn:dos", "value": "42"}],
            "category": [{"coding": [{"system": mapping::SERVICE_CATEGORY, "code": "22"}]}],
            "name": "Messy Therapies",
            "telecom": [{"system": "phone", "value": "ask at reception"},
                        {"system": "phone", "value": 2079460999_u64},
                        {"system": "email", "value": "therapies at nhs"},
                        {"system": "phone", "value": "020 7946 0000", "use": "old"},
                        "0207"],
            "availableTime": [{"daysOfWeek": ["mon", "funday"], "availableStartTime": "09:00:00",
                               "availableEndTime": "17:00:00"},
                              {"daysOfWeek": "tue"}, {"daysOfWeek": ["wed"], "allDay": true}],
            "extraDetails": 12,
            "location": [{"reference": "Location/loc", "display": "Clinic"}]}},
        {"resource": {"resourceType": "Location", "id": "loc", "name": ["not", "text"],
            "address": "somewhere"}, "search": {"mode": "include"}}
    ]});
    let Resource::Bundle(bundle) = serde_json::from_value(bundle).unwrap() else { panic!() };
    let judged = Judged {
        age_band: AgeBand::From35To49,
        today: today(),
        target_system: "urn:dos",
        max_per_need: 3,
    };
    let need = [NeedRequest { code: NeedCode::MentalHealth, urgency: Urgency::Soon }];
    let offers = mapping::offers(&bundle, &need, &judged).unwrap();
    assert_eq!(offers.len(), 1);
    let offer = &offers[0];
    assert_eq!(
        (offer.route, offer.location.as_ref().unwrap().name.as_str()),
        (Some(Route::Refer), "Clinic")
    );
    assert_eq!(
        offer.contact,
        Some(ServiceContact {
            opening_hours: vec![OpeningHours {
                days: vec![Weekday::Wed],
                opens: at(0, 0),
                closes: at(23, 59),
            }],
            ..ServiceContact::default()
        }),
        "only the all-day Wednesday reads"
    );
}

#[tokio::test]
async fn nothing_is_required_and_a_client_without_phone_or_email_is_still_referred() {
    let manifest = pathways_sdk::manifest_of::<NhsPartner>();
    assert!(manifest.requires.is_empty());
    let unsafe_contact = case("E09000020", "W10 5AB", "1989-04-02", true);
    assert!(
        missing_prerequisites(&unsafe_contact, &manifest, NeedCode::MentalHealth, false).is_empty()
    );
    let sandbox = sandbox().await;
    let referral =
        referral_of(&unsafe_contact, "2000100001", &[NeedCode::MentalHealth], "key-no-contact");
    assert!(referral.client.contact_via_referrer);
    let receipt = partner(&sandbox.nhs_url()).send_referral(&referral).await.unwrap();
    assert_eq!(receipt.state, TaskState::Requested);
    sandbox.shutdown().await;
}
