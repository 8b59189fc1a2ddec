//! Exactly what a referral puts on the wire, captured by a loopback server: only the fields a
//! food bank uses, never notes, health or abuse details, and no direct contact when contact is
//! unsafe.

use pathways_plugin_testkit::Capture;
use pathways_sdk::{Partner, TaskState};
use serde_json::Value;

use super::{partner, referral, sandbox};

async fn sent_body(safe_contact: bool) -> Value {
    let capture = Capture::start(r#"{"voucher_id": "FBV-CAPTURED", "status": "issued"}"#);
    partner(capture.url())
        .send_referral(&referral("north-kensington", "key-capture", safe_contact))
        .await
        .unwrap();
    capture.post().json()
}

fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

#[tokio::test]
async fn the_voucher_carries_no_notes_health_or_abuse_details() {
    let body = sent_body(false).await;
    let text = body.to_string();
    for secret in ["PRIVATE", "mental", "abuse", "notes", "test@example.org", "1989-04-02"] {
        assert!(!text.contains(secret), "`{secret}` reached the food bank: {text}");
    }
    assert_eq!(keys(&body), ["agency", "client", "foodbank", "household", "referral_reasons"]);
    assert_eq!(
        keys(&body["client"]),
        ["address", "contact_via_agency", "full_name", "phone", "postcode", "year_of_birth"]
    );
    assert_eq!(body["client"]["year_of_birth"], 1989);
    assert_eq!(body["referral_reasons"], serde_json::json!(["food_insecurity"]));
    assert_eq!(body["household"]["children_ages"], serde_json::json!([7, 15]));

    // The strict sandbox accepts exactly this body.
    let sandbox = sandbox().await;
    partner(&sandbox.foodbank_url())
        .send_referral(&referral("north-kensington", "key-strict", false))
        .await
        .unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_client_with_unsafe_contact_is_reached_only_through_the_agency() {
    let body = sent_body(true).await;
    assert_eq!(keys(&body["client"]), ["contact_via_agency", "full_name", "year_of_birth"]);
    assert_eq!(body["client"]["contact_via_agency"], true);
    let sandbox = sandbox().await;
    let receipt = partner(&sandbox.foodbank_url())
        .send_referral(&referral("shrewsbury", "key-safe", true))
        .await;
    assert_eq!(receipt.unwrap().state, TaskState::Requested);
    sandbox.shutdown().await;
}
