//! The NHS simulator's fault knobs, bearer token and clock, over real HTTP.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::{post, referral, start};
use crate::{CapacityOverride, ClockConfig, Faults, NhsSimConfig, Sandbox, SandboxConfig};

#[tokio::test]
async fn injected_failures_are_operation_outcomes_with_retry_after_and_still_count() {
    let sandbox = start().await;
    let body = referral("urn:uuid:ffffffff-0000-4000-8000-000000000001", "active").to_string();
    sandbox.set_nhs_faults(Faults { rate_limited_rate: 1.0, retry_after_s: 4, ..Faults::none() });
    let response =
        post(&sandbox, "50000000-0000-4000-8000-000000000001", "2000100001", &body).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "4");
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(outcome["issue"][0]["code"], "throttled");
    sandbox.set_nhs_faults(Faults::failing());
    let response =
        post(&sandbox, "50000000-0000-4000-8000-000000000001", "2000100001", &body).await;
    assert!(response.status().is_server_error());
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    let stats = sandbox.nhs_stats();
    assert_eq!((stats.total_posts, stats.distinct_request_ids, stats.referrals_created), (2, 1, 0));
    // The control routes are never faulted.
    let control = reqwest::get(format!("{}/_sandbox/stats", sandbox.nhs_url())).await.unwrap();
    assert_eq!(control.status(), StatusCode::OK);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_capacity_knob_overrides_every_service() {
    let sandbox = start().await;
    sandbox.set_nhs_faults(Faults { capacity: Some(CapacityOverride::Full), ..Faults::none() });
    let found = super::services(&sandbox, "E06000051", &["22", "32", "34"]).await;
    assert_eq!(found.len(), 3);
    assert!(found.iter().all(|s| super::capacity_code(s) == "no-capacity"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_configured_token_is_required() {
    let config = SandboxConfig {
        nhs: NhsSimConfig { api_key: Some("nhs-test-token".into()), ..NhsSimConfig::default() },
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let url = format!("{}/metadata", sandbox.nhs_url());
    let refused = reqwest::get(&url).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let outcome: Value = refused.json().await.unwrap();
    assert_eq!(outcome["issue"][0]["details"]["coding"][0]["code"], "SEND_UNAUTHORIZED");
    let allowed =
        reqwest::Client::new().get(&url).bearer_auth("nhs-test-token").send().await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    let statement: Value = allowed.json().await.unwrap();
    assert_eq!(
        (statement["resourceType"].as_str(), statement["fhirVersion"].as_str()),
        (Some("CapabilityStatement"), Some("4.0.1"))
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_clock_moves_tasks_through_their_states_or_rejects_with_a_reason() {
    let config = |reject_rate| SandboxConfig {
        clock: ClockConfig { step_ms: 150, reject_rate },
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config(0.0)).await.unwrap();
    let body = referral("urn:uuid:99999999-0000-4000-8000-000000000001", "active").to_string();
    let answer: Value = post(&sandbox, "60000000-0000-4000-8000-000000000001", "2000100001", &body)
        .await
        .json()
        .await
        .unwrap();
    let task_url = format!(
        "{}/Task/{}",
        sandbox.nhs_url(),
        answer["entry"][1]["resource"]["id"].as_str().unwrap()
    );
    let mut seen = vec![answer["entry"][1]["resource"]["status"].as_str().unwrap().to_string()];
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let task: Value = reqwest::get(&task_url).await.unwrap().json().await.unwrap();
        let status = task["status"].as_str().unwrap().to_string();
        if seen.last() != Some(&status) {
            seen.push(status);
        }
    }
    assert_eq!(seen, ["requested", "accepted", "in-progress", "completed"]);
    sandbox.shutdown().await;

    let sandbox = Sandbox::start(config(1.0)).await.unwrap();
    let answer: Value = post(&sandbox, "60000000-0000-4000-8000-000000000002", "2000100001", &body)
        .await
        .json()
        .await
        .unwrap();
    let task_url = format!(
        "{}/Task/{}",
        sandbox.nhs_url(),
        answer["entry"][1]["resource"]["id"].as_str().unwrap()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let task: Value = reqwest::get(&task_url).await.unwrap().json().await.unwrap();
    assert_eq!(task["status"], "rejected");
    assert!(task["statusReason"]["coding"][0]["code"].is_string(), "{task}");
    sandbox.shutdown().await;
}
