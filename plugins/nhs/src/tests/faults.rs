//! The partner misbehaving (sandbox fault knobs): each failure becomes the right error kind,
//! and a retry after a garbled answer still creates one referral.

use std::time::Duration;

use pathways_sandbox::Faults;
use pathways_sdk::{NeedCode, Partner, PartnerErrorKind, PartnerPlugin};

use super::{kc_case, partner, query, referral, sandbox};
use crate::{NhsPartner, Settings};

#[tokio::test]
async fn server_errors_and_rate_limits_are_transient_with_retry_after() {
    let sandbox = sandbox().await;
    let nhs = partner(&sandbox.nhs_url());
    sandbox.set_nhs_faults(Faults { error_rate: 1.0, retry_after_s: 3, ..Faults::none() });
    let err =
        nhs.check_availability(&query(&kc_case(), &[NeedCode::MentalHealth])).await.unwrap_err();
    assert!(matches!(err.kind, PartnerErrorKind::Transient { .. }), "{err}");
    assert!(err.message.contains("/HealthcareService"), "{err}");
    assert!(err.message.contains("REC_S"), "names the BaRS code: {err}");
    sandbox.set_nhs_faults(Faults { rate_limited_rate: 1.0, retry_after_s: 4, ..Faults::none() });
    let err = nhs.send_referral(&referral("2000100001", "key-429")).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Transient { retry_after_ms: Some(4000) }, "{err}");
    assert!(err.message.contains("SEND_TOO_MANY_REQUESTS"), "{err}");
    let stats = sandbox.nhs_stats();
    assert_eq!((stats.total_posts, stats.referrals_created), (1, 0));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_garbled_answer_is_transient_and_the_retry_finds_the_one_referral() {
    let sandbox = sandbox().await;
    let nhs = partner(&sandbox.nhs_url());
    sandbox.set_nhs_faults(Faults { malformed_rate: 1.0, ..Faults::none() });
    let err = nhs.send_referral(&referral("2000100002", "key-garbled")).await.unwrap_err();
    assert!(err.kind.is_retryable(), "{err}");
    assert!(err.message.contains("malformed JSON at `/$process-message`"), "{err}");
    // The referral exists; the orchestrator's retry with the same key gets a 409 duplicate
    // and the connector finds the Task.
    sandbox.set_nhs_faults(Faults::none());
    let receipt = nhs.send_referral(&referral("2000100002", "key-garbled")).await.unwrap();
    assert!(!receipt.partner_reference.is_empty());
    let stats = sandbox.nhs_stats();
    assert_eq!((stats.total_posts, stats.distinct_request_ids, stats.referrals_created), (2, 1, 1));

    sandbox.set_nhs_faults(Faults { oversized_rate: 1.0, ..Faults::none() });
    let err =
        nhs.check_availability(&query(&kc_case(), &[NeedCode::MentalHealth])).await.unwrap_err();
    assert!(err.message.contains("larger than"), "{err}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_hanging_partner_is_a_timeout() {
    let sandbox = sandbox().await;
    sandbox.set_nhs_faults(Faults { hang_rate: 1.0, ..Faults::none() });
    let nhs =
        NhsPartner::from_settings(Settings { timeout_ms: 300, ..Settings::new(sandbox.nhs_url()) })
            .unwrap();
    let started = std::time::Instant::now();
    let err = nhs.health().await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_unknown_target_is_a_permanent_error_naming_the_proxy_code() {
    let sandbox = sandbox().await;
    let err = partner(&sandbox.nhs_url())
        .send_referral(&referral("9999999999", "key-nowhere"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Permanent, "{err}");
    assert!(err.message.contains("PROXY_NOT_FOUND") && err.message.contains("404"), "{err}");
    assert!(!err.message.contains("Test Person"), "{err}");
    sandbox.shutdown().await;
}
