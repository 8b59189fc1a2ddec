//! The council misbehaving (sandbox fault knobs): each failure becomes the right error kind,
//! and the capacity knob reaches the offers.

use std::time::Duration;

use pathways_sandbox::{CapacityOverride, CouncilSimConfig, Faults, Sandbox, SandboxConfig};
use pathways_sdk::{AgeBand, Capacity, NeedCode, Partner, PartnerErrorKind, PartnerPlugin};

use super::{kensington_service, partner, query, referral, sandbox};
use crate::{CouncilPartner, Settings};

fn isolation_in_ludlow() -> pathways_sdk::AvailabilityQuery {
    query("E06000051", "SY8", AgeBand::From75, &[NeedCode::SocialIsolation], &[])
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_transient() {
    let sandbox = sandbox().await;
    let council = partner(&sandbox.council_url());
    let service = kensington_service(&council, NeedCode::DebtMoney, "Welfare Rights Advice").await;
    sandbox.set_council_faults(Faults::failing());
    let err = council.check_availability(&isolation_in_ludlow()).await.unwrap_err();
    assert!(matches!(err.kind, PartnerErrorKind::Transient { .. }), "{err}");
    assert!(err.message.contains("/hsds/services"), "{err}");
    assert!(!err.message.contains("SY8"), "no query string in errors: {err}");
    sandbox.set_council_faults(Faults {
        rate_limited_rate: 1.0,
        retry_after_s: 4,
        ..Faults::none()
    });
    let err = council
        .send_referral(&referral(service, NeedCode::DebtMoney, "key-429", false))
        .await
        .unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Transient { retry_after_ms: Some(4000) }, "{err}");
    assert_eq!(sandbox.council_stats().requests_created, 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_garbled_answer_to_a_post_is_recovered_by_a_retry_with_the_same_key() {
    let sandbox = sandbox().await;
    let council = partner(&sandbox.council_url());
    let service = kensington_service(&council, NeedCode::DebtMoney, "Welfare Rights Advice").await;
    let referral = referral(service, NeedCode::DebtMoney, "key-garbled", false);
    // Half of all answers are garbled, the directory read before the POST included. Send as
    // the orchestrator would retry, with the same key, until a POST whose answer was garbled
    // has been followed by a success: every success must name the one request.
    sandbox.set_council_faults(Faults { malformed_rate: 0.5, ..Faults::none() });
    let (mut garbled_post, mut references) = (false, Vec::new());
    for _ in 0..60 {
        let posts_before = sandbox.council_stats().total_posts;
        match council.send_referral(&referral).await {
            Ok(receipt) => {
                references.push(receipt.partner_reference);
                if garbled_post {
                    break;
                }
            }
            Err(err) => {
                assert!(err.kind.is_retryable() && err.message.contains("malformed JSON"), "{err}");
                garbled_post |= sandbox.council_stats().total_posts > posts_before;
            }
        }
    }
    assert!(garbled_post, "no POST answer was garbled in 60 tries");
    references.dedup();
    assert_eq!(references.len(), 1, "one request, whatever the retries: {references:?}");
    assert_eq!(sandbox.council_stats().requests_created, 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn oversized_answers_and_hangs_are_clear_errors() {
    let sandbox = sandbox().await;
    sandbox.set_council_faults(Faults { oversized_rate: 1.0, ..Faults::none() });
    let err = partner(&sandbox.council_url())
        .check_availability(&isolation_in_ludlow())
        .await
        .unwrap_err();
    assert!(err.message.contains("larger than"), "{err}");
    sandbox.set_council_faults(Faults { hang_rate: 1.0, ..Faults::none() });
    let settings = Settings { timeout_ms: 300, ..Settings::new(sandbox.council_url()) };
    let started = std::time::Instant::now();
    let err = CouncilPartner::from_settings(settings).unwrap().health().await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_capacity_knob_reaches_every_offer() {
    let sandbox = sandbox().await;
    let council = partner(&sandbox.council_url());
    for (knob, expected) in [
        (CapacityOverride::Full, Capacity::NoCapacity),
        (CapacityOverride::Waitlist, Capacity::Waitlist),
        (CapacityOverride::Open, Capacity::Capacity),
    ] {
        sandbox.set_council_faults(Faults { capacity: Some(knob), ..Faults::none() });
        let offers = council.check_availability(&isolation_in_ludlow()).await.unwrap().offers;
        assert_eq!(offers.len(), 6);
        assert!(offers.iter().all(|o| o.capacity == expected), "{knob:?}: {offers:?}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_open311_api_key_is_sent_from_the_environment() {
    let council = CouncilSimConfig {
        api_key: Some("council-test-key".into()),
        ..CouncilSimConfig::default()
    };
    let sandbox =
        Sandbox::start(SandboxConfig { council, ..SandboxConfig::default() }).await.unwrap();
    let without = partner(&sandbox.council_url());
    let service = kensington_service(&without, NeedCode::DebtMoney, "Welfare Rights Advice").await;
    let err = without
        .send_referral(&referral(service.clone(), NeedCode::DebtMoney, "key-a", false))
        .await
        .unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Unauthorized, "{err}");
    // A variable only this test uses, so parallel tests cannot race on it.
    std::env::set_var("PATHWAYS_TEST_COUNCIL_KEY", "council-test-key");
    let settings = Settings {
        api_key_env: Some("PATHWAYS_TEST_COUNCIL_KEY".into()),
        ..Settings::new(sandbox.council_url())
    };
    let with = CouncilPartner::from_settings(settings).unwrap();
    assert!(with
        .send_referral(&referral(service, NeedCode::DebtMoney, "key-b", false))
        .await
        .is_ok());
    sandbox.shutdown().await;
}
