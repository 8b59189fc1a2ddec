//! The housing authority simulator over real HTTP on 127.0.0.1: wire shapes, strictness,
//! idempotency, the clock, faults and the API key.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{CapacityOverride, ClockConfig, Faults, HousingStats, Sandbox, SandboxConfig};

fn config() -> SandboxConfig {
    SandboxConfig {
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 20),
        ..SandboxConfig::default()
    }
}

async fn start(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).await.expect("sandbox starts on loopback")
}

fn body(authority: &str) -> Value {
    json!({
        "chosen_authority": authority,
        "referring_agency": {"organisation": "citizens-advice-kc", "worker": "pf-17",
                             "case_reference": "CAKC-000123", "referral_type": "voluntary"},
        "client": {"name": "Test Person", "phone": "07700 900123", "email": "t@example.org"},
        "reason": "threatened_with_homelessness_within_56_days",
        "consent": {"consent_to_refer": true, "consent_to_share_contact": true,
                    "recorded_at": "2026-11-20T10:00:00Z", "recorded_by": "pf-17"},
        "household": {"adults": 1, "children_ages": [7, 15]}
    })
}

async fn post(sandbox: &Sandbox, key: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/dtr/v1/referrals", sandbox.housing_url()))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("sandbox answers")
}

async fn get_json(url: String) -> (StatusCode, Value) {
    let response = reqwest::get(url).await.expect("sandbox answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn authorities_and_their_housing_options_teams_differ_by_area() {
    let sandbox = start(config()).await;
    let url = sandbox.housing_url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let (_, list) = get_json(format!("{url}/dtr/v1/authorities")).await;
    let codes: Vec<&str> =
        list.as_array().unwrap().iter().filter_map(|a| a["ons_code"].as_str()).collect();
    assert_eq!(codes, ["E09000020", "E06000051", "E07000027"]);

    let availability =
        |code: &str| get_json(format!("{url}/dtr/v1/authorities/{code}/availability"));
    let (_, kc) = availability("E09000020").await;
    assert_eq!(kc["name"], "Royal Borough of Kensington and Chelsea");
    assert_eq!(kc["next_triage_date"], "2026-11-23", "Friday's referral is triaged on Monday");
    assert_eq!(kc["same_day_emergency_service"], true);
    let (_, barrow) = availability("E07000027").await;
    assert_eq!(barrow["next_triage_date"], "2026-11-30");
    assert_eq!(barrow["same_day_emergency_service"], false);
    let (status, unknown) = availability("E08000001").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(unknown["error"]["code"], "unknown_authority");

    sandbox.set_housing_faults(Faults { capacity: Some(CapacityOverride::Full), ..Faults::none() });
    let (_, closed) = availability("E09000020").await;
    assert_eq!(
        (closed["accepting_referrals"].clone(), closed["next_triage_date"].clone()),
        (json!(false), Value::Null)
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn each_housing_options_team_publishes_its_phone_hours_and_out_of_hours_line() {
    let sandbox = start(config()).await;
    let url = sandbox.housing_url();
    let (_, kc) = get_json(format!("{url}/dtr/v1/authorities/E09000020/availability")).await;
    let team = &kc["housing_options"];
    assert_eq!(team["phone"], "020 7946 0500");
    assert_eq!(
        team["opening_hours"],
        json!([{"days": ["mon", "tue", "wed", "thu", "fri"], "opens_at": "09:00", "closes_at": "17:00"}])
    );
    assert!(team["out_of_hours"].as_str().unwrap().contains("0808 157 0500"));
    assert!(team["address"].as_str().unwrap().ends_with("W8 7NX"));
    let (_, shropshire) =
        get_json(format!("{url}/dtr/v1/authorities/E06000051/availability")).await;
    let periods = shropshire["housing_options"]["opening_hours"].as_array().unwrap();
    assert_eq!(periods.len(), 2, "Friday closes earlier");
    assert_eq!((&periods[1]["days"], &periods[1]["closes_at"]), (&json!(["fri"]), &json!("16:30")));
    sandbox.set_housing_faults(Faults { capacity: Some(CapacityOverride::Full), ..Faults::none() });
    let (_, closed) = get_json(format!("{url}/dtr/v1/authorities/E09000020/availability")).await;
    assert_eq!(closed["housing_options"], *team, "a closed intake still answers the phone");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_referral_is_receipted_once_per_key_and_echoes_nothing_personal() {
    let sandbox = start(config()).await;
    let first = post(&sandbox, "key-1", &body("E09000020")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let keys: Vec<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["authority", "received_at", "referral_id", "status"]);
    assert_eq!(
        (first["authority"].as_str(), first["status"].as_str()),
        (Some("E09000020"), Some("received"))
    );
    assert!(!first.to_string().contains("Test Person"));

    let again = post(&sandbox, "key-1", &body("E09000020")).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let changed = post(&sandbox, "key-1", &body("E06000051")).await;
    assert_eq!(changed.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let stats = sandbox.housing_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.referrals_created), (3, 1, 1));
    let (_, over_http) = get_json(format!("{}/_sandbox/stats", sandbox.housing_url())).await;
    assert_eq!(serde_json::from_value::<HousingStats>(over_http).unwrap(), stats);

    let id = first["referral_id"].as_str().unwrap();
    let (_, view) = get_json(format!("{}/dtr/v1/referrals/{id}", sandbox.housing_url())).await;
    assert_eq!(
        (view["status"].as_str(), &view["duty"]),
        (Some("received"), &Value::Null),
        "a stopped clock"
    );
    let (status, _) =
        get_json(format!("{}/dtr/v1/referrals/DTR-XX-NOSUCH", sandbox.housing_url())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    sandbox.shutdown().await;
}

async fn withdraw(sandbox: &Sandbox, id: &str, body: &Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/dtr/v1/referrals/{id}/withdraw", sandbox.housing_url()))
        .json(body)
        .send()
        .await
        .expect("sandbox answers");
    (response.status(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_referrer_withdraws_a_referral_once_and_it_stays_withdrawn() {
    let sandbox = start(config()).await;
    let url = sandbox.housing_url();
    let receipt: Value = post(&sandbox, "key-w1", &body("E09000020")).await.json().await.unwrap();
    let id = receipt["referral_id"].as_str().unwrap();
    let (status, withdrawn) = withdraw(&sandbox, id, &json!({"reason": "consent_withdrawn"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (withdrawn["status"].as_str(), withdrawn["withdrawal_reason"].as_str()),
        (Some("withdrawn"), Some("consent_withdrawn"))
    );
    let (status, again) = withdraw(&sandbox, id, &json!({"reason": "other"})).await;
    assert_eq!((status, &again), (StatusCode::OK, &withdrawn), "a repeat changes nothing");
    let (_, shown) = get_json(format!("{url}/dtr/v1/referrals/{id}")).await;
    assert_eq!(shown, withdrawn);
    assert_eq!(sandbox.housing_referral(id), Some(withdrawn));
    assert_eq!(sandbox.housing_stats().referrals_withdrawn, 1);

    let (status, _) = withdraw(&sandbox, "DTR-KC-NOSUCH", &json!({"reason": "other"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, refused) = withdraw(&sandbox, id, &json!({"reason": "bored"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!refused.to_string().contains("bored"), "values are never echoed: {refused}");
    assert_eq!(sandbox.housing_stats().total_posts, 1, "withdrawals are not referral POSTs");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_closed_case_cannot_be_withdrawn() {
    let sandbox =
        start(SandboxConfig { clock: ClockConfig { step_ms: 1, reject_rate: 0.0 }, ..config() })
            .await;
    let receipt: Value = post(&sandbox, "key-w2", &body("E09000020")).await.json().await.unwrap();
    let id = receipt["referral_id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let (status, refused) = withdraw(&sandbox, id, &json!({"reason": "other"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(refused["error"]["code"], "referral_ended");
    assert_eq!(sandbox.housing_referral(id).unwrap()["status"], "closed");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn strictness_consent_and_the_chosen_authority_are_enforced_by_field() {
    let sandbox = start(config()).await;
    let mut notes = body("E09000020");
    notes["client"]["notes"] = json!("very private words");
    let response = post(&sandbox, "k-notes", &notes).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.text().await.unwrap();
    assert!(text.contains("notes") && text.contains("client"), "{text}");
    assert!(!text.contains("very private words"), "{text}");

    let mut no_consent = body("E09000020");
    no_consent["consent"]["consent_to_refer"] = json!(false);
    let response = post(&sandbox, "k-consent", &no_consent).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "consent_required");

    let response = post(&sandbox, "k-elsewhere", &body("E08000001")).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "authority_not_served");

    let mut reason = body("E09000020");
    reason["reason"] = json!("at_risk");
    assert_eq!(post(&sandbox, "k-reason", &reason).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sandbox.housing_stats().referrals_created, 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn referrals_progress_on_a_running_clock() {
    let mut config = config();
    config.clock = ClockConfig { step_ms: 60, reject_rate: 0.0 };
    let sandbox = start(config).await;
    let receipt: Value = post(&sandbox, "k-clock", &body("E06000051")).await.json().await.unwrap();
    let url = format!(
        "{}/dtr/v1/referrals/{}",
        sandbox.housing_url(),
        receipt["referral_id"].as_str().unwrap()
    );
    let order = ["received", "accepted", "in_progress", "closed"];
    let (mut seen, deadline) = (Vec::new(), Instant::now() + Duration::from_secs(10));
    loop {
        let (_, view) = get_json(url.clone()).await;
        let status = view["status"].as_str().unwrap().to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "closed" {
            assert_eq!(view["outcome"], "homelessness_prevented");
            assert_eq!(view["duty"], "prevention");
            break;
        }
        assert!(Instant::now() < deadline, "never closed: {seen:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ranks: Vec<usize> =
        seen.iter().map(|s| order.iter().position(|o| o == s).unwrap()).collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "out of order: {seen:?}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn faults_apply_to_the_api_but_not_to_the_control_routes() {
    let sandbox = start(config()).await;
    sandbox.set_housing_faults(Faults {
        rate_limited_rate: 1.0,
        retry_after_s: 5,
        ..Faults::none()
    });
    let response = post(&sandbox, "k-429", &body("E09000020")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "5");
    let stats = sandbox.housing_stats();
    assert_eq!((stats.total_posts, stats.referrals_created), (1, 0), "a faulted POST still counts");
    let (status, _) = get_json(format!("{}/_sandbox/faults", sandbox.housing_url())).await;
    assert_eq!(status, StatusCode::OK);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn api_key_guards_every_dtr_route() {
    let mut config = config();
    config.housing.api_key = Some("dtr-secret".into());
    let sandbox = start(config).await;
    let health = format!("{}/dtr/v1/health", sandbox.housing_url());
    let client = reqwest::Client::new();
    assert_eq!(client.get(&health).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let right = client.get(&health).bearer_auth("dtr-secret").send().await.unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    sandbox.shutdown().await;
}

#[test]
fn the_housing_section_of_the_configuration_is_strict() {
    let text = "[housing]\nlisten = \"127.0.0.1:0\"\n[housing.faults]\nerror_rate = 2.0\n";
    let err = SandboxConfig::from_toml_str(text).unwrap_err().to_string();
    assert!(err.contains("housing.faults.error_rate"), "{err}");
    let err = SandboxConfig::from_toml_str("[housing]\nport = 1\n").unwrap_err().to_string();
    assert!(err.contains("port"), "{err}");
}

#[test]
fn shipped_configuration_serves_housing_on_9103_with_a_running_clock() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/sandbox.toml");
    let config = SandboxConfig::from_toml_file(&path).unwrap();
    assert_eq!(config.housing.listen, "127.0.0.1:9103".parse().unwrap());
    assert_eq!(config.housing.faults, Faults::default());
    assert_eq!(config.clock, ClockConfig { step_ms: 5000, reject_rate: 0.2 });
}
