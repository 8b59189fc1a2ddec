//! The food bank simulator over real HTTP on 127.0.0.1: wire shapes, idempotency, strictness
//! and statistics; the fault knobs are tested in `tests/faults.rs`.

mod faults;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{CapacityOverride, Faults, ReferralStats, Sandbox, SandboxConfig, VoucherStatus};

fn pinned_config() -> SandboxConfig {
    SandboxConfig {
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 20),
        ..SandboxConfig::default()
    }
}

async fn start() -> Sandbox {
    Sandbox::start(pinned_config()).await.expect("sandbox starts on loopback")
}

fn referral_body(foodbank: &str) -> Value {
    json!({
        "foodbank": foodbank,
        "agency": {"organisation": "citizens-advice-kc", "reference": "CAKC-000123"},
        "client": {"full_name": "Test Person", "year_of_birth": 1989, "postcode": "W10 5AB",
                   "address": "1 Test Road", "phone": "07700 900123"},
        "household": {"adults": 1, "children_ages": [7, 15]},
        "referral_reasons": ["food_insecurity"]
    })
}

async fn post_referral(sandbox: &Sandbox, key: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/evoucher/v1/referrals", sandbox.foodbank_url()))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("sandbox answers")
}

async fn get(url: String) -> reqwest::Response {
    reqwest::get(url).await.expect("sandbox answers")
}

#[tokio::test]
async fn directory_search_answers_in_give_food_shape() {
    let sandbox = start().await;
    let url = sandbox.foodbank_url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let response = get(format!("{url}/api/2/foodbanks/search/?address=W10%205AB")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let list: Vec<Value> = response.json().await.unwrap();
    assert_eq!(list[0]["slug"], "north-kensington");
    assert_eq!(list[0]["network"], "Trussell");
    assert!(list[0]["distance_m"].as_u64().unwrap() < 1_000);
    assert!(list.iter().any(|fb| fb["closed"] == true), "closed food banks are listed too");

    let by_point: Vec<Value> = get(format!("{url}/api/2/foodbanks/search/?lat_lng=52.37,-2.72"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_point[0]["slug"], "ludlow-district");

    let missing = get(format!("{url}/api/2/foodbanks/search/")).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "missing_location");

    for path in ["/api/2/foodbank/furness/", "/api/2/foodbanks/furness/"] {
        let detail: Value = get(format!("{url}{path}")).await.json().await.unwrap();
        assert_eq!(detail["name"], "Furness Food Bank", "{path}");
    }
    assert_eq!(
        get(format!("{url}/api/2/foodbank/atlantis/")).await.status(),
        StatusCode::NOT_FOUND
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn availability_shows_capacity_waitlist_and_full() {
    let sandbox = start().await;
    let url = sandbox.foodbank_url();
    let availability = |slug: &str| get(format!("{url}/evoucher/v1/foodbanks/{slug}/availability"));
    let open: Value = availability("north-kensington").await.json().await.unwrap();
    assert_eq!(open["accepting_referrals"], true);
    assert_eq!(open["vouchers_remaining_this_week"], 12);
    assert_eq!(open["waitlist_weeks"], 0);
    assert_eq!(open["next_session"], "2026-11-20", "pinned Friday is a session day");
    let waiting: Value = availability("ludlow-district").await.json().await.unwrap();
    assert_eq!(waiting["waitlist_weeks"], 1);
    assert_eq!(waiting["next_session"], "2026-12-03", "first Thursday a week or more away");
    let full: Value = availability("furness").await.json().await.unwrap();
    assert_eq!(full["accepting_referrals"], false);
    assert_eq!(availability("atlantis").await.status(), StatusCode::NOT_FOUND);

    sandbox
        .set_foodbank_faults(Faults { capacity: Some(CapacityOverride::Full), ..Faults::none() });
    let forced: Value = availability("north-kensington").await.json().await.unwrap();
    assert_eq!(forced["accepting_referrals"], false);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_repeated_idempotency_key_creates_one_voucher() {
    let sandbox = start().await;
    let body = referral_body("north-kensington");
    let first = post_referral(&sandbox, "key-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["status"], "issued");
    assert!(first["voucher_id"].as_str().unwrap().starts_with("FBV-"));
    assert!(!first.to_string().contains("Test Person"), "vouchers echo nothing personal");

    let again = post_referral(&sandbox, "key-1", &body).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["voucher_id"], first["voucher_id"]);

    let changed = post_referral(&sandbox, "key-1", &referral_body("shrewsbury")).await;
    assert_eq!(changed.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let stats = sandbox.foodbank_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.vouchers_created), (3, 1, 1));
    assert_eq!(stats.posts_per_key["key-1"], 3);
    let over_http: ReferralStats =
        get(format!("{}/_sandbox/stats", sandbox.foodbank_url())).await.json().await.unwrap();
    assert_eq!(over_http, stats);

    let id = first["voucher_id"].as_str().unwrap();
    let status: Value = get(format!("{}/evoucher/v1/referrals/{id}", sandbox.foodbank_url()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "issued");
    sandbox.set_voucher_status(id, VoucherStatus::Redeemed, None).unwrap();
    let status: Value = get(format!("{}/evoucher/v1/referrals/{id}", sandbox.foodbank_url()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "redeemed");
    assert!(sandbox.set_voucher_status("FBV-NOPE", VoucherStatus::Expired, None).is_err());
    sandbox.shutdown().await;
}

async fn cancel(sandbox: &Sandbox, id: &str, body: &Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/evoucher/v1/referrals/{id}/cancel", sandbox.foodbank_url()))
        .json(body)
        .send()
        .await
        .expect("sandbox answers");
    (response.status(), response.json().await.expect("JSON"))
}

#[tokio::test]
async fn the_agency_cancels_an_issued_voucher_once_and_not_a_redeemed_one() {
    let sandbox = start().await;
    let first: Value = post_referral(&sandbox, "key-c1", &referral_body("north-kensington"))
        .await
        .json()
        .await
        .unwrap();
    let id = first["voucher_id"].as_str().unwrap();
    let (status, voucher) = cancel(&sandbox, id, &json!({"reason": "client_withdrew"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (voucher["status"].as_str(), voucher["status_reason"].as_str()),
        (Some("cancelled"), Some("client_withdrew"))
    );
    let (status, again) = cancel(&sandbox, id, &json!({"reason": "agency_withdrew"})).await;
    assert_eq!((status, &again), (StatusCode::OK, &voucher), "a repeat changes nothing");
    let shown: Value = get(format!("{}/evoucher/v1/referrals/{id}", sandbox.foodbank_url()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown, voucher);
    assert_eq!(
        sandbox.voucher_status(id),
        Some((VoucherStatus::Cancelled, Some(crate::VoucherReason::ClientWithdrew)))
    );
    assert_eq!(sandbox.foodbank_stats().vouchers_cancelled, 1);

    let second: Value = post_referral(&sandbox, "key-c2", &referral_body("north-kensington"))
        .await
        .json()
        .await
        .unwrap();
    let collected = second["voucher_id"].as_str().unwrap();
    sandbox.set_voucher_status(collected, VoucherStatus::Redeemed, None).unwrap();
    let (status, refused) = cancel(&sandbox, collected, &json!({"reason": "other"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(refused["error"]["code"], "voucher_not_cancellable");
    assert_eq!(sandbox.voucher_status(collected).unwrap().0, VoucherStatus::Redeemed);

    let (status, _) = cancel(&sandbox, "FBV-NOSUCH", &json!({"reason": "other"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = cancel(&sandbox, collected, &json!({"reason": "no_capacity"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the food bank's own reasons");
    let (status, body) = cancel(&sandbox, id, &json!({"reason": "other", "why": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("why"), "{body}");
    assert_eq!(sandbox.foodbank_stats().total_posts, 2, "cancels are not referral POSTs");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn unknown_fields_are_refused_naming_the_field_not_the_value() {
    let sandbox = start().await;
    let mut body = referral_body("north-kensington");
    body["client"]["mental_health_notes"] = json!("very private words");
    let response = post_referral(&sandbox, "key-strict", &body).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.text().await.unwrap();
    assert!(text.contains("mental_health_notes"), "{text}");
    assert!(text.contains("client"), "names where: {text}");
    assert!(!text.contains("very private words"), "{text}");

    let mut top = referral_body("north-kensington");
    top["notes"] = json!("x");
    assert_eq!(post_referral(&sandbox, "key-top", &top).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sandbox.foodbank_stats().vouchers_created, 0);

    let no_key = reqwest::Client::new()
        .post(format!("{}/evoucher/v1/referrals", sandbox.foodbank_url()))
        .json(&referral_body("north-kensington"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), StatusCode::BAD_REQUEST);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn api_key_guards_the_voucher_api_but_not_the_directory() {
    let mut config = pinned_config();
    config.foodbank.api_key = Some("sandbox-secret".into());
    let sandbox = Sandbox::start(config).await.unwrap();
    let url = sandbox.foodbank_url();
    let client = reqwest::Client::new();
    let health = format!("{url}/evoucher/v1/health");
    assert_eq!(client.get(&health).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let wrong = client.get(&health).bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = client.get(&health).bearer_auth("sandbox-secret").send().await.unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    assert_eq!(
        get(format!("{url}/api/2/foodbanks/search/?address=SY1")).await.status(),
        StatusCode::OK
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn binding_a_taken_port_names_the_simulator_and_address() {
    let sandbox = start().await;
    let taken: std::net::SocketAddr =
        sandbox.foodbank_url().trim_start_matches("http://").parse().unwrap();
    let mut config = pinned_config();
    config.foodbank.listen = taken;
    let err = Sandbox::start(config).await.unwrap_err().to_string();
    assert!(err.contains("foodbank") && err.contains(&taken.to_string()), "{err}");
    sandbox.shutdown().await;
}
