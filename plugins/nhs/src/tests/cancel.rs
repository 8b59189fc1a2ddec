//! Revoking a referral the BaRS way: the `revoked` update over real HTTP, what it carries (and
//! what it does not), its repeat, a referral that ended first, and failures.

use pathways_sandbox::{Faults, NhsReferralRecord, NhsTaskReason, NhsTaskStatus};
use pathways_sdk::{
    CancelReason, CancelRequest, Capability, Partner, PartnerErrorKind, PartnerPlugin, ReferralRef,
    TaskState,
};
use serde_json::Value;

use super::{partner, referral, sandbox};
use crate::NhsPartner;

fn cancel(partner_reference: &str, key: &str, reason: CancelReason) -> CancelRequest {
    CancelRequest {
        reference: ReferralRef {
            partner_reference: partner_reference.into(),
            idempotency_key: key.parse().unwrap(),
        },
        reason,
    }
}

/// The entry of `kind` in a message Bundle.
fn entry<'a>(message: &'a Value, kind: &str) -> &'a Value {
    message["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {message}"))
}

#[tokio::test]
async fn revoking_cancels_the_task_once_without_resending_personal_data() {
    let sandbox = sandbox().await;
    let nhs = partner(&sandbox.nhs_url());
    let receipt = nhs.send_referral(&referral("2000100001", "key-revoke")).await.unwrap();
    let task_id = receipt.partner_reference.clone();
    let request = cancel(&task_id, "key-revoke", CancelReason::NoLongerNeeded);
    let cancelled = nhs.cancel_referral(&request).await.unwrap();
    assert_eq!(
        (cancelled.state, cancelled.reason),
        (TaskState::Cancelled, Some(CancelReason::NoLongerNeeded.status_reason()))
    );
    assert_eq!(
        sandbox.nhs_referral(&task_id),
        Some(NhsReferralRecord {
            task_status: NhsTaskStatus::Cancelled,
            task_reason: Some(NhsTaskReason::NoLongerInterested),
            service_request_status: "revoked".into(),
        })
    );

    // What went: the same ServiceRequest identifier and correlation, revoked, and why; no
    // Patient, notes or needs.
    let messages = sandbox.nhs_messages();
    let (sent, update) = (&messages[0], &messages[1]);
    let header = entry(update, "MessageHeader");
    assert_eq!(header["eventCoding"]["code"], "servicerequest-request");
    assert_eq!(header["reason"]["coding"][0]["code"], "update");
    let revoked = entry(update, "ServiceRequest");
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["identifier"], entry(sent, "ServiceRequest")["identifier"]);
    assert_eq!(revoked["requisition"], entry(sent, "ServiceRequest")["requisition"]);
    assert!(revoked["subject"]["reference"].as_str().unwrap().starts_with("Patient/"));
    assert_eq!(
        revoked["extension"][0]["url"],
        "http://hl7.org/fhir/StructureDefinition/request-statusReason"
    );
    assert_eq!(
        revoked["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "no-longer-needed"
    );
    let text = update.to_string();
    for personal in ["Test Person", "1989-04-02", "07700", "test@example.org", "W10", "MH-NOTE"] {
        assert!(!text.contains(personal), "{personal} went again: {text}");
    }
    assert!(update["entry"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["resource"]["resourceType"] != "Patient"));
    assert_ne!(update["id"], sent["id"], "the update is its own message");

    // Again, as a retry would: the same answer, and nothing more is sent.
    assert_eq!(nhs.cancel_referral(&request).await.unwrap(), cancelled);
    let reference = request.reference.clone();
    let polled = nhs.referral_status(&reference).await.unwrap();
    assert_eq!((polled.state, polled.reason), (cancelled.state, cancelled.reason));
    let stats = sandbox.nhs_stats();
    assert_eq!((stats.total_posts, stats.referrals_cancelled), (2, 1));
    assert!(NhsPartner::describe().capabilities.contains(&Capability::Cancel));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_revoke_for_another_reason_answers_that_reason() {
    let sandbox = sandbox().await;
    let nhs = partner(&sandbox.nhs_url());
    let receipt = nhs.send_referral(&referral("2000100003", "key-rerouted")).await.unwrap();
    let request = cancel(&receipt.partner_reference, "key-rerouted", CancelReason::Rerouted);
    let answer = nhs.cancel_referral(&request).await.unwrap();
    assert_eq!(
        (answer.state, answer.reason),
        (TaskState::Cancelled, Some(CancelReason::Rerouted.status_reason()))
    );
    let held = sandbox.nhs_referral(&receipt.partner_reference).unwrap();
    assert_eq!(held.task_reason, Some(NhsTaskReason::RevokedByRequester));
    assert_eq!(nhs.cancel_referral(&request).await.unwrap(), answer, "a repeat");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_referral_that_ended_first_is_answered_as_it_ended_and_nothing_is_sent() {
    let sandbox = sandbox().await;
    let nhs = partner(&sandbox.nhs_url());
    let receipt = nhs.send_referral(&referral("2000100001", "key-done")).await.unwrap();
    sandbox
        .set_nhs_task_status(&receipt.partner_reference, NhsTaskStatus::Completed, None)
        .unwrap();
    let request = cancel(&receipt.partner_reference, "key-done", CancelReason::HelpedElsewhere);
    let answer = nhs.cancel_referral(&request).await.unwrap();
    assert_eq!((answer.state, answer.reason), (TaskState::Completed, None));
    let held = sandbox.nhs_referral(&receipt.partner_reference).unwrap();
    assert_eq!(
        (held.task_status, held.service_request_status.as_str()),
        (NhsTaskStatus::Completed, "active")
    );
    assert_eq!(sandbox.nhs_stats().total_posts, 1, "only the referral was posted");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn revoking_an_unknown_or_mismatched_reference_or_in_an_outage_fails_with_the_right_kind() {
    let sandbox = sandbox().await;
    let nhs = partner(&sandbox.nhs_url());
    let err =
        nhs.cancel_referral(&cancel("no-such-task", "k", CancelReason::Other)).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Permanent, "{err}");
    assert!(err.message.contains("REC_NOT_FOUND"), "{err}");
    let err = nhs.cancel_referral(&cancel(" ", "k", CancelReason::Other)).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::InvalidRequest, "{err}");
    // A blank key cannot reach it: the type refuses one (the SDK does so on the wire).
    assert!(" ".parse::<pathways_sdk::IdempotencyKey>().is_err());
    // A Task that tracks another referral than the key's is never revoked.
    let receipt = nhs.send_referral(&referral("2000100001", "key-mine")).await.unwrap();
    let wrong = cancel(&receipt.partner_reference, "key-someone-else", CancelReason::Other);
    let err = nhs.cancel_referral(&wrong).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::InvalidRequest, "{err}");
    assert_eq!(
        sandbox.nhs_referral(&receipt.partner_reference).unwrap().task_status,
        NhsTaskStatus::Requested
    );

    sandbox.set_nhs_faults(Faults::failing());
    let request = cancel(&receipt.partner_reference, "key-mine", CancelReason::Other);
    let err = nhs.cancel_referral(&request).await.unwrap_err();
    assert!(matches!(err.kind, PartnerErrorKind::Transient { .. }), "{err}");
    assert!(!err.message.contains("Test Person"), "no personal data in errors: {err}");
    sandbox.set_nhs_faults(Faults::none());
    let answer = nhs.cancel_referral(&request).await.unwrap();
    assert_eq!(answer.state, TaskState::Cancelled, "the orchestrator's retry gets through");
    sandbox.shutdown().await;
}
