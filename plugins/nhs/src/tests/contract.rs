//! Contract tests from the published BaRS examples (copied, with their attribution, into
//! `crates/pathways-sandbox/standards/bars`): every OperationOutcome maps to the right outcome,
//! the example messages read through the connector's typed FHIR structs, and what the
//! simulator answers survives a round trip through the same structs.

use pathways_sdk::{NeedCode, PartnerErrorKind};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

use super::{kc_case, referral_of, sandbox};
use crate::fhir::Resource;
use crate::message::{self, Addressing, MessageIds};
use crate::outcome::{refusal, Refusal};

/// What an example should come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Delivered,
    Transient,
    Kind(PartnerErrorKind),
}
use Expected::*;

macro_rules! example {
    ($file:literal, $status:literal, $expected:expr) => {
        (
            $file,
            $status,
            include_str!(concat!(
                "../../../../crates/pathways-sandbox/standards/bars/OperationOutcome/",
                $file
            )),
            $expected,
        )
    };
}

#[test]
fn every_published_operation_outcome_maps_to_delivered_or_the_right_error_kind() {
    let examples: Vec<(&str, u16, &str, Expected)> = vec![
        example!(
            "REC/400-REC_BAD_REQUEST-invalid.json",
            400,
            Kind(PartnerErrorKind::InvalidRequest)
        ),
        example!(
            "REC/400-REC_BAD_REQUEST-invariant.json",
            400,
            Kind(PartnerErrorKind::InvalidRequest)
        ),
        example!(
            "REC/400-REC_BAD_REQUEST-not-supported.json",
            400,
            Kind(PartnerErrorKind::InvalidRequest)
        ),
        example!(
            "REC/400-REC_BAD_REQUEST-required.json",
            400,
            Kind(PartnerErrorKind::InvalidRequest)
        ),
        example!("REC/400-REC_BAD_REQUEST-value.json", 400, Kind(PartnerErrorKind::InvalidRequest)),
        example!(
            "REC/401-REC_UNAUTHORIZED-forbidden.json",
            401,
            Kind(PartnerErrorKind::Unauthorized)
        ),
        example!("REC/403-REC_FORBIDDEN-forbidden.json", 403, Kind(PartnerErrorKind::Unauthorized)),
        example!("REC/403-REC_FORBIDDEN-security.json", 403, Kind(PartnerErrorKind::Unauthorized)),
        example!("REC/404-REC_NOT_FOUND-not-found.json", 404, Kind(PartnerErrorKind::Permanent)),
        example!(
            "REC/406-REC_NOT_ACCEPTABLE-processing.json",
            406,
            Kind(PartnerErrorKind::Permanent)
        ),
        example!("REC/408-REC_TIMEOUT-timeout.json", 408, Transient),
        example!("REC/409-REC_CONFLICT-conflict.json", 409, Delivered),
        example!("REC/409-REC_CONFLICT-duplicate.json", 409, Delivered),
        example!(
            "REC/422-REC_UNPROCESSABLE_ENTITY-not-supported.json",
            422,
            Kind(PartnerErrorKind::InvalidRequest)
        ),
        example!(
            "REC/422-REC_UNPROCESSABLE_ENTITY-too-costly.json",
            422,
            Kind(PartnerErrorKind::InvalidRequest)
        ),
        example!("REC/500-REC_SERVER_ERROR-exception.json", 500, Transient),
        example!("REC/500-REC_SERVER_ERROR-no-store.json", 500, Transient),
        example!("REC/500-REC_SERVER_ERROR-too costly.json", 500, Transient),
        example!("REC/500-REC_SERVER_ERROR-transient.json", 500, Transient),
        example!(
            "REC/501-REC_NOT_IMPLEMENTED-not-supported.json",
            501,
            Kind(PartnerErrorKind::Permanent)
        ),
        example!("REC/503-REC_SERVICE_UNAVAILABLE-transient.json", 503, Transient),
        example!(
            "SEND/400-SEND_BAD_REQUEST-invalid.json",
            400,
            Kind(PartnerErrorKind::InvalidRequest)
        ),
        example!(
            "SEND/400-SEND_BAD_REQUEST-required.json",
            400,
            Kind(PartnerErrorKind::InvalidRequest)
        ),
        example!(
            "SEND/400-SEND_BAD_REQUEST-value.json",
            400,
            Kind(PartnerErrorKind::InvalidRequest)
        ),
        example!(
            "SEND/401-SEND_UNAUTHORIZED-expired.json",
            401,
            Kind(PartnerErrorKind::Unauthorized)
        ),
        example!(
            "SEND/401-SEND_UNAUTHORIZED-login.json",
            401,
            Kind(PartnerErrorKind::Unauthorized)
        ),
        example!(
            "SEND/401-SEND_UNAUTHORIZED-security.json",
            401,
            Kind(PartnerErrorKind::Unauthorized)
        ),
        example!(
            "SEND/401-SEND_UNAUTHORIZED-unknown.json",
            401,
            Kind(PartnerErrorKind::Unauthorized)
        ),
        example!(
            "SEND/403-SEND_FORBIDDEN-forbidden.json",
            403,
            Kind(PartnerErrorKind::Unauthorized)
        ),
        example!(
            "SEND/405-SEND_METHOD_NOT_ALLOWED-not-supported.json",
            405,
            Kind(PartnerErrorKind::Permanent)
        ),
        example!(
            "SEND/406-SEND_NOT_ACCEPTABLE-processing.json",
            406,
            Kind(PartnerErrorKind::Permanent)
        ),
        example!("SEND/429-SEND_TOO_MANY_REQUESTS-throttled.json", 429, Transient),
        example!(
            "PROXY-NONE/400-BAD_REQUEST-invalid.json",
            400,
            Kind(PartnerErrorKind::InvalidRequest)
        ),
        example!(
            "PROXY-NONE/400-BAD_REQUEST-required.json",
            400,
            Kind(PartnerErrorKind::InvalidRequest)
        ),
        example!(
            "PROXY-NONE/400-BAD_REQUEST-structure.json",
            400,
            Kind(PartnerErrorKind::InvalidRequest)
        ),
        example!(
            "PROXY-NONE/404-NOT_FOUND-multiple-matches.json",
            404,
            Kind(PartnerErrorKind::Permanent)
        ),
        example!("PROXY-NONE/404-NOT_FOUND-not-found.json", 404, Kind(PartnerErrorKind::Permanent)),
        example!("PROXY-NONE/409-BAD_REQUEST-duplicate.json", 409, Delivered),
        example!("PROXY-NONE/500-SERVER_ERROR-exception.json", 500, Transient),
        example!("PROXY-NONE/500-SERVER_ERROR-transient.json", 500, Transient),
        example!("PROXY-NONE/503-SERVICE_UNAVAILABLE-transient.json", 503, Transient),
        example!("conflict.json", 409, Delivered),
        example!("proxy-not-found.json", 404, Kind(PartnerErrorKind::Permanent)),
        example!("invalid-base64.json", 400, Kind(PartnerErrorKind::InvalidRequest)),
        example!("malformed-target-identifier.json", 400, Kind(PartnerErrorKind::InvalidRequest)),
    ];
    assert_eq!(examples.len(), 45);
    for (file, status, body, expected) in examples {
        let status = StatusCode::from_u16(status).unwrap();
        let parsed: Resource = serde_json::from_str(body).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(matches!(parsed, Resource::OperationOutcome(_)), "{file}");
        let got = refusal(status, &HeaderMap::new(), "/$process-message", body.as_bytes());
        match (expected, got) {
            (Delivered, Refusal::AlreadyDelivered) => {}
            (Transient, Refusal::Failed(err)) if err.kind.is_retryable() => {
                assert!(matches!(err.kind, PartnerErrorKind::Transient { .. }), "{file}: {err}");
            }
            (Kind(kind), Refusal::Failed(err)) if err.kind == kind => {
                assert!(err.message.contains(&status.as_u16().to_string()), "{file}: {err}");
                let diagnostics = serde_json::from_str::<Value>(body).unwrap()["issue"][0]
                    ["diagnostics"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                assert!(
                    diagnostics.is_empty() || !err.message.contains(&diagnostics),
                    "{file}: {err}"
                );
            }
            (expected, got) => panic!("{file}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn the_published_409_rec_conflict_duplicate_is_delivered_not_retried() {
    let body = include_str!(
        "../../../../crates/pathways-sandbox/standards/bars/OperationOutcome/REC/409-REC_CONFLICT-duplicate.json"
    );
    assert_eq!(
        refusal(StatusCode::CONFLICT, &HeaderMap::new(), "/$process-message", body.as_bytes()),
        Refusal::AlreadyDelivered
    );
}

/// Reads `json` as a Resource, writes it back, and reads that again: the second reading
/// must equal the first writing (nothing the structs model is lost or invented).
fn round_trip(json: &str) -> Resource {
    let first: Resource = serde_json::from_str(json).unwrap();
    let written = serde_json::to_value(&first).unwrap();
    let second: Resource = serde_json::from_value(written.clone()).unwrap();
    assert_eq!(serde_json::to_value(&second).unwrap(), written);
    first
}

fn entries(resource: &Resource) -> Vec<&Resource> {
    let Resource::Bundle(bundle) = resource else { panic!("not a Bundle") };
    bundle.entry.iter().filter_map(|e| e.resource.as_ref()).collect()
}

#[test]
fn the_published_request_and_response_messages_read_through_the_typed_structs() {
    let request = round_trip(include_str!(
        "../../../../crates/pathways-sandbox/standards/bars/process_message/servicerequest-request.json"
    ));
    let found = entries(&request);
    let Resource::MessageHeader(header) = found[0] else { panic!("MessageHeader first") };
    assert_eq!(
        header.event_coding.as_ref().unwrap().code.as_deref(),
        Some("servicerequest-request")
    );
    assert_eq!(header.destination[0].endpoint, "http://fhir.nhs.uk/Id/dos-service-id|111111111");
    let Resource::ServiceRequest(sr) = found[1] else { panic!("ServiceRequest second") };
    assert_eq!((sr.status.as_str(), sr.intent.as_str()), ("active", "plan"));
    assert!(found.iter().any(|r| matches!(r, Resource::Patient(p) if p.birth_date.is_some())));
    assert!(found.iter().any(|r| matches!(r, Resource::Other)), "Encounter, CarePlan, ...");

    let response = round_trip(include_str!(
        "../../../../crates/pathways-sandbox/standards/bars/process_message/servicerequest-response.json"
    ));
    assert!(matches!(entries(&response)[0], Resource::MessageHeader(_)));
}

#[tokio::test]
async fn what_the_simulator_answers_round_trips_through_the_same_structs() {
    let sandbox = sandbox().await;
    let url = sandbox.nhs_url();
    let search = reqwest::get(format!(
        "{url}/HealthcareService?coverage-area:identifier=E09000020&service-category=22,12,32,34"
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let services = round_trip(&search);
    assert!(entries(&services).iter().all(|r| matches!(r, Resource::HealthcareService(_))));
    assert_eq!(entries(&services).len(), 5, "four active and the closed café");

    let receipt = pathways_sdk::Partner::send_referral(
        &super::partner(&url),
        &super::referral("2000100001", "key-rt"),
    )
    .await
    .unwrap();
    let task = reqwest::get(format!("{url}/Task/{}", receipt.partner_reference))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(matches!(round_trip(&task), Resource::Task(t) if t.intent == "order"));
    let outcome = reqwest::get(format!("{url}/Task/nope")).await.unwrap().text().await.unwrap();
    assert!(
        matches!(round_trip(&outcome), Resource::OperationOutcome(o) if o.issue[0].code == "not-found")
    );
    sandbox.shutdown().await;
}

#[test]
fn the_message_the_connector_writes_reads_back_unchanged() {
    let referral = referral_of(&kc_case(), "2000100001", &[NeedCode::MentalHealth], "key-own");
    let ids = MessageIds::new("key-own", "CAKC-000123");
    let to = Addressing {
        target_system: "http://fhir.nhs.uk/Id/dos-service-id",
        source_endpoint: "urn:test",
        now: chrono::Utc::now(),
    };
    let written =
        serde_json::to_string(&message::referral_message(&referral, &ids, &to).unwrap()).unwrap();
    let again = round_trip(&written);
    assert_eq!(serde_json::to_string(&again).unwrap(), written);
    assert_eq!(MessageIds::new("key-own", "CAKC-000123"), ids, "the same key, the same ids");
    assert_ne!(MessageIds::new("key-other", "CAKC-000123").request_id, ids.request_id);
    assert_eq!(MessageIds::new("key-other", "CAKC-000123").correlation_id, ids.correlation_id);
}
