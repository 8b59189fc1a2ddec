//! Open311 GeoReport v2: the service list, request POSTs and their refusals, idempotency, and
//! statuses on the sandbox clock.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{form, get, post_request, start, start_with, start_with_clock};

/// A form as field and value pairs.
type Form = Vec<(&'static str, &'static str)>;
use crate::{CouncilSimConfig, RejectReason, SandboxConfig, Stage};

#[tokio::test]
async fn services_json_lists_the_active_services_that_take_requests() {
    let sandbox = start().await;
    let (status, all) = get(&sandbox, "/open311/v2/services.json").await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<&str> =
        all.as_array().unwrap().iter().map(|s| s["service_code"].as_str().unwrap()).collect();
    assert!(
        codes.contains(&"RBKC-WELFARE-RIGHTS") && codes.contains(&"SHR-ASC-ASSESSMENT"),
        "{codes:?}"
    );
    for field in ["service_name", "description", "metadata", "type", "keywords", "group"] {
        assert!(all[0].get(field).is_some(), "{field} missing: {}", all[0]);
    }
    let (_, barrow) = get(&sandbox, "/open311/v2/services.json?jurisdiction_id=E07000027").await;
    assert_eq!(
        barrow,
        json!([all
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service_code"] == "BARROW-WELFARE-RIGHTS")
            .unwrap()])
    );
    let (status, body) = get(&sandbox, "/open311/v2/services.json?jurisdiction_id=nowhere").await;
    assert_eq!((status, &body[0]["code"]), (StatusCode::NOT_FOUND, &json!(404)));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_request_is_created_once_per_key_and_reads_back_open() {
    let sandbox = start().await;
    let (status, created) =
        post_request(&sandbox, Some("key-1"), &form("RBKC-WELFARE-RIGHTS")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created[0]["service_request_id"].as_str().unwrap().to_string();
    assert!(created[0]["service_notice"].is_string());
    let (status, again) = post_request(&sandbox, Some("key-1"), &form("RBKC-WELFARE-RIGHTS")).await;
    assert_eq!((status, &again), (StatusCode::OK, &created), "a repeat is the same request");
    let mut changed = form("RBKC-WELFARE-RIGHTS");
    changed.push(("email", "other@example.org"));
    let (status, body) = post_request(&sandbox, Some("key-1"), &changed).await;
    assert_eq!((status, &body[0]["code"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!(422)));
    let stats = sandbox.council_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.requests_created), (3, 1, 1));

    let (status, read) = get(&sandbox, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(status, StatusCode::OK);
    let request = &read[0];
    assert_eq!(
        (&request["status"], &request["service_code"]),
        (&json!("open"), &json!("RBKC-WELFARE-RIGHTS"))
    );
    assert!(request["status_notes"].as_str().unwrap().starts_with("received: "));
    let text = read.to_string();
    assert!(!text.contains("Person") && !text.contains("07700"), "no personal data echoed: {text}");
    let (status, body) = get(&sandbox, "/open311/v2/requests/999999.json").await;
    assert_eq!((status, &body[0]["code"]), (StatusCode::NOT_FOUND, &json!(404)));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn refusals_name_the_field_and_use_georeport_errors() {
    let sandbox = start().await;
    let with = |extra: (&'static str, &'static str)| {
        let mut f = form("RBKC-WELFARE-RIGHTS");
        f.push(extra);
        f
    };
    let no_name: Vec<(&str, &str)> =
        form("RBKC-WELFARE-RIGHTS").into_iter().filter(|(k, _)| !k.ends_with("_name")).collect();
    let cases: Vec<(Form, u16, &str)> = vec![
        (with(("notes", "private")), 400, "`notes`"),
        (with(("jurisdiction_id", "E06000051")), 400, "jurisdiction_id"),
        (with(("jurisdiction_id", "nowhere")), 404, "jurisdiction_id"),
        (with(("lat", "51.5")), 400, "lat and long"),
        (form("NO-SUCH-CODE"), 404, "service_code"),
        (form("RBKC-HOUSING-DISREPAIR"), 400, "location"),
        (no_name, 400, "first_name"),
    ];
    for (fields, code, expected) in cases {
        let (status, body) = post_request(&sandbox, None, &fields).await;
        assert_eq!(status.as_u16(), code, "{body}");
        assert_eq!(body[0]["code"], code);
        let description = body[0]["description"].as_str().unwrap();
        assert!(description.contains(expected), "{description}");
        assert!(!description.contains("private"), "never quotes a value");
    }
    let mut located = form("RBKC-HOUSING-DISREPAIR");
    located.push(("address_string", "1 Test Road, W10 5AB"));
    assert_eq!(post_request(&sandbox, None, &located).await.0, StatusCode::CREATED);
    assert_eq!(sandbox.council_stats().requests_created, 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_api_key_is_required_when_configured() {
    let council =
        CouncilSimConfig { api_key: Some("council-key".into()), ..CouncilSimConfig::default() };
    let sandbox = start_with(SandboxConfig { council, ..SandboxConfig::default() }).await;
    let (status, body) = post_request(&sandbox, None, &form("SHR-KEEP-WARM")).await;
    assert_eq!((status, &body[0]["code"]), (StatusCode::FORBIDDEN, &json!(403)));
    let mut keyed = form("SHR-KEEP-WARM");
    keyed.push(("api_key", "council-key"));
    assert_eq!(post_request(&sandbox, None, &keyed).await.0, StatusCode::CREATED);
    sandbox.shutdown().await;
}

async fn status_of(sandbox: &crate::Sandbox, id: &str) -> Value {
    get(sandbox, &format!("/open311/v2/requests/{id}.json")).await.1[0].clone()
}

#[tokio::test]
async fn a_request_to_a_full_service_is_declined_on_arrival() {
    let sandbox = start().await;
    let (_, created) = post_request(&sandbox, Some("k"), &form("RBKC-BEFRIENDING")).await;
    let request = status_of(&sandbox, created[0]["service_request_id"].as_str().unwrap()).await;
    assert_eq!(request["status"], "closed");
    assert!(request["status_notes"].as_str().unwrap().starts_with("declined.no_capacity: "));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_clock_moves_requests_to_completed_or_declined() {
    let sandbox = start_with_clock(1, 0.0).await;
    let (_, created) = post_request(&sandbox, None, &form("SHR-KEEP-WARM")).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let request = status_of(&sandbox, created[0]["service_request_id"].as_str().unwrap()).await;
    assert_eq!(request["status"], "closed");
    assert!(request["status_notes"].as_str().unwrap().starts_with("completed: "), "{request}");
    assert_ne!(request["updated_datetime"], request["requested_datetime"]);
    sandbox.shutdown().await;

    let sandbox = start_with_clock(1, 1.0).await;
    let (_, created) = post_request(&sandbox, None, &form("SHR-KEEP-WARM")).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let request = status_of(&sandbox, created[0]["service_request_id"].as_str().unwrap()).await;
    assert!(request["status_notes"].as_str().unwrap().starts_with("declined."), "{request}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_stage_set_through_the_sandbox_wins_over_the_clock() {
    let sandbox = start().await;
    let (_, created) = post_request(&sandbox, None, &form("SHR-KEEP-WARM")).await;
    let id = created[0]["service_request_id"].as_str().unwrap();
    for (stage, status, code) in [
        (Stage::Accepted, "open", "accepted: "),
        (Stage::InProgress, "open", "in_progress: "),
        (Stage::Rejected(RejectReason::NotEligible), "closed", "declined.not_eligible: "),
        (Stage::Rejected(RejectReason::CouldNotContact), "closed", "declined.could_not_contact: "),
        (Stage::Completed, "closed", "completed: "),
    ] {
        sandbox.set_council_request_stage(id, stage).unwrap();
        let request = status_of(&sandbox, id).await;
        assert_eq!(request["status"], status);
        assert!(request["status_notes"].as_str().unwrap().starts_with(code), "{request}");
    }
    assert!(sandbox.set_council_request_stage("nope", Stage::Completed).is_err());
    sandbox.shutdown().await;
}
