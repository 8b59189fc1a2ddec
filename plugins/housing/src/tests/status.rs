//! A referral's progress at the authority, read as FHIR Task states: on a fast sandbox clock
//! over real HTTP, and every status shape the API documents (plus ones it does not).

use std::time::{Duration, Instant};

use pathways_plugin_testkit::sandbox_with;
use pathways_sandbox::{ClockConfig, Sandbox};
use pathways_sdk::{Partner, PartnerErrorKind, StatusReason, TaskState};
use serde_json::json;

use super::{partner, reference, referral, Spec};
use crate::mapping::{self, DtrReferralAnswer};

async fn sandbox_with_clock(step_ms: u64, reject_rate: f64) -> Sandbox {
    sandbox_with(|config| config.clock = ClockConfig { step_ms, reject_rate }).await
}

#[tokio::test]
async fn a_referral_moves_from_requested_to_completed_in_order_on_a_fast_clock() {
    let sandbox = sandbox_with_clock(50, 0.0).await;
    let housing = partner(&sandbox.housing_url());
    let receipt = housing.send_referral(&referral(Spec::default(), "key-clock")).await.unwrap();
    let reference = reference(&receipt.partner_reference, "key-clock");
    let order =
        [TaskState::Requested, TaskState::Accepted, TaskState::InProgress, TaskState::Completed];
    let (mut seen, deadline) = (vec![receipt.state], Instant::now() + Duration::from_secs(10));
    loop {
        let status = housing.referral_status(&reference).await.unwrap();
        if seen.last() != Some(&status.state) {
            seen.push(status.state);
        }
        if status.state == TaskState::Completed {
            assert_eq!(status.reason, None);
            assert!(status.note.unwrap().contains("prevented"), "a threatened client's case");
            assert!(status.updated_at.is_some());
            break;
        }
        assert!(Instant::now() < deadline, "never completed: {seen:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ranks: Vec<usize> =
        seen.iter().map(|s| order.iter().position(|o| o == s).unwrap()).collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "out of order: {seen:?}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn refused_referrals_are_rejected_or_failed_with_a_reason() {
    let sandbox = sandbox_with_clock(20, 1.0).await;
    let housing = partner(&sandbox.housing_url());
    let mut receipts = Vec::new();
    for i in 0..24 {
        let key = format!("key-refused-{i}");
        let receipt = housing.send_referral(&referral(Spec::default(), &key)).await.unwrap();
        receipts.push(reference(&receipt.partner_reference, &key));
    }
    tokio::time::sleep(Duration::from_millis(40)).await;
    let mut seen = Vec::new();
    for reference in &receipts {
        let status = housing.referral_status(reference).await.unwrap();
        assert!(status.state.requires_reason() && status.reason.is_some(), "{status:?}");
        seen.push((status.state, status.reason));
    }
    for expected in [
        (TaskState::Rejected, Some(StatusReason::NotEligible)),
        (TaskState::Rejected, Some(StatusReason::OutOfArea)),
        (TaskState::Failed, Some(StatusReason::CouldNotContact)),
    ] {
        assert!(seen.contains(&expected), "{expected:?} never seen in {seen:?}");
    }
    sandbox.shutdown().await;
}

fn answer(status: &str, extra: serde_json::Value) -> DtrReferralAnswer {
    let mut value = json!({"referral_id": "DTR-KC-1", "status": status,
                           "received_at": "2026-11-20T10:00:00Z"});
    if let (Some(map), Some(more)) = (value.as_object_mut(), extra.as_object()) {
        map.extend(more.clone());
    }
    serde_json::from_value(value).unwrap()
}

#[test]
fn every_documented_status_maps_to_a_task_state_with_the_reason_fhir_requires() {
    let cases = [
        ("received", json!({}), TaskState::Requested, None),
        ("accepted", json!({"duty": "relief"}), TaskState::Accepted, None),
        ("in_progress", json!({"duty": "prevention"}), TaskState::InProgress, None),
        ("closed", json!({"outcome": "homelessness_relieved"}), TaskState::Completed, None),
        (
            "closed",
            json!({"outcome": "could_not_contact"}),
            TaskState::Failed,
            Some(StatusReason::CouldNotContact),
        ),
        (
            "closed",
            json!({"outcome": "moved_abroad"}),
            TaskState::Failed,
            Some(StatusReason::Other),
        ),
        (
            "declined",
            json!({"reason": "not_eligible"}),
            TaskState::Rejected,
            Some(StatusReason::NotEligible),
        ),
        (
            "declined",
            json!({"reason": "no_local_connection"}),
            TaskState::Rejected,
            Some(StatusReason::OutOfArea),
        ),
        (
            "declined",
            json!({"reason": "not_accepting_referrals"}),
            TaskState::Rejected,
            Some(StatusReason::NoCapacity),
        ),
        ("declined", json!({}), TaskState::Rejected, Some(StatusReason::Other)),
    ];
    for (status, extra, state, reason) in cases {
        let mapped = mapping::status(&answer(status, extra.clone()), "DTR-KC-1", "/p").unwrap();
        assert_eq!((mapped.state, mapped.reason), (state, reason), "{status} {extra}");
        assert!(!mapped.note.unwrap().contains("moved_abroad"), "partner codes are not echoed");
    }
    let accepted =
        mapping::status(&answer("accepted", json!({"duty": "relief"})), "DTR-KC-1", "/p");
    assert_eq!(accepted.unwrap().note.as_deref(), Some("case opened (relief duty)"));
    let err = mapping::status(&answer("archived", json!({})), "DTR-KC-1", "/p/x").unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Permanent);
    assert!(err.message.contains("/p/x"), "{err}");
    let err = mapping::status(&answer("received", json!({})), "DTR-KC-2", "/p").unwrap_err();
    assert!(err.message.contains("another referral"), "{err}");
}
