//! The NHS simulator over real HTTP on 127.0.0.1: the directory, `$process-message` with the
//! published BaRS example, duplicates, cancellation and Task tracking. Strictness (what a bad
//! message gets back) is in `tests/strict.rs`, the fault knobs and the clock in
//! `tests/faults.rs`.

mod faults;
mod strict;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{NhsTaskReason, NhsTaskStatus, Sandbox, SandboxConfig};

const SERVICE_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/service-category";
const ONS: &str = "http://statistics.data.gov.uk/id/statistical-geography";
const CAPACITY: &str = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ExtensionHealthcareServiceCapacityStatus";

/// The published BaRS `servicerequest-request` example (ValidationRequest).
const BARS_REQUEST: &str =
    include_str!("../../standards/bars/process_message/servicerequest-request.json");

async fn start() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts on loopback")
}

/// Standard base64, for the NHSD-Target-Identifier header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let word =
            chunk.iter().fold(0u32, |w, b| (w << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((word >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `NHSD-Target-Identifier` for a Directory of Services id.
fn target(dos_id: &str) -> String {
    base64(
        json!({"system": "http://fhir.nhs.uk/Id/dos-service-id", "value": dos_id})
            .to_string()
            .as_bytes(),
    )
}

/// A minimal valid `servicerequest-request` message for an identifier.
fn referral(identifier: &str, status: &str) -> Value {
    json!({
        "resourceType": "Bundle", "id": "5b7f0d7e-4f2b-4b47-9a53-5d3b2f1b6a10", "type": "message",
        "timestamp": "2026-11-20T10:00:00Z",
        "entry": [
            {"fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111", "resource": {
                "resourceType": "MessageHeader",
                "eventCoding": {"system": "https://fhir.nhs.uk/CodeSystem/message-events-bars",
                                "code": "servicerequest-request"},
                "destination": [{"endpoint": "http://fhir.nhs.uk/Id/dos-service-id|2000100001"}],
                "source": {"endpoint": "urn:test:sender"},
                "focus": [{"reference": "urn:uuid:22222222-2222-4222-8222-222222222222"}]}},
            {"fullUrl": "urn:uuid:22222222-2222-4222-8222-222222222222", "resource": {
                "resourceType": "ServiceRequest",
                "identifier": [{"system": "urn:ietf:rfc:3986", "value": identifier}],
                "status": status, "intent": "plan",
                "category": [{"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/message-category-servicerequest",
                                          "code": "referral"}]}],
                "subject": {"reference": "urn:uuid:33333333-3333-4333-8333-333333333333"},
                "occurrencePeriod": {"start": "2026-11-20", "end": "2026-12-04"}}},
            {"fullUrl": "urn:uuid:33333333-3333-4333-8333-333333333333", "resource": {
                "resourceType": "Patient", "name": [{"text": "Test Person"}], "birthDate": "1989-04-02",
                "telecom": [{"system": "phone", "value": "07700 900123"}]}}
        ]
    })
}

async fn post(sandbox: &Sandbox, request_id: &str, dos_id: &str, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/$process-message", sandbox.nhs_url()))
        .header("X-Request-ID", request_id)
        .header("X-Correlation-ID", "9d7e1a52-0c6e-4a4e-8f43-7a8e1b2c3d4e")
        .header("NHSD-Target-Identifier", target(dos_id))
        .header("Content-Type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .await
        .expect("sandbox answers")
}

async fn get(url: String) -> (StatusCode, Value) {
    let response = reqwest::get(url).await.expect("sandbox answers");
    let status = response.status();
    assert_eq!(response.headers()["content-type"], "application/fhir+json", "{status}");
    (status, response.json().await.expect("FHIR JSON"))
}

fn capacity_code(service: &Value) -> &str {
    service["extension"]
        .as_array()
        .and_then(|e| e.iter().find(|x| x["url"] == CAPACITY))
        .and_then(|x| x["extension"][0]["valueCodeableConcept"]["coding"][0]["code"].as_str())
        .unwrap_or("none")
}

async fn services(sandbox: &Sandbox, area: &str, categories: &[&str]) -> Vec<Value> {
    let categories: Vec<String> =
        categories.iter().map(|c| format!("{SERVICE_CATEGORY}|{c}")).collect();
    let url = reqwest::Url::parse_with_params(
        &format!("{}/HealthcareService", sandbox.nhs_url()),
        [
            ("active", "true".to_string()),
            ("coverage-area:identifier", format!("{ONS}|{area}")),
            ("service-category", categories.join(",")),
        ],
    )
    .unwrap();
    let (status, bundle) = get(url.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (bundle["resourceType"].as_str(), bundle["type"].as_str()),
        (Some("Bundle"), Some("searchset"))
    );
    let entries = bundle["entry"].as_array().unwrap().clone();
    assert_eq!(bundle["total"], entries.len());
    entries
        .into_iter()
        .map(|e| {
            assert!(e["fullUrl"].as_str().unwrap().starts_with("http://127.0.0.1:"));
            assert_eq!(e["search"]["mode"], "match");
            e["resource"].clone()
        })
        .collect()
}

#[tokio::test]
async fn directory_answers_capacity_status_per_area_and_barrow_is_sparse() {
    let sandbox = start().await;
    let kc = services(&sandbox, "E09000020", &["22", "12"]).await;
    let found: Vec<(&str, &str)> =
        kc.iter().map(|s| (s["id"].as_str().unwrap(), capacity_code(s))).collect();
    assert_eq!(found, [("talking-therapies-kc", "waitlist"), ("drug-alcohol-kc", "capacity")]);
    assert_eq!(kc[0]["extension"][0]["extension"][1]["valueString"], "~15 on waitlist; 4–6 weeks");
    assert_eq!(kc[0]["identifier"][0]["value"], "2000100001");
    assert_eq!(kc[0]["eligibility"][0]["extension"][0]["valueRange"]["low"]["value"], 18);
    let shropshire = services(&sandbox, "E06000051", &["12"]).await;
    assert_eq!(capacity_code(&shropshire[0]), "no-capacity");
    let barrow = services(&sandbox, "E07000027", &["12", "32"]).await;
    assert!(barrow.is_empty(), "no drug and alcohol or link worker service in Barrow");
    let (status, one) = get(format!("{}/HealthcareService/falls-kc", sandbox.nhs_url())).await;
    assert_eq!((status, capacity_code(&one)), (StatusCode::OK, "additional-assessment-required"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn services_publish_telecom_hours_and_their_locations_address() {
    let sandbox = start().await;
    let url = format!(
        "{}/HealthcareService?coverage-area:identifier={ONS}|E09000020&_include=HealthcareService:location",
        sandbox.nhs_url()
    );
    let (status, bundle) = get(url).await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    let entries = bundle["entry"].as_array().unwrap();
    let therapies = entries.iter().find(|e| e["resource"]["id"] == "talking-therapies-kc").unwrap();
    let therapies = &therapies["resource"];
    let systems: Vec<&str> = therapies["telecom"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["phone", "email", "url"]);
    assert_eq!(therapies["telecom"][0]["value"], "020 7946 0301");
    assert_eq!(
        therapies["availableTime"][0],
        serde_json::json!({"daysOfWeek": ["mon", "tue", "wed", "thu", "fri"],
            "availableStartTime": "08:00:00", "availableEndTime": "20:00:00"})
    );
    assert_eq!(therapies["availableTime"][1]["daysOfWeek"], serde_json::json!(["sat"]));
    assert!(therapies.get("location").is_none(), "by phone and online");

    let link_workers =
        entries.iter().find(|e| e["resource"]["id"] == "social-prescribing-kc").unwrap();
    assert_eq!(
        link_workers["resource"]["location"][0]["reference"],
        "Location/golborne-health-centre"
    );
    let included: Vec<&Value> = entries
        .iter()
        .filter(|e| e["search"]["mode"] == "include")
        .map(|e| &e["resource"])
        .collect();
    assert!(included.iter().all(|r| r["resourceType"] == "Location"));
    let golborne = included.iter().find(|r| r["id"] == "golborne-health-centre").unwrap();
    assert_eq!(golborne["address"]["postalCode"], "W10 5ZY");
    assert_eq!(bundle["total"], entries.len() - included.len(), "total counts matches only");

    let (status, read) =
        get(format!("{}/Location/golborne-health-centre", sandbox.nhs_url())).await;
    assert_eq!((status, &read), (StatusCode::OK, *golborne));
    let (status, _) = get(format!("{}/Location/nowhere", sandbox.nhs_url())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let bad =
        format!("{}/HealthcareService?_include=HealthcareService:endpoint", sandbox.nhs_url());
    assert_eq!(get(bad).await.0, StatusCode::BAD_REQUEST);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_published_bars_request_is_accepted_and_a_repeat_is_a_409_duplicate() {
    let sandbox = start().await;
    let request_id = "0f6fd6c2-3d7b-4f2e-9c1a-2f8e7d6c5b4a";
    let response = post(&sandbox, request_id, "2000100001", BARS_REQUEST).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        (answer["resourceType"].as_str(), answer["type"].as_str()),
        (Some("Bundle"), Some("message"))
    );
    let header = &answer["entry"][0]["resource"];
    assert_eq!(header["resourceType"], "MessageHeader");
    assert_eq!(header["response"]["code"], "ok");
    assert_eq!(header["response"]["identifier"], "86e3371d-1c15-4862-9552-d9560f8292ba");
    let task = &answer["entry"][1]["resource"];
    assert_eq!(
        (task["resourceType"].as_str(), task["status"].as_str()),
        (Some("Task"), Some("requested"))
    );
    assert_eq!(task["intent"], "order");
    let sr = &answer["entry"][2]["resource"];
    assert_eq!(
        task["focus"]["reference"],
        format!("ServiceRequest/{}", sr["id"].as_str().unwrap())
    );

    let again = post(&sandbox, request_id, "2000100001", BARS_REQUEST).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let outcome: Value = again.json().await.unwrap();
    let published: Value = serde_json::from_str(include_str!(
        "../../standards/bars/OperationOutcome/REC/409-REC_CONFLICT-duplicate.json"
    ))
    .unwrap();
    assert_eq!(outcome["issue"][0]["code"], published["issue"][0]["code"]);
    assert_eq!(outcome["issue"][0]["details"], published["issue"][0]["details"]);
    let stats = sandbox.nhs_stats();
    assert_eq!((stats.total_posts, stats.distinct_request_ids, stats.referrals_created), (2, 1, 1));
    assert_eq!(stats.posts_per_request_id[request_id], 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_booking_message_is_not_supported() {
    let sandbox = start().await;
    let booking = include_str!("../../standards/bars/process_message/booking-request.json");
    let response =
        post(&sandbox, "6a0c1f4e-9b2d-4c8e-a7f1-3e5d2b9c8a70", "2000100001", booking).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(outcome["issue"][0]["code"], "not-supported");
    assert_eq!(outcome["issue"][0]["details"]["coding"][0]["code"], "REC_UNPROCESSABLE_ENTITY");
    assert_eq!(sandbox.nhs_stats().referrals_created, 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn tasks_are_found_by_id_focus_and_identifier_and_revoked_cancels() {
    let sandbox = start().await;
    let url = sandbox.nhs_url();
    let body = referral("urn:uuid:aaaaaaaa-0000-4000-8000-000000000001", "active").to_string();
    let answer: Value = post(&sandbox, "10000000-0000-4000-8000-000000000001", "2000100002", &body)
        .await
        .json()
        .await
        .unwrap();
    let task_id = answer["entry"][1]["resource"]["id"].as_str().unwrap().to_string();
    let sr_id = answer["entry"][2]["resource"]["id"].as_str().unwrap().to_string();
    let (status, task) = get(format!("{url}/Task/{task_id}")).await;
    assert_eq!(
        (status, task["owner"]["reference"].as_str()),
        (StatusCode::OK, Some("HealthcareService/social-prescribing-kc"))
    );
    let (_, by_focus) = get(format!("{url}/Task?focus=ServiceRequest/{sr_id}")).await;
    assert_eq!(by_focus["entry"][0]["resource"]["id"], task_id.as_str());
    let (_, by_identifier) = get(format!(
        "{url}/ServiceRequest?identifier=urn:ietf:rfc:3986|urn:uuid:aaaaaaaa-0000-4000-8000-000000000001&_revinclude=Task:focus"
    ))
    .await;
    let modes: Vec<(&str, &str)> = by_identifier["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["resource"]["resourceType"].as_str().unwrap(), e["search"]["mode"].as_str().unwrap())
        })
        .collect();
    assert_eq!(modes, [("ServiceRequest", "match"), ("Task", "include")]);
    assert_eq!(by_identifier["total"], 1);

    // The same referral in a new message is still a duplicate; revoking it cancels it once.
    let resent = post(&sandbox, "10000000-0000-4000-8000-000000000002", "2000100002", &body).await;
    assert_eq!(resent.status(), StatusCode::CONFLICT);
    let revoke = referral("urn:uuid:aaaaaaaa-0000-4000-8000-000000000001", "revoked").to_string();
    let cancelled =
        post(&sandbox, "10000000-0000-4000-8000-000000000003", "2000100002", &revoke).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let (_, task) = get(format!("{url}/Task/{task_id}")).await;
    assert_eq!(task["status"], "cancelled");
    assert_eq!(task["statusReason"]["coding"][0]["code"], "revoked-by-requester");
    let late = post(&sandbox, "10000000-0000-4000-8000-000000000004", "2000100002", &revoke).await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    let outcome: Value = late.json().await.unwrap();
    assert_eq!(outcome["issue"][0]["code"], "conflict");
    let unknown = referral("urn:uuid:bbbbbbbb-0000-4000-8000-000000000009", "revoked").to_string();
    let missing =
        post(&sandbox, "10000000-0000-4000-8000-000000000005", "2000100002", &unknown).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let stats = sandbox.nhs_stats();
    assert_eq!((stats.referrals_created, stats.referrals_cancelled), (1, 1));
    assert_eq!(sandbox.nhs_messages().len(), 2, "the referral and its cancellation");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_revoke_may_name_the_patient_on_record_say_why_and_revokes_the_service_request() {
    let sandbox = start().await;
    let url = sandbox.nhs_url();
    let identifier = "urn:uuid:dddddddd-0000-4000-8000-000000000001";
    let body = referral(identifier, "active").to_string();
    let answer: Value = post(&sandbox, "30000000-0000-4000-8000-000000000001", "2000100002", &body)
        .await
        .json()
        .await
        .unwrap();
    let task_id = answer["entry"][1]["resource"]["id"].as_str().unwrap().to_string();
    let patient = answer["entry"][1]["resource"]["for"]["reference"].as_str().unwrap().to_string();
    let sr_id = answer["entry"][2]["resource"]["id"].as_str().unwrap().to_string();
    // The update without the Patient: the subject is the receiver's own record.
    let revoke = |identifier: &str, status: &str, subject: &str| {
        let mut message = referral(identifier, status);
        message["entry"].as_array_mut().unwrap().truncate(2);
        let sr = &mut message["entry"][1]["resource"];
        sr["subject"] = json!({"reference": subject});
        sr["extension"] = json!([{
            "url": "http://hl7.org/fhir/StructureDefinition/request-statusReason",
            "valueCodeableConcept": {"coding": [{"system": "urn:test", "code": "no-longer-needed"}]}
        }]);
        message.to_string()
    };
    let stranger = revoke(identifier, "revoked", "Patient/someone-else");
    let refused =
        post(&sandbox, "30000000-0000-4000-8000-000000000002", "2000100002", &stranger).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let outcome: Value = refused.json().await.unwrap();
    assert_eq!(outcome["issue"][0]["expression"][0], "ServiceRequest.subject");
    let not_a_referral =
        revoke("urn:uuid:dddddddd-0000-4000-8000-000000000002", "active", &patient);
    let refused =
        post(&sandbox, "30000000-0000-4000-8000-000000000003", "2000100002", &not_a_referral).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "a new referral needs its Patient");
    assert_eq!(sandbox.nhs_referral(&task_id).unwrap().task_status, NhsTaskStatus::Requested);

    let update = revoke(identifier, "revoked", &patient);
    let cancelled =
        post(&sandbox, "30000000-0000-4000-8000-000000000004", "2000100002", &update).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let (_, task) = get(format!("{url}/Task/{task_id}")).await;
    assert_eq!(task["status"], "cancelled");
    assert_eq!(task["statusReason"]["coding"][0]["code"], "no-longer-interested");
    let (_, stored) = get(format!("{url}/ServiceRequest/{sr_id}")).await;
    assert_eq!(stored["status"], "revoked");
    assert_eq!(
        sandbox.nhs_referral(&task_id),
        Some(crate::NhsReferralRecord {
            task_status: NhsTaskStatus::Cancelled,
            task_reason: Some(NhsTaskReason::NoLongerInterested),
            service_request_status: "revoked".into(),
        })
    );
    // The same update again is the same message: a duplicate, changing nothing.
    let again = post(&sandbox, "30000000-0000-4000-8000-000000000004", "2000100002", &update).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(sandbox.nhs_stats().referrals_cancelled, 1);
    assert_eq!(sandbox.nhs_referral("no-such-task"), None);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_full_service_rejects_on_arrival_and_statuses_can_be_set() {
    let sandbox = start().await;
    let body = referral("urn:uuid:cccccccc-0000-4000-8000-000000000001", "active").to_string();
    let answer: Value = post(&sandbox, "20000000-0000-4000-8000-000000000001", "2000200003", &body)
        .await
        .json()
        .await
        .unwrap();
    let task = &answer["entry"][1]["resource"];
    assert_eq!(task["status"], "rejected");
    assert_eq!(task["statusReason"]["coding"][0]["code"], "no-capacity");
    let task_id = task["id"].as_str().unwrap();
    sandbox
        .set_nhs_task_status(task_id, NhsTaskStatus::OnHold, Some(NhsTaskReason::CouldNotContact))
        .unwrap();
    let (_, held) = get(format!("{}/Task/{task_id}", sandbox.nhs_url())).await;
    assert_eq!(
        (held["status"].as_str(), held["statusReason"]["coding"][0]["code"].as_str()),
        (Some("on-hold"), Some("could-not-contact"))
    );
    sandbox.set_nhs_task_status(task_id, NhsTaskStatus::Failed, None).unwrap();
    let (_, failed) = get(format!("{}/Task/{task_id}", sandbox.nhs_url())).await;
    assert_eq!(failed["statusReason"]["coding"][0]["code"], "other", "FHIR requires a reason");
    assert!(sandbox.set_nhs_task_status("nope", NhsTaskStatus::Completed, None).is_err());
    let (status, _) = get(format!("{}/Task/nope", sandbox.nhs_url())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    sandbox.shutdown().await;
}

#[test]
fn the_shipped_configuration_puts_the_nhs_simulator_on_9102_without_faults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/sandbox.toml");
    let config = SandboxConfig::from_toml_file(&path).unwrap();
    assert_eq!(config.nhs.listen, "127.0.0.1:9102".parse().unwrap());
    assert_eq!(config.nhs.faults, crate::Faults::default());
    let err = SandboxConfig::from_toml_str("[nhs.faults]\nerror_rate = 2.0\n").unwrap_err();
    assert!(err.to_string().contains("nhs.faults.error_rate"), "{err}");
}
