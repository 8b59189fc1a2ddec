//! What a bad `$process-message` gets back: a BaRS OperationOutcome with the right status,
//! issue type and BaRS code, pointing at the element at fault, and nothing created.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{post, referral, start, target};

async fn refused(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    assert_eq!(response.headers()["content-type"], "application/fhir+json", "{status}");
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["severity"], "error");
    (status, outcome)
}

fn code(outcome: &Value) -> (&str, &str) {
    let issue = &outcome["issue"][0];
    (
        issue["code"].as_str().unwrap_or_default(),
        issue["details"]["coding"][0]["code"].as_str().unwrap_or_default(),
    )
}

#[tokio::test]
async fn missing_or_bad_headers_are_refused_like_the_bars_proxy() {
    let sandbox = start().await;
    let body = referral("urn:uuid:dddddddd-0000-4000-8000-000000000001", "active").to_string();
    let url = format!("{}/$process-message", sandbox.nhs_url());
    let client = reqwest::Client::new();
    let (status, outcome) =
        refused(client.post(&url).body(body.clone()).send().await.unwrap()).await;
    assert_eq!(
        (status, code(&outcome)),
        (StatusCode::BAD_REQUEST, ("invalid", "SEND_BAD_REQUEST"))
    );
    let not_uuid = client
        .post(&url)
        .header("X-Request-ID", "CAKC-000123")
        .header("X-Correlation-ID", "9d7e1a52-0c6e-4a4e-8f43-7a8e1b2c3d4e")
        .header("NHSD-Target-Identifier", target("2000100001"))
        .body(body.clone());
    let (_, outcome) = refused(not_uuid.send().await.unwrap()).await;
    assert_eq!(outcome["issue"][0]["expression"][0], "X-Request-ID");
    for (header, expected) in [
        ("not base64!".to_string(), (StatusCode::BAD_REQUEST, ("invalid", "PROXY_BAD_REQUEST"))),
        (
            super::base64(b"{\"value\": 1}"),
            (StatusCode::BAD_REQUEST, ("structure", "PROXY_BAD_REQUEST")),
        ),
        (target("9999999999"), (StatusCode::NOT_FOUND, ("not-found", "PROXY_NOT_FOUND"))),
        (target("2000100005"), (StatusCode::NOT_FOUND, ("not-found", "PROXY_NOT_FOUND"))),
    ] {
        let response = client
            .post(&url)
            .header("X-Request-ID", "30000000-0000-4000-8000-000000000001")
            .header("X-Correlation-ID", "9d7e1a52-0c6e-4a4e-8f43-7a8e1b2c3d4e")
            .header("NHSD-Target-Identifier", header.as_str())
            .body(body.clone());
        let (status, outcome) = refused(response.send().await.unwrap()).await;
        assert_eq!((status, code(&outcome)), expected, "{header}");
    }
    assert_eq!(sandbox.nhs_stats().referrals_created, 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn each_broken_element_is_named_in_the_outcome() {
    let sandbox = start().await;
    let good = referral("urn:uuid:eeeeeeee-0000-4000-8000-000000000001", "active");
    let broken = |pointer: &str, value: Value| {
        let mut body = good.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    let without = |entry: usize, field: &str| {
        let mut body = good.clone();
        body["entry"][entry]["resource"].as_object_mut().unwrap().remove(field);
        body
    };
    let cases: Vec<(Value, StatusCode, &str, &str)> = vec![
        (json!("not a bundle"), StatusCode::BAD_REQUEST, "structure", "Bundle"),
        (broken("/type", json!("collection")), StatusCode::BAD_REQUEST, "value", "Bundle.type"),
        (
            broken("/timestamp", json!("yesterday")),
            StatusCode::BAD_REQUEST,
            "value",
            "Bundle.timestamp",
        ),
        (
            broken("/entry/0/resource/resourceType", json!("Patient")),
            StatusCode::BAD_REQUEST,
            "invariant",
            "Bundle.entry[0]",
        ),
        (
            broken("/entry/0/resource/eventCoding/system", json!("urn:x")),
            StatusCode::BAD_REQUEST,
            "value",
            "MessageHeader.eventCoding.system",
        ),
        (
            broken("/entry/0/resource/focus/0/reference", json!("urn:uuid:nowhere")),
            StatusCode::BAD_REQUEST,
            "invariant",
            "MessageHeader.focus",
        ),
        (without(0, "source"), StatusCode::BAD_REQUEST, "required", "Bundle.entry[0].resource"),
        (
            broken("/entry/1/resource/status", json!("draft")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-supported",
            "ServiceRequest.status",
        ),
        (
            broken("/entry/1/resource/status", json!("sent")),
            StatusCode::BAD_REQUEST,
            "value",
            "Bundle.entry[1].resource.status",
        ),
        (
            broken("/entry/1/resource/intent", json!("order")),
            StatusCode::BAD_REQUEST,
            "value",
            "ServiceRequest.intent",
        ),
        (
            broken("/entry/1/resource/category", json!([])),
            StatusCode::BAD_REQUEST,
            "required",
            "ServiceRequest.category",
        ),
        (
            without(1, "occurrencePeriod"),
            StatusCode::BAD_REQUEST,
            "required",
            "ServiceRequest.occurrencePeriod",
        ),
        (
            broken("/entry/1/resource/subject/reference", json!("Patient/elsewhere")),
            StatusCode::BAD_REQUEST,
            "invariant",
            "ServiceRequest.subject",
        ),
        (
            broken("/entry/1/resource/identifier", json!({"value": "x"})),
            StatusCode::BAD_REQUEST,
            "structure",
            "Bundle.entry[1].resource.identifier",
        ),
        (without(2, "birthDate"), StatusCode::BAD_REQUEST, "required", "Patient.birthDate"),
        (
            broken("/entry/2/resource/birthDate", json!("02/04/1989")),
            StatusCode::BAD_REQUEST,
            "value",
            "Patient.birthDate",
        ),
        (
            broken("/entry/2/resource/name", json!([{"given": ["Test"]}])),
            StatusCode::BAD_REQUEST,
            "required",
            "Patient.name",
        ),
        (
            broken("/entry/2/resource/telecom", json!([{"system": "pigeon", "value": "x"}])),
            StatusCode::BAD_REQUEST,
            "value",
            "Bundle.entry[2].resource.telecom[0].system",
        ),
    ];
    for (i, (body, status, issue, expression)) in cases.into_iter().enumerate() {
        let request_id = format!("40000000-0000-4000-8000-{i:012}");
        let (got, outcome) =
            refused(post(&sandbox, &request_id, "2000100001", &body.to_string()).await).await;
        assert_eq!(
            (got, outcome["issue"][0]["code"].as_str()),
            (status, Some(issue)),
            "case {i}: {outcome}"
        );
        assert_eq!(outcome["issue"][0]["expression"][0], expression, "case {i}: {outcome}");
        assert!(!outcome.to_string().contains("Test Person"), "no values in outcomes");
    }
    assert_eq!(sandbox.nhs_stats().referrals_created, 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn unknown_search_parameters_routes_and_methods_answer_operation_outcomes() {
    let sandbox = start().await;
    let url = sandbox.nhs_url();
    let checks = [
        (format!("{url}/HealthcareService?area=E09000020"), StatusCode::BAD_REQUEST),
        (format!("{url}/Task"), StatusCode::BAD_REQUEST),
        (
            format!("{url}/ServiceRequest?identifier=a|b&_revinclude=Task:owner"),
            StatusCode::BAD_REQUEST,
        ),
        (format!("{url}/Patient/1"), StatusCode::NOT_FOUND),
        (format!("{url}/$process-message"), StatusCode::METHOD_NOT_ALLOWED),
    ];
    for (url, status) in checks {
        let response = reqwest::get(&url).await.unwrap();
        let (got, outcome) = refused(response).await;
        assert_eq!(got, status, "{url}: {outcome}");
    }
    sandbox.shutdown().await;
}
