//! Exactly what a referral puts on the wire, as the simulator received it: valid FHIR R4, the
//! declared client fields and nothing else, notes only of the needs referred here, and no
//! direct contact when contact is unsafe.

use pathways_sdk::{NeedCode, Partner};
use serde_json::Value;

use super::{case, kc_case, partner, referral_of, sandbox};
use crate::message::MessageIds;

/// Checks the R4 rules a JSON writer can break: no nulls, no empty strings, arrays or objects
/// (R4 forbids them), a `resourceType` on every resource, and the elements R4 requires.
fn assert_valid_fhir(value: &Value, path: &str) {
    match value {
        Value::Null => panic!("null at {path}"),
        Value::String(s) => assert!(!s.is_empty(), "empty string at {path}"),
        Value::Array(items) => {
            assert!(!items.is_empty(), "empty array at {path}");
            for (i, item) in items.iter().enumerate() {
                assert_valid_fhir(item, &format!("{path}[{i}]"));
            }
        }
        Value::Object(map) => {
            assert!(!map.is_empty(), "empty object at {path}");
            for (key, item) in map {
                assert_valid_fhir(item, &format!("{path}.{key}"));
            }
        }
        _ => {}
    }
}

fn resource<'a>(bundle: &'a Value, kind: &str) -> &'a Value {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {bundle}"))
}

fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

async fn sent(safe_contact: bool, needs: &[NeedCode], key: &str) -> Value {
    let sandbox = sandbox().await;
    let case = case("E09000020", "W10 5AB", "1989-04-02", safe_contact);
    let referral = referral_of(&case, "2000100001", needs, key);
    partner(&sandbox.nhs_url()).send_referral(&referral).await.unwrap();
    let messages = sandbox.nhs_messages();
    sandbox.shutdown().await;
    assert_eq!(messages.len(), 1);
    messages[0].clone()
}

#[tokio::test]
async fn the_message_is_valid_fhir_in_the_bars_shape_with_ids_from_the_key() {
    let bundle = sent(false, &[NeedCode::MentalHealth], "key-shape").await;
    assert_valid_fhir(&bundle, "Bundle");
    let ids = MessageIds::new("key-shape", "CAKC-000123");
    assert_eq!(bundle["id"], ids.request_id.to_string(), "Bundle.id is the X-Request-ID");
    assert_eq!(bundle["type"], "message");
    let kinds: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["fullUrl"].as_str().unwrap().starts_with("urn:uuid:"));
            e["resource"]["resourceType"].as_str().unwrap()
        })
        .collect();
    assert_eq!(kinds, ["MessageHeader", "ServiceRequest", "Patient", "Organization"]);
    let header = resource(&bundle, "MessageHeader");
    assert_eq!(
        header["eventCoding"]["system"],
        "https://fhir.nhs.uk/CodeSystem/message-events-bars"
    );
    assert_eq!(header["eventCoding"]["code"], "servicerequest-request");
    assert_eq!(header["focus"][0]["reference"], bundle["entry"][1]["fullUrl"]);
    assert_eq!(
        header["destination"][0]["endpoint"],
        "http://fhir.nhs.uk/Id/dos-service-id|2000100001"
    );
    assert!(header["source"]["endpoint"].is_string());
    let sr = resource(&bundle, "ServiceRequest");
    assert_eq!((sr["status"].as_str(), sr["intent"].as_str()), (Some("active"), Some("plan")));
    assert_eq!(sr["category"][0]["coding"][0]["code"], "referral");
    assert_eq!(sr["subject"]["reference"], bundle["entry"][2]["fullUrl"]);
    assert_eq!(sr["identifier"][0]["value"], ids.service_request_identifier().1);
    assert_eq!(sr["priority"], "routine");
    assert!(
        sr["occurrencePeriod"]["start"].is_string() && sr["occurrencePeriod"]["end"].is_string()
    );
    assert_eq!(sr["reasonCode"][0]["coding"][0]["code"], "stress");
    assert_eq!(sr["requisition"]["value"], "CAKC-000123");
}

#[tokio::test]
async fn the_patient_carries_the_declared_fields_and_notes_only_of_needs_referred_here() {
    let bundle = sent(false, &[NeedCode::MentalHealth], "key-fields").await;
    let patient = resource(&bundle, "Patient");
    assert_eq!(
        keys(patient),
        ["address", "birthDate", "communication", "id", "name", "resourceType", "telecom"]
    );
    assert_eq!(patient["birthDate"], "1989-04-02");
    assert_eq!(patient["address"][0]["postalCode"], "W10 5AB");
    let systems: Vec<&str> = patient["telecom"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["phone", "email"]);
    let text = bundle.to_string();
    assert!(text.contains("MH-NOTE low mood"), "mental health notes go to a mental health service");
    for secret in ["PRIVATE-FOOD-NOTE", "PRIVATE-ABUSE", "children", "household", "domestic"] {
        assert!(!text.contains(secret), "`{secret}` reached the NHS service: {text}");
    }
    let other = sent(false, &[NeedCode::SubstanceUse], "key-other-need").await.to_string();
    assert!(!other.contains("MH-NOTE"), "notes of a need not referred here stay behind");
}

#[tokio::test]
async fn a_client_with_unsafe_contact_is_reached_only_through_the_referrer() {
    let bundle = sent(true, &[NeedCode::MentalHealth], "key-safe").await;
    assert_valid_fhir(&bundle, "Bundle");
    let patient = resource(&bundle, "Patient");
    assert_eq!(keys(patient), ["birthDate", "communication", "id", "name", "resourceType"]);
    let text = bundle.to_string();
    for secret in ["07700", "test@example.org", "1 Test Road", "W10 5AB", "PRIVATE-ABUSE"] {
        assert!(!text.contains(secret), "`{secret}` reached the NHS service: {text}");
    }
    let notes = resource(&bundle, "ServiceRequest")["note"].to_string();
    assert!(notes.contains("through the referrer, citizens-advice-kc"), "{notes}");
}

#[tokio::test]
async fn a_referral_without_a_name_or_an_nhs_need_is_refused_before_sending() {
    let sandbox = sandbox().await;
    let nhs = partner(&sandbox.nhs_url());
    let mut nameless = referral_of(&kc_case(), "2000100001", &[NeedCode::MentalHealth], "k1");
    nameless.client.name = None;
    let err = nhs.send_referral(&nameless).await.unwrap_err();
    assert_eq!(err.kind, pathways_sdk::PartnerErrorKind::InvalidRequest);
    let food_only = referral_of(&kc_case(), "2000100001", &[NeedCode::Food], "k2");
    assert!(nhs.send_referral(&food_only).await.is_err());
    assert_eq!(sandbox.nhs_stats().total_posts, 0);
    sandbox.shutdown().await;
}
