//! Every fault knob of the food bank simulator, over real HTTP on 127.0.0.1.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{get, post_referral, referral_body, start};
use crate::{CapacityOverride, Faults, Sandbox, SandboxConfig};

#[tokio::test]
async fn server_errors_and_rate_limits_carry_retry_after_and_faulted_posts_still_count() {
    let sandbox = start().await;
    let url = sandbox.foodbank_url();
    sandbox.set_foodbank_faults(Faults { error_rate: 1.0, retry_after_s: 3, ..Faults::none() });
    let mut seen = Vec::new();
    for _ in 0..12 {
        let response = get(format!("{url}/evoucher/v1/health")).await;
        let status = response.status();
        assert!(
            status == StatusCode::SERVICE_UNAVAILABLE
                || status == StatusCode::INTERNAL_SERVER_ERROR
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(response.headers()["retry-after"], "3");
        }
        seen.push(status);
    }
    assert!(
        seen.contains(&StatusCode::SERVICE_UNAVAILABLE)
            && seen.contains(&StatusCode::INTERNAL_SERVER_ERROR)
    );
    let faulted = post_referral(&sandbox, "key-f", &referral_body("shrewsbury")).await;
    assert!(faulted.status().is_server_error());
    let stats = sandbox.foodbank_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.vouchers_created), (1, 1, 0));
    // The control routes are never faulted.
    assert_eq!(get(format!("{url}/_sandbox/stats")).await.status(), StatusCode::OK);

    sandbox.set_foodbank_faults(Faults {
        rate_limited_rate: 1.0,
        retry_after_s: 7,
        ..Faults::none()
    });
    let limited = get(format!("{url}/evoucher/v1/health")).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "7");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn malformed_answers_do_not_parse_but_the_referral_was_recorded() {
    let sandbox = start().await;
    sandbox.set_foodbank_faults(Faults { malformed_rate: 1.0, ..Faults::none() });
    let response = post_referral(&sandbox, "key-m", &referral_body("shrewsbury")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let bytes = response.bytes().await.unwrap();
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
    assert_eq!(sandbox.foodbank_stats().vouchers_created, 1, "handled, then garbled");
    sandbox.set_foodbank_faults(Faults::none());
    let retry = post_referral(&sandbox, "key-m", &referral_body("shrewsbury")).await;
    assert_eq!(retry.status(), StatusCode::OK, "a retry finds the voucher the garbled answer hid");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn oversized_answers_are_valid_json_padded_to_the_size() {
    let sandbox = start().await;
    sandbox.set_foodbank_faults(Faults {
        oversized_rate: 1.0,
        oversized_bytes: 300_000,
        ..Faults::none()
    });
    let bytes = get(format!("{}/api/2/foodbanks/search/?address=LA14", sandbox.foodbank_url()))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.len(), 300_000);
    let list: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(list[0]["slug"], "furness");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn latency_delays_and_hang_never_answers_until_shutdown() {
    let sandbox = start().await;
    let url = format!("{}/evoucher/v1/health", sandbox.foodbank_url());
    sandbox.set_foodbank_faults(Faults { latency_ms: 120, ..Faults::none() });
    let started = Instant::now();
    assert_eq!(get(url.clone()).await.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(120));

    sandbox.set_foodbank_faults(Faults { hang_rate: 1.0, ..Faults::none() });
    let client = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let err = client.get(&url).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");

    // A request still hanging must not hold up shutdown.
    let hanging = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    sandbox.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3), "shutdown took {:?}", started.elapsed());
    let _ = hanging.await;
}

#[tokio::test]
async fn faults_can_be_set_over_http_and_are_validated() {
    let sandbox = start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/_sandbox/faults", sandbox.foodbank_url());
    let bad = client.put(&url).json(&json!({"eror_rate": 0.5})).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("eror_rate"));
    let out_of_range = client.put(&url).json(&json!({"error_rate": 2.0})).send().await.unwrap();
    assert_eq!(out_of_range.status(), StatusCode::BAD_REQUEST);
    let ok = client.put(&url).json(&json!({"capacity": "waitlist"})).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let faults: Faults = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(faults.capacity, Some(CapacityOverride::Waitlist));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let config = SandboxConfig {
            seed,
            foodbank: crate::FoodbankSimConfig {
                faults: Faults { error_rate: 0.5, ..Faults::none() },
                ..Default::default()
            },
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::start(config).await.unwrap();
        let mut out = Vec::new();
        for _ in 0..16 {
            out.push(
                get(format!("{}/evoucher/v1/health", sandbox.foodbank_url()))
                    .await
                    .status()
                    .as_u16(),
            );
        }
        sandbox.shutdown().await;
        out
    }
    let first = statuses(11).await;
    assert_eq!(first, statuses(11).await);
    assert!(first.contains(&200) && first.iter().any(|&s| s >= 500), "{first:?}");
}

#[tokio::test]
async fn a_slow_body_sends_headers_at_once_then_trickles_until_a_client_timeout_catches_it() {
    let sandbox = start().await;
    let url = format!("{}/api/2/foodbanks/search/?address=W10", sandbox.foodbank_url());
    sandbox.set_foodbank_faults(Faults {
        slow_body_rate: 1.0,
        slow_body_ms: 800,
        ..Faults::none()
    });
    let started = Instant::now();
    let response = reqwest::get(&url).await.unwrap();
    let headers_after = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(headers_after < Duration::from_millis(400), "headers took {headers_after:?}");
    let length: usize = response.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let bytes = response.bytes().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(700), "body took {:?}", started.elapsed());
    assert_eq!(bytes.len(), length, "the promised length arrives in full");
    let list: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(list[0]["slug"], "north-kensington", "slow, not garbled");

    // A client whose timeout covers the whole answer gives up part-way through the body.
    let client = reqwest::Client::builder().timeout(Duration::from_millis(400)).build().unwrap();
    let response = client.get(&url).send().await.expect("headers arrive within the timeout");
    let err = response.bytes().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    sandbox.shutdown().await;
}
