//! The authority misbehaving (sandbox fault knobs): each failure becomes the right error kind,
//! and a referral whose answer was lost is recovered by repeating its key.

use std::time::Duration;

use pathways_plugin_testkit::sandbox_with;
use pathways_sandbox::Faults;
use pathways_sdk::{Partner, PartnerErrorKind, PartnerPlugin};

use super::{partner, query, reference, referral, sandbox, settings, Spec};
use crate::{HousingPartner, Settings};

#[tokio::test]
async fn server_errors_and_rate_limits_are_transient_and_record_nothing() {
    let sandbox = sandbox().await;
    let housing = partner(&sandbox.housing_url());
    sandbox.set_housing_faults(Faults::failing());
    let err = housing.check_availability(&query("E09000020", "urgent")).await.unwrap_err();
    assert!(matches!(err.kind, PartnerErrorKind::Transient { .. }), "{err}");
    assert!(err.message.contains("/dtr/v1/authorities/E09000020/availability"), "{err}");
    sandbox.set_housing_faults(Faults {
        rate_limited_rate: 1.0,
        retry_after_s: 4,
        ..Faults::none()
    });
    let err = housing.send_referral(&referral(Spec::default(), "key-429")).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Transient { retry_after_ms: Some(4000) }, "{err}");
    let stats = sandbox.housing_stats();
    assert_eq!((stats.total_posts, stats.referrals_created), (1, 0));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_garbled_receipt_is_transient_and_the_retry_finds_the_same_referral() {
    let sandbox = sandbox().await;
    let housing = partner(&sandbox.housing_url());
    sandbox.set_housing_faults(Faults { malformed_rate: 1.0, ..Faults::none() });
    let referral = referral(Spec::default(), "key-garbled");
    let err = housing.send_referral(&referral).await.unwrap_err();
    assert!(err.kind.is_retryable(), "{err}");
    assert!(err.message.contains("malformed JSON at `/dtr/v1/referrals`"), "{err}");
    assert!(!err.message.contains("Test Person"), "{err}");
    sandbox.set_housing_faults(Faults::none());
    let receipt = housing.send_referral(&referral).await.unwrap();
    assert!(receipt.partner_reference.starts_with("DTR-KC-"));
    let stats = sandbox.housing_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.referrals_created), (2, 1, 1));

    sandbox.set_housing_faults(Faults { oversized_rate: 1.0, ..Faults::none() });
    let err = housing.check_availability(&query("E06000051", "soon")).await.unwrap_err();
    assert!(err.message.contains("larger than"), "{err}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_hanging_authority_is_a_timeout() {
    let sandbox = sandbox().await;
    sandbox.set_housing_faults(Faults { hang_rate: 1.0, ..Faults::none() });
    let housing = HousingPartner::from_settings(Settings {
        timeout_ms: 300,
        ..settings(&sandbox.housing_url())
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = housing.health().await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn unknown_referrals_are_permanent_and_a_wrong_key_is_unauthorized() {
    let sandbox = sandbox_with(|config| config.housing.api_key = Some("dtr-test-key".into())).await;
    let without_key = partner(&sandbox.housing_url());
    assert_eq!(without_key.health().await.unwrap_err().kind, PartnerErrorKind::Unauthorized);
    // A variable only this test uses, so parallel tests cannot race on it.
    std::env::set_var("PATHWAYS_TEST_HOUSING_KEY", "dtr-test-key");
    let housing = HousingPartner::from_settings(Settings {
        api_key_env: Some("PATHWAYS_TEST_HOUSING_KEY".into()),
        ..settings(&sandbox.housing_url())
    })
    .unwrap();
    assert!(housing.health().await.unwrap().detail.unwrap().contains("answered"));
    let err = housing.referral_status(&reference("DTR-KC-NOSUCH", "k")).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Permanent, "{err}");
    let err = housing.referral_status(&reference(" ", "k")).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::InvalidRequest, "{err}");
    assert!(HousingPartner::describe().capabilities.len() == 4);
    sandbox.shutdown().await;
}
