//! Exactly what a referral puts on the wire, captured by a loopback server: name, contact
//! details, household, consent and the reason code; never notes, other needs, or a safe-contact
//! client's own contact details. The strict simulator accepts the same bodies.

use pathways_plugin_testkit::Capture;
use pathways_sdk::{Partner, PartnerPlugin, ReferredNeed, TaskState, Urgency};
use serde_json::{json, Value};

use super::{partner, referral, sandbox, settings, Spec, AGENCY_CONTACT};
use crate::mapping::{self, DtrReason};
use crate::{HousingPartner, PublicAuthority};

/// The receipt the capture server gives for a referral.
const RECEIPT: &str = r#"{"referral_id": "DTR-XX-CAPTURED", "status": "received"}"#;

async fn sent_body(spec: Spec) -> Value {
    let capture = Capture::start(RECEIPT);
    let receipt =
        partner(capture.url()).send_referral(&referral(spec, "key-capture")).await.unwrap();
    assert_eq!(receipt.partner_reference, "DTR-XX-CAPTURED");
    capture.post().json()
}

fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

#[tokio::test]
async fn the_referral_carries_name_contact_and_reason_but_no_notes_or_other_needs() {
    let body = sent_body(Spec::default()).await;
    let text = body.to_string();
    for secret in ["PRIVATE", "section 21", "mental", "abuse", "notes", "1989"] {
        assert!(!text.contains(secret), "`{secret}` reached the housing authority: {text}");
    }
    assert_eq!(
        keys(&body),
        ["chosen_authority", "client", "consent", "household", "reason", "referring_agency"]
    );
    assert_eq!(
        keys(&body["client"]),
        ["address", "contact_via_referrer", "email", "name", "phone", "postcode"]
    );
    assert_eq!(body["reason"], "threatened_with_homelessness_within_56_days");
    assert_eq!(body["chosen_authority"], "E09000020");
    assert_eq!(
        body["consent"],
        json!({"consent_to_refer": true, "consent_to_share_contact": true,
               "recorded_at": "2026-11-20T10:00:00Z", "recorded_by": "pf-17"})
    );
    assert_eq!(body["referring_agency"]["referral_type"], "voluntary");
    assert_eq!(body["referring_agency"]["contact"], AGENCY_CONTACT);
    assert_eq!(body["household"], json!({"adults": 1, "children_ages": [7, 15]}));

    // The strict simulator accepts exactly this body.
    let sandbox = sandbox().await;
    let receipt = partner(&sandbox.housing_url())
        .send_referral(&referral(Spec::default(), "key-strict"))
        .await
        .unwrap();
    assert_eq!(receipt.state, TaskState::Requested);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_safe_contact_client_is_reached_only_through_the_referrer() {
    let spec = Spec { safe_contact: true, ..Spec::default() };
    let body = sent_body(spec).await;
    assert_eq!(keys(&body["client"]), ["contact_via_referrer", "name"]);
    assert_eq!(body["client"]["contact_via_referrer"], true);
    assert_eq!(body["referring_agency"]["contact"], AGENCY_CONTACT);
    assert!(!body.to_string().contains("W10"), "no postcode for a safe-contact client");
    let sandbox = sandbox().await;
    let receipt = partner(&sandbox.housing_url()).send_referral(&referral(spec, "key-safe")).await;
    assert_eq!(receipt.unwrap().state, TaskState::Requested);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_reason_code_follows_urgency_and_notes() {
    let cases = [
        ("emergency", "section 21 notice served", "homeless"),
        ("urgent", "has nowhere to sleep tonight", "homeless"),
        ("soon", "sofa surfing at a friend's since Tuesday", "homeless"),
        (
            "urgent",
            "section 21 notice served, must leave in 6 weeks",
            "threatened_with_homelessness_within_56_days",
        ),
        (
            "routine",
            "rent arrears, landlord threatening possession",
            "threatened_with_homelessness_within_56_days",
        ),
    ];
    for (urgency, notes, expected) in cases {
        let body = sent_body(Spec { urgency, notes, ..Spec::default() }).await;
        assert_eq!(body["reason"], expected, "{urgency}: {notes}");
        assert!(!body.to_string().contains(notes), "the notes themselves stay home");
    }
}

#[test]
fn homeless_now_phrases_are_recognised_and_threatened_is_the_default() {
    let need = |urgency, notes: Option<&str>| ReferredNeed {
        code: pathways_sdk::NeedCode::HousingHomelessness,
        urgency,
        notes: notes.map(|n| pathways_sdk::Personal::new(n.to_string())),
    };
    for notes in [
        "Sleeping rough near the station",
        "NO FIXED ABODE",
        "sofa-surfing with family",
        "locked out by landlord",
        "she slept rough last night",
        "currently homeless after relationship breakdown",
    ] {
        assert_eq!(
            mapping::reason(&need(Urgency::Urgent, Some(notes))),
            DtrReason::Homeless,
            "{notes}"
        );
    }
    for notes in [Some("threatened with homelessness: section 21 expires in 5 weeks"), None] {
        assert_eq!(
            mapping::reason(&need(Urgency::Urgent, notes)),
            DtrReason::Threatened,
            "{notes:?}"
        );
    }
    assert_eq!(mapping::reason(&need(Urgency::Emergency, None)), DtrReason::Homeless);
}

#[tokio::test]
async fn a_public_authority_refers_under_the_duty() {
    let sandbox = sandbox().await;
    let jobcentre = HousingPartner::from_settings(crate::Settings {
        public_authority: Some(PublicAuthority::JobcentrePlus),
        ..settings(&sandbox.housing_url())
    })
    .unwrap();
    assert!(jobcentre.send_referral(&referral(Spec::default(), "key-duty")).await.is_ok());
    sandbox.shutdown().await;

    let capture = Capture::start(RECEIPT);
    let jobcentre = HousingPartner::from_settings(crate::Settings {
        public_authority: Some(PublicAuthority::JobcentrePlus),
        ..settings(capture.url())
    })
    .unwrap();
    jobcentre.send_referral(&referral(Spec::default(), "key-duty")).await.unwrap();
    let body = capture.post().json();
    assert_eq!(body["referring_agency"]["referral_type"], "duty_to_refer");
    assert_eq!(body["referring_agency"]["public_authority"], "jobcentre_plus");
}
