//! The housing options offer as a referral with the team's contact details, against the
//! simulator over real HTTP; malformed team details dropped without losing the offer; and the
//! manifest's `requires`, which must name exactly what the send path refuses.

use chrono::NaiveTime;
use pathways_plugin_testkit::Capture;
use pathways_sdk::{
    missing_prerequisites, Capacity, Missing, NeedCode, OpeningHours, Partner, PartnerErrorKind,
    PartnerPlugin, Prerequisite, Route, ServiceContact, Weekday,
};

use super::{case, partner, query, referral, sandbox, Dtr, Spec, ALL};
use crate::{HousingPartner, Settings};

fn at(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

#[tokio::test]
async fn the_offer_is_a_referral_with_the_teams_phone_hours_and_out_of_hours_line() {
    let sandbox = sandbox().await;
    let housing = partner(&sandbox.housing_url());
    let offers = housing.check_availability(&query("E09000020", "urgent")).await.unwrap().offers;
    let kc = &offers[0];
    assert_eq!(kc.route, Some(Route::Refer));
    assert_eq!(
        kc.earliest_start,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 23),
        "triage, as given"
    );
    assert_eq!(
        kc.contact,
        Some(ServiceContact {
            phone: Some("020 7946 0500".into()),
            email: Some("housingoptions@rbkc.council.example".into()),
            url: Some("https://rbkc.council.example/housing/homeless-or-at-risk".into()),
            address: Some("Kensington Town Hall, Hornton Street, London W8 7NX".into()),
            opening_hours: vec![OpeningHours {
                days: Weekday::ALL[..5].to_vec(),
                opens: at(9, 0),
                closes: at(17, 0),
            }],
            how_to_apply: Some(
                "Evenings, weekends and bank holidays: if you have nowhere to sleep tonight, phone 0808 157 0500."
                    .into()
            ),
        })
    );
    let offers = housing.check_availability(&query("E06000051", "soon")).await.unwrap().offers;
    let hours = &offers[0].contact.as_ref().unwrap().opening_hours;
    assert_eq!(
        hours,
        &[
            OpeningHours { days: Weekday::ALL[..4].to_vec(), opens: at(8, 45), closes: at(17, 0) },
            OpeningHours { days: vec![Weekday::Fri], opens: at(8, 45), closes: at(16, 30) },
        ]
    );
    sandbox.shutdown().await;
}

/// An availability answer whose team details are all malformed.
const BAD_TEAM: &str = r#"{"authority": "E09000020", "name": "Test Borough",
  "accepting_referrals": true, "next_triage_date": "2026-11-23",
  "housing_options": {"phone": "ring the council", "email": 5, "url": "council.example",
    "address": ["Town Hall"], "out_of_hours": null,
    "opening_hours": [{"days": ["mon", "someday"], "opens_at": "09:00", "closes_at": "17:00"},
                      {"days": ["tue"], "opens_at": "17:00", "closes_at": "09:00"}, "weekdays"]}}"#;

/// An availability answer from an API that does not publish the team's details.
const NO_TEAM: &str = r#"{"authority": "E09000020", "accepting_referrals": true,
  "next_triage_date": "2026-11-23"}"#;

#[tokio::test]
async fn malformed_team_details_are_dropped_and_the_offer_kept() {
    let capture = Capture::serving(BAD_TEAM, "{}");
    let housing = HousingPartner::from_settings(Settings::new(capture.url(), &ALL)).unwrap();
    let offers = housing.check_availability(&query("E09000020", "urgent")).await.unwrap().offers;
    assert_eq!(offers.len(), 1);
    let offer = &offers[0];
    assert_eq!((offer.capacity, offer.route), (Capacity::Capacity, Some(Route::Refer)));
    assert_eq!(offer.contact, None, "nothing read cleanly");
    let capture = Capture::serving(NO_TEAM, "{}");
    let housing = HousingPartner::from_settings(Settings::new(capture.url(), &ALL)).unwrap();
    let offers = housing.check_availability(&query("E09000020", "urgent")).await.unwrap().offers;
    assert_eq!((offers.len(), offers[0].contact.as_ref()), (1, None), "an older API without it");
}

#[test]
fn the_manifest_declares_the_three_duty_to_refer_facts() {
    let without_facts = case(Spec { dtr: None, ..Spec::default() });
    let three = [Missing::ConsentToRefer, Missing::ConsentToShareContact, Missing::ChosenAuthority];
    // The library's own manifest (what a host reads before any settings) and a configured
    // partner's (with `agency_contact`, so direct contact is not required).
    let static_manifest = pathways_sdk::manifest_of::<HousingPartner>();
    let configured = super::partner("http://127.0.0.1:9");
    for manifest in [&static_manifest, configured.manifest()] {
        assert_eq!(
            missing_prerequisites(&without_facts, manifest, NeedCode::HousingHomelessness, false),
            three
        );
        assert!(
            missing_prerequisites(&without_facts, manifest, NeedCode::MentalHealth, false)
                .is_empty(),
            "for housing only"
        );
    }
    let whats: Vec<&Prerequisite> =
        configured.manifest().requires.iter().map(|r| &r.what).collect();
    assert_eq!(whats, [&Prerequisite::DutyToRefer { authorities: ALL.map(String::from).to_vec() }]);
    let bare =
        HousingPartner::from_settings(Settings::new("http://127.0.0.1:9", &["E09000020"])).unwrap();
    let whats: Vec<&Prerequisite> = bare.manifest().requires.iter().map(|r| &r.what).collect();
    assert_eq!(
        whats,
        [
            &Prerequisite::DutyToRefer { authorities: vec!["E09000020".into()] },
            &Prerequisite::DirectContact
        ],
        "no agency_contact: the authority must reach the client directly"
    );
}

#[tokio::test]
async fn the_manifest_blocks_exactly_what_the_send_path_refuses() {
    let sandbox = sandbox().await;
    let with_agency = partner(&sandbox.housing_url());
    let kc_only =
        HousingPartner::from_settings(Settings::new(sandbox.housing_url(), &["E09000020"]))
            .unwrap();
    let dtr = |refer, share_contact, authority| Some(Dtr { refer, share_contact, authority });
    let spec = |dtr, safe_contact| Spec { dtr, safe_contact, ..Spec::default() };
    // (A case cannot record an empty or malformed chosen authority: the case parser refuses it.)
    let scenarios: [(&HousingPartner, Spec, Vec<Missing>); 7] = [
        (&with_agency, spec(dtr(true, true, "E09000020"), false), vec![]),
        (
            &with_agency,
            spec(None, false),
            vec![Missing::ConsentToRefer, Missing::ConsentToShareContact, Missing::ChosenAuthority],
        ),
        (&with_agency, spec(dtr(false, true, "E09000020"), false), vec![Missing::ConsentToRefer]),
        (
            &with_agency,
            spec(dtr(true, false, "E09000020"), false),
            vec![Missing::ConsentToShareContact],
        ),
        (
            &kc_only,
            spec(dtr(true, true, "E06000051"), false),
            vec![Missing::AuthorityNotServed { chosen: "E06000051".into() }],
        ),
        (&kc_only, spec(dtr(true, true, "E09000020"), true), vec![Missing::DirectContact]),
        (&with_agency, spec(dtr(true, true, "E09000020"), true), vec![]),
    ];
    for (i, (partner, spec, expected)) in scenarios.into_iter().enumerate() {
        let missing = missing_prerequisites(
            &case(spec),
            partner.manifest(),
            NeedCode::HousingHomelessness,
            false,
        );
        assert_eq!(missing, expected, "scenario {i}");
        let sent = partner.send_referral(&referral(spec, &format!("key-match-{i}"))).await;
        match sent {
            Ok(_) => assert!(expected.is_empty(), "scenario {i} was sent though {expected:?}"),
            Err(err) => {
                assert!(!expected.is_empty(), "scenario {i} was refused though planned: {err}");
                assert_eq!(err.kind, PartnerErrorKind::InvalidRequest, "scenario {i}: {err}");
                assert!(err.message.starts_with("not sent"), "scenario {i}: {err}");
            }
        }
    }
    assert_eq!(sandbox.housing_stats().referrals_created, 2, "the two with nothing missing");
    sandbox.shutdown().await;
}
