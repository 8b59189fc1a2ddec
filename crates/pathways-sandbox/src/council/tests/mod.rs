//! The council simulator over real HTTP on 127.0.0.1: the directory's filters and pages
//! (`directory.rs`), Open311 requests, idempotency and the clock (`requests.rs`), and the
//! contract with the published HSDS schemas (`schema.rs`, `contract.rs`).

mod contract;
mod directory;
mod requests;
mod schema;

use reqwest::StatusCode;
use serde_json::Value;

use crate::{ClockConfig, Sandbox, SandboxConfig};

/// A sandbox with a pinned date and a stopped clock.
async fn start() -> Sandbox {
    start_with(SandboxConfig {
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 20),
        ..SandboxConfig::default()
    })
    .await
}

async fn start_with(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).await.expect("sandbox starts on loopback")
}

/// A sandbox whose requests move one stage every `step_ms`, rejecting `reject_rate` of them.
async fn start_with_clock(step_ms: u64, reject_rate: f64) -> Sandbox {
    start_with(SandboxConfig {
        clock: ClockConfig { step_ms, reject_rate },
        ..SandboxConfig::default()
    })
    .await
}

/// GETs `path_and_query` from the council simulator: status and JSON body.
async fn get(sandbox: &Sandbox, path_and_query: &str) -> (StatusCode, Value) {
    let response = reqwest::get(format!("{}{path_and_query}", sandbox.council_url()))
        .await
        .expect("sandbox answers");
    let status = response.status();
    (status, response.json().await.expect("JSON answer"))
}

/// Every service a `/hsds/services` query finds, following pages; also the number of pages.
async fn all_services(sandbox: &Sandbox, query: &str) -> (Vec<Value>, usize) {
    let (mut found, mut pages) = (Vec::new(), 0);
    for page in 1.. {
        let (status, body) = get(sandbox, &format!("/hsds/services?{query}&page={page}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        found.extend(body["contents"].as_array().unwrap().iter().cloned());
        if body["last_page"] == true {
            break;
        }
        assert!(page < 50, "pages never end");
    }
    (found, pages)
}

fn names(services: &[Value]) -> Vec<&str> {
    services.iter().map(|s| s["name"].as_str().unwrap()).collect()
}

/// A `POST /open311/v2/requests.json` with `form` and an optional `Idempotency-Key`.
async fn post_request(
    sandbox: &Sandbox,
    key: Option<&str>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/open311/v2/requests.json", sandbox.council_url()))
        .form(form);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("sandbox answers");
    let status = response.status();
    (status, response.json().await.expect("JSON answer"))
}

/// A referral form for `service_code`, as a connector would send it.
fn form(service_code: &str) -> Vec<(&str, &str)> {
    vec![
        ("service_code", service_code),
        ("first_name", "Test"),
        ("last_name", "Person"),
        ("phone", "07700 900123"),
        ("description", "Referral from citizens-advice-kc (case CAKC-000123): debt and money."),
    ]
}

#[test]
fn the_shipped_configuration_serves_the_council_on_port_9104_without_faults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/sandbox.toml");
    let config = SandboxConfig::from_toml_file(&path).unwrap();
    assert_eq!(config.council.listen, "127.0.0.1:9104".parse().unwrap());
    assert_eq!(
        (config.council.max_per_page, &config.council.faults),
        (5, &crate::Faults::default())
    );
}
