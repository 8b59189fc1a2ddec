//! The API's contract, machine-checked: `/openapi.json` is generated from the route table and
//! the handlers' types, and every answer the router tests receive is validated against it
//! (`support::conforms`). These tests pin the mismatches an outside fuzzer once found between
//! the document and the code, and show that the checker itself refuses what is undeclared.

mod support;

use axum::http::{header, Method, StatusCode};
use serde_json::Value;
use support::{case_json, conforms, Harness, ORG_A};

fn document() -> Value {
    pathways_daemon::openapi_document()
}

#[tokio::test]
async fn an_empty_reference_is_refused_and_the_document_says_it_must_not_be_blank() {
    let doc = document();
    let reference = &doc["components"]["schemas"]["Case"]["properties"]["reference"];
    assert_eq!(reference["pattern"], r"\S", "{reference}");
    let h = Harness::new().await;
    let blank = case_json(ORG_A).replace(r#""reference": "REF-1""#, r#""reference": " ""#);
    let (status, body) = h.send(h.post("/v1/cases", &h.pathfinder_a, blank)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("`reference`"), "{body}");
}

#[tokio::test]
async fn the_idempotency_key_header_and_the_415_are_declared_and_answered_as_declared() {
    let doc = document();
    let op = &doc["paths"]["/v1/cases/{id}/referrals"]["post"];
    let key = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .expect("the header is declared");
    assert_eq!((key["in"].as_str(), key["required"].as_bool()), (Some("header"), Some(true)));
    assert_eq!(key["schema"]["maxLength"], 128);
    for status in ["413", "415", "429", "503"] {
        assert!(op["responses"][status].is_object(), "{status} declared");
    }
    let h = Harness::new().await;
    let (_, created) = h.send(h.post("/v1/cases", &h.pathfinder_a, case_json(ORG_A))).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/cases/{id}/referrals");
    // No content type: 415 as JSON, with its content type (and validated by `send`).
    let mut req = h.request(Method::POST, &path, Some(&h.pathfinder_a), None, b"{}".to_vec());
    req.headers_mut().insert("idempotency-key", "k-415".parse().unwrap());
    let (status, body) = h.send(req).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type"))
    );
    // No key header: 400 naming it.
    let (status, body) = h.send(h.post(&path, &h.pathfinder_a, "{}".into())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("missing_idempotency_key"))
    );
}

#[tokio::test]
async fn referral_selections_parse_exactly_what_their_schema_says() {
    let doc = document();
    let request = &doc["components"]["schemas"]["ReferralRequest"];
    assert!(request["properties"]["steps"].to_string().contains("Choice_of_Ordinal"), "{request}");
    let choice = &doc["components"]["schemas"]["Choice_of_Ordinal"];
    assert_eq!(choice["minItems"], 1, "{choice}");
    assert!(!request.to_string().contains("null"), "steps and needs are never null: {request}");
    let h = Harness::new().await;
    let (_, created) = h.send(h.post("/v1/cases", &h.pathfinder_a, case_json(ORG_A))).await;
    let id = created["id"].as_str().unwrap();
    h.send(h.post(&format!("/v1/cases/{id}/plan"), &h.pathfinder_a, String::new())).await;
    let path = format!("/v1/cases/{id}/referrals");
    let cases = [
        (r#"{"needs": []}"#, StatusCode::BAD_REQUEST, "schema: minItems 1"),
        (r#"{"steps": []}"#, StatusCode::BAD_REQUEST, "schema: minItems 1"),
        (r#"{"steps": null}"#, StatusCode::BAD_REQUEST, "schema: not nullable"),
        (r#"{"steps": [0]}"#, StatusCode::BAD_REQUEST, "schema: minimum 1"),
        (r#"{"steps": [1.5]}"#, StatusCode::BAD_REQUEST, "schema: an integer"),
        // 221.0 is an integer to JSON Schema: read as step 221, which this plan lacks.
        (
            r#"{"steps": [221.0]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a well-formed step not in the plan",
        ),
        (r#"{"steps": [1.0]}"#, StatusCode::ACCEPTED, "step 1, written 1.0"),
    ];
    for (i, (body, expected, why)) in cases.into_iter().enumerate() {
        let (status, answer) =
            h.send(h.post_with_key(&path, &h.pathfinder_a, &format!("sel-{i}"), body.into())).await;
        assert_eq!(status, expected, "{body} ({why}): {answer}");
    }
}

#[tokio::test]
async fn a_report_range_may_be_empty_but_not_inverted() {
    let h = Harness::new().await;
    let at = "2026-12-01T00:00:00Z";
    let (status, body) =
        h.send(h.get(&format!("/v1/reports/pathways?from={at}&to={at}"), &h.coordinator_a)).await;
    assert_eq!(status, StatusCode::OK, "from = to is an empty range: {body}");
    assert_eq!(body["pathways"], serde_json::json!([]));
    let (status, body) = h
        .send(h.get(
            "/v1/reports/pathways?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
            &h.coordinator_a,
        ))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_range"))
    );
}

#[test]
fn a_created_case_links_to_its_plan_referrals_and_export() {
    let doc = document();
    let links = &doc["paths"]["/v1/cases"]["post"]["responses"]["201"]["links"];
    for (name, operation) in [
        ("plan", "planCase"),
        ("referrals", "createReferrals"),
        ("export", "exportCase"),
        ("case", "getCase"),
    ] {
        assert_eq!(links[name]["operationId"], operation, "{links}");
        assert_eq!(links[name]["parameters"]["id"], "$response.body#/id");
    }
    // The plan exists once planned: that is where the link to read it starts.
    let planned = &doc["paths"]["/v1/cases/{id}/plan"]["post"]["responses"]["201"]["links"];
    assert_eq!(planned["readPlan"]["operationId"], "getPlan", "{planned}");
    assert_eq!(planned["readPlan"]["parameters"]["id"], "$request.path.id");
    // Every link names an operation that exists.
    let operations: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| {
            item.as_object()
                .unwrap()
                .values()
                .map(|op| op["operationId"].as_str().unwrap().to_string())
        })
        .collect();
    for link in doc.to_string().split("\"operationId\":\"").skip(1) {
        let id = &link[..link.find('"').unwrap()];
        assert!(operations.iter().any(|o| o == id), "{id}");
    }
}

#[test]
fn every_route_declares_what_its_middleware_can_answer_and_its_security() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = &op["responses"];
            for status in ["429", "503"] {
                assert!(responses[status].is_object(), "{method} {path} lacks {status}");
            }
            let open = op["security"] == serde_json::json!([]);
            assert_eq!(
                responses["401"].is_object(),
                !open || path.contains("/events"),
                "{method} {path}"
            );
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(responses[status].is_object(), "{method} {path} lacks {status}");
                }
            }
        }
    }
}

#[test]
fn the_checker_refuses_an_undeclared_status_and_a_body_of_the_wrong_shape() {
    let teapot = std::panic::catch_unwind(|| {
        conforms(
            &Method::GET,
            "/v1/cases/0123456789abcdef0123456789abcdef",
            StatusCode::IM_A_TEAPOT,
            &serde_json::json!({}),
        )
    });
    assert!(teapot.is_err(), "418 is not declared for getCase");
    let wrong = std::panic::catch_unwind(|| {
        conforms(&Method::POST, "/v1/cases", StatusCode::CREATED, &serde_json::json!({"id": 7}))
    });
    assert!(wrong.is_err(), "a 201 without the declared fields");
    conforms(
        &Method::POST,
        "/v1/cases",
        StatusCode::CREATED,
        &serde_json::json!({"id": "x", "organisation": "o"}),
    );
    let _ = header::CONTENT_TYPE;
}
