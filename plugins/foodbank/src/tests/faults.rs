//! The partner misbehaving (sandbox fault knobs): each failure becomes the right error kind.

use std::time::Duration;

use pathways_sandbox::Faults;
use pathways_sdk::{NeedCode, Partner, PartnerErrorKind, PartnerPlugin};

use super::{partner, query, referral, sandbox};
use crate::{FoodbankPartner, Settings};

#[tokio::test]
async fn server_errors_and_rate_limits_are_transient() {
    let sandbox = sandbox().await;
    let fb = partner(&sandbox.foodbank_url());
    sandbox.set_foodbank_faults(Faults::failing());
    let err = fb.check_availability(&query("W10 5AB", &[NeedCode::Food])).await.unwrap_err();
    assert!(matches!(err.kind, PartnerErrorKind::Transient { .. }), "{err}");
    assert!(err.message.contains("/api/2/foodbanks/search/"), "{err}");
    sandbox.set_foodbank_faults(Faults {
        rate_limited_rate: 1.0,
        retry_after_s: 4,
        ..Faults::none()
    });
    let err = fb.send_referral(&referral("shrewsbury", "key-429", false)).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Transient { retry_after_ms: Some(4000) }, "{err}");
    assert_eq!(sandbox.foodbank_stats().vouchers_created, 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn malformed_and_oversized_answers_are_clear_errors() {
    let sandbox = sandbox().await;
    let fb = partner(&sandbox.foodbank_url());
    sandbox.set_foodbank_faults(Faults { malformed_rate: 1.0, ..Faults::none() });
    let err = fb.send_referral(&referral("shrewsbury", "key-garbled", false)).await.unwrap_err();
    assert!(err.kind.is_retryable(), "{err}");
    assert!(err.message.contains("malformed JSON at `/evoucher/v1/referrals`"), "{err}");
    // The voucher exists; the retry the orchestrator makes with the same key recovers it.
    sandbox.set_foodbank_faults(Faults::none());
    assert!(fb.send_referral(&referral("shrewsbury", "key-garbled", false)).await.is_ok());
    assert_eq!(sandbox.foodbank_stats().vouchers_created, 1);

    sandbox.set_foodbank_faults(Faults { oversized_rate: 1.0, ..Faults::none() });
    let err = fb.check_availability(&query("SY1 1AA", &[NeedCode::Food])).await.unwrap_err();
    assert!(err.message.contains("larger than"), "{err}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_hanging_partner_is_a_timeout() {
    let sandbox = sandbox().await;
    sandbox.set_foodbank_faults(Faults { hang_rate: 1.0, ..Faults::none() });
    let fb = FoodbankPartner::from_settings(Settings {
        timeout_ms: 300,
        ..Settings::new(sandbox.foodbank_url())
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = fb.health().await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    sandbox.shutdown().await;
}
