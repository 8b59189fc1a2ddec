//! Withdrawing a referral: the authority's withdraw over real HTTP, its repeat, a case that
//! ended first, failures, and every cancel reason in the authority's words and back.

use std::time::Duration;

use pathways_plugin_testkit::{sandbox, sandbox_with};
use pathways_sandbox::{ClockConfig, Faults};
use pathways_sdk::{
    CancelReason, CancelRequest, Capability, Partner, PartnerErrorKind, PartnerPlugin, ReferralRef,
    TaskState,
};
use serde_json::json;

use super::{partner, reference, referral, Spec};
use crate::mapping::{self, DtrReferralAnswer};
use crate::HousingPartner;

fn cancel(reference: &ReferralRef, reason: CancelReason) -> CancelRequest {
    CancelRequest { reference: reference.clone(), reason }
}

#[tokio::test]
async fn withdrawing_a_referral_once_and_again_answers_cancelled_and_polls_say_so() {
    let sandbox = sandbox().await;
    let housing = partner(&sandbox.housing_url());
    let receipt = housing.send_referral(&referral(Spec::default(), "key-withdraw")).await.unwrap();
    let reference = reference(&receipt.partner_reference, "key-withdraw");
    let request = cancel(&reference, CancelReason::ConsentWithdrawn);
    let cancelled = housing.cancel_referral(&request).await.unwrap();
    assert_eq!(
        (cancelled.state, cancelled.reason),
        (TaskState::Cancelled, Some(CancelReason::ConsentWithdrawn.status_reason()))
    );
    let held = sandbox.housing_referral(&receipt.partner_reference).unwrap();
    assert_eq!(
        (held["status"].as_str(), held["withdrawal_reason"].as_str()),
        (Some("withdrawn"), Some("consent_withdrawn"))
    );
    assert_eq!(housing.cancel_referral(&request).await.unwrap(), cancelled, "a repeat");
    assert_eq!(housing.referral_status(&reference).await.unwrap(), cancelled);
    assert_eq!(sandbox.housing_stats().referrals_withdrawn, 1);
    assert!(HousingPartner::describe().capabilities.contains(&Capability::Cancel));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_case_closed_first_is_not_withdrawn_and_the_answer_is_how_it_ended() {
    let sandbox =
        sandbox_with(|config| config.clock = ClockConfig { step_ms: 1, reject_rate: 0.0 }).await;
    let housing = partner(&sandbox.housing_url());
    let receipt = housing.send_referral(&referral(Spec::default(), "key-closed")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let reference = reference(&receipt.partner_reference, "key-closed");
    let answer =
        housing.cancel_referral(&cancel(&reference, CancelReason::HelpedElsewhere)).await.unwrap();
    assert_eq!((answer.state, answer.reason), (TaskState::Completed, None));
    let held = sandbox.housing_referral(&receipt.partner_reference).unwrap();
    assert_eq!(held["status"], "closed");
    assert_eq!(sandbox.housing_stats().referrals_withdrawn, 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn withdrawing_an_unknown_referral_or_in_an_outage_fails_with_the_right_kind() {
    let sandbox = sandbox().await;
    let housing = partner(&sandbox.housing_url());
    let unknown = reference("DTR-KC-NOSUCH", "k");
    let err = housing.cancel_referral(&cancel(&unknown, CancelReason::Other)).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Permanent, "{err}");
    assert!(err.message.contains("404") && err.message.contains("/withdraw"), "{err}");
    let blank = reference(" ", "k");
    let err = housing.cancel_referral(&cancel(&blank, CancelReason::Other)).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::InvalidRequest, "{err}");

    let receipt = housing.send_referral(&referral(Spec::default(), "key-outage")).await.unwrap();
    sandbox.set_housing_faults(Faults::failing());
    let outage = reference(&receipt.partner_reference, "key-outage");
    let err = housing.cancel_referral(&cancel(&outage, CancelReason::Other)).await.unwrap_err();
    assert!(matches!(err.kind, PartnerErrorKind::Transient { .. }), "{err}");
    assert!(!err.message.contains("Test Person"), "no personal data in errors: {err}");
    let held = sandbox.housing_referral(&receipt.partner_reference).unwrap();
    assert_eq!(held["status"], "received");
    sandbox.shutdown().await;
}

#[test]
fn every_cancel_reason_reads_back_as_the_reason_the_core_gives_it() {
    for reason in CancelReason::ALL {
        let body = mapping::withdrawal(reason);
        let answer: DtrReferralAnswer = serde_json::from_value(json!({
            "referral_id": "DTR-KC-1", "status": "withdrawn", "withdrawal_reason": body.reason,
            "received_at": "2026-11-20T10:00:00Z", "updated_at": "2026-11-20T11:00:00Z"
        }))
        .unwrap();
        let status = mapping::status(&answer, "DTR-KC-1", "/p").unwrap();
        assert_eq!(
            (status.state, status.reason),
            (TaskState::Cancelled, Some(reason.status_reason())),
            "{reason:?} as {}",
            body.reason
        );
    }
}
