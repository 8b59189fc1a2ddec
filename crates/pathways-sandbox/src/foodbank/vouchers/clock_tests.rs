//! Issued vouchers on the sandbox clock: each stage's voucher status, a hand-set status
//! winning over the clock, and the whole progression over real HTTP.

use std::time::Duration;

use super::*;
use crate::{Sandbox, SandboxConfig};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn request(foodbank: &str) -> VoucherRequest {
    serde_json::from_value(json!({
        "foodbank": foodbank,
        "agency": {"organisation": "ca-kc", "reference": "R-1"},
        "client": {"full_name": "Test Person", "phone": "07700 900001"},
        "referral_reasons": ["food_insecurity"]
    }))
    .unwrap()
}

fn issue(book: &mut VoucherBook, key: &str, foodbank: &str) -> (String, Instant) {
    match book.post(key, request(foodbank), today(), None) {
        PostOutcome::Created(voucher) => {
            let arrived = book.vouchers[&voucher.voucher_id].arrived;
            (voucher.voucher_id, arrived)
        }
        other => panic!("expected a voucher, got {other:?}"),
    }
}

#[test]
fn an_issued_voucher_is_redeemed_when_the_clock_completes_it() {
    let clock = ClockConfig { step_ms: 100, reject_rate: 0.0 };
    let mut book = VoucherBook::new(1).with_clock(clock, 5);
    let (id, arrived) = issue(&mut book, "k", "north-kensington");
    let at = |ms: u64| book.voucher_at(&id, arrived + Duration::from_millis(ms)).unwrap();
    assert_eq!(at(50).status, VoucherStatus::Issued);
    let accepted = at(150);
    assert_eq!(accepted.status, VoucherStatus::Issued);
    assert!(accepted.collect_from.is_some(), "an issued voucher keeps its collection date");
    assert_eq!(accepted.updated_at - accepted.issued_at, chrono::Duration::milliseconds(100));
    assert_eq!(at(250).status, VoucherStatus::Issued);
    let redeemed = at(10_000);
    assert_eq!((redeemed.status, redeemed.status_reason), (VoucherStatus::Redeemed, None));
    assert_eq!(redeemed.updated_at - redeemed.issued_at, chrono::Duration::milliseconds(300));
}

#[test]
fn refused_vouchers_are_declined_with_a_reason_or_expire_when_nobody_is_reached() {
    let clock = ClockConfig { step_ms: 10, reject_rate: 1.0 };
    let mut book = VoucherBook::new(2).with_clock(clock, 9);
    let mut seen = Vec::new();
    for i in 0..60 {
        let (id, arrived) = issue(&mut book, &format!("k{i}"), "north-kensington");
        let voucher = book.voucher_at(&id, arrived + Duration::from_millis(15)).unwrap();
        seen.push((voucher.status, voucher.status_reason));
    }
    for expected in [
        (VoucherStatus::Declined, Some(VoucherReason::NoCapacity)),
        (VoucherStatus::Declined, Some(VoucherReason::NotEligible)),
        (VoucherStatus::Expired, None),
    ] {
        assert!(seen.contains(&expected), "{expected:?} never drawn in {seen:?}");
    }
}

#[test]
fn a_status_set_by_hand_wins_over_the_clock_and_declined_vouchers_stay_declined() {
    let clock = ClockConfig { step_ms: 10, reject_rate: 0.0 };
    let mut book = VoucherBook::new(3).with_clock(clock, 1);
    let (id, arrived) = issue(&mut book, "k1", "north-kensington");
    assert!(book.set_status(&id, VoucherStatus::Cancelled, Some(VoucherReason::ClientWithdrew)));
    let later = book.voucher_at(&id, arrived + Duration::from_secs(60)).unwrap();
    assert_eq!(later.status, VoucherStatus::Cancelled, "the clock must not redeem it");

    let (full, arrived) = issue(&mut book, "k2", "furness");
    let later = book.voucher_at(&full, arrived + Duration::from_secs(60)).unwrap();
    assert_eq!(
        (later.status, later.status_reason),
        (VoucherStatus::Declined, Some(VoucherReason::NoCapacity)),
        "a voucher declined on arrival is not revived by the clock"
    );
}

#[test]
fn a_stopped_clock_leaves_vouchers_issued() {
    let mut book = VoucherBook::new(4);
    let (id, arrived) = issue(&mut book, "k", "shrewsbury");
    let later = book.voucher_at(&id, arrived + Duration::from_secs(3600)).unwrap();
    assert_eq!(later.status, VoucherStatus::Issued);
}

#[tokio::test]
async fn over_http_a_voucher_moves_from_issued_to_redeemed_on_a_fast_clock() {
    let config = SandboxConfig {
        today: Some(today()),
        clock: ClockConfig { step_ms: 50, reject_rate: 0.0 },
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let client = reqwest::Client::new();
    let body = json!({
        "foodbank": "north-kensington",
        "agency": {"organisation": "ca-kc", "reference": "R-1"},
        "client": {"full_name": "Test Person", "phone": "07700 900001"},
        "referral_reasons": ["food_insecurity"]
    });
    let voucher: Value = client
        .post(format!("{}/evoucher/v1/referrals", sandbox.foodbank_url()))
        .header("Idempotency-Key", "k-http")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(voucher["status"], "issued");
    let url = format!(
        "{}/evoucher/v1/referrals/{}",
        sandbox.foodbank_url(),
        voucher["voucher_id"].as_str().unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        match now["status"].as_str() {
            Some("redeemed") => break,
            Some("issued") => {}
            other => panic!("an issued voucher became {other:?}"),
        }
        assert!(Instant::now() < deadline, "never redeemed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sandbox.shutdown().await;
}
