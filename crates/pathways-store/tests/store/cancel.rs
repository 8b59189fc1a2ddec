//! Cancelling referrals: withdrawn before sending, queued behind a send in flight, answered
//! by the partner, not supported, settled without the partner.

use std::time::Duration;

use pathways_core::{CancelReason, NeedCode, ReferralStatus, StatusReason, TaskState};
use pathways_store::{
    CancelOrder, CancelOutcome, CancelRequested, CancelState, CaseId, DispatchOutcome, OutboxState,
    ReferralId, StatusChange, StatusSource,
};

use crate::data::{case, referral, t};
use crate::fixtures::Fixture;

const LEASE: Duration = Duration::from_secs(30);

fn order(reason: CancelReason) -> CancelOrder {
    CancelOrder {
        reason,
        note: Some("She has moved to her sister's in Leeds".into()),
        requested_by: "usr_pathfinder".into(),
    }
}

async fn one_referral(fx: &Fixture, key: &str) -> (CaseId, ReferralId) {
    let case_id = fx.store.insert_case("citizens-advice-kc", &case()).await.unwrap();
    let ids = fx
        .store
        .create_referrals(&case_id, vec![referral("foodbank-b", &[NeedCode::Food], key)], t(0))
        .await
        .unwrap();
    (case_id, ids[0].clone())
}

async fn deliver(fx: &Fixture, at: i64) {
    for item in fx.store.claim_outbox("w", 100, LEASE, t(at)).await.unwrap() {
        let outcome = DispatchOutcome::Delivered { partner_reference: format!("P-{}", item.id) };
        assert!(fx.store.finish_outbox(item.id, "w", outcome, t(at)).await.unwrap());
    }
}

pub async fn a_queued_referral_is_withdrawn_at_once_and_never_claimed(fx: &Fixture) {
    let (_, id) = one_referral(fx, "k-queued").await;
    let answer = fx.store.request_cancel(&id, &order(CancelReason::NoLongerNeeded), t(1)).await;
    assert_eq!(answer.unwrap(), Some(CancelRequested::Withdrawn));
    assert!(
        fx.store.claim_outbox("w", 10, LEASE, t(2)).await.unwrap().is_empty(),
        "nothing left to send"
    );
    assert!(fx.store.claim_cancels("w", 10, LEASE, t(2)).await.unwrap().is_empty());
    let stored = fx.store.get_referral(&id).await.unwrap().unwrap();
    assert_eq!(stored.state, TaskState::Cancelled);
    assert_eq!(stored.reason, Some(StatusReason::NoLongerInterested));
    assert_eq!(stored.dispatch.state, OutboxState::Withdrawn);
    let last = stored.history.last().unwrap();
    assert_eq!(last.source, StatusSource::Referrer);
    assert!(last.note.as_deref().unwrap().contains("never received"));
    let cancel = stored.cancellation.expect("recorded");
    assert_eq!(cancel.state, CancelState::Withdrawn);
    assert_eq!(cancel.requested_by, "usr_pathfinder");
    assert_eq!(cancel.note.as_deref(), Some("She has moved to her sister's in Leeds"));
    assert_eq!(
        fx.raw_count("cancellations WHERE note LIKE '%Leeds%' OR note NOT LIKE 'pws1:%'").await,
        0,
        "the pathfinder's words are sealed at rest"
    );
    // Asking again changes nothing.
    let again = fx.store.request_cancel(&id, &order(CancelReason::Other), t(3)).await.unwrap();
    assert_eq!(again, Some(CancelRequested::Already(CancelState::Withdrawn)));
    let unknown = ReferralId::random();
    assert_eq!(
        fx.store.request_cancel(&unknown, &order(CancelReason::Other), t(3)).await.unwrap(),
        None
    );
}

pub async fn a_cancel_waits_for_a_send_in_flight_then_goes_to_the_partner(fx: &Fixture) {
    let (_, id) = one_referral(fx, "k-inflight").await;
    let sending = fx.store.claim_outbox("w", 10, LEASE, t(1)).await.unwrap();
    assert_eq!(sending.len(), 1);
    let answer = fx.store.request_cancel(&id, &order(CancelReason::HelpedElsewhere), t(2)).await;
    assert_eq!(answer.unwrap(), Some(CancelRequested::Queued));
    assert!(
        fx.store.claim_cancels("w", 10, LEASE, t(3)).await.unwrap().is_empty(),
        "not while the send's lease runs"
    );
    let delivered = DispatchOutcome::Delivered { partner_reference: "P-1".into() };
    assert!(fx.store.finish_outbox(sending[0].id, "w", delivered, t(4)).await.unwrap());
    // Due when the send's lease would have run out (claimed at 1 for 30 s).
    assert!(fx.store.claim_cancels("w", 10, LEASE, t(30)).await.unwrap().is_empty());
    let items = fx.store.claim_cancels("w", 10, LEASE, t(31)).await.unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!((item.partner_reference.as_str(), item.attempt), ("P-1", 1));
    assert_eq!(item.reason, CancelReason::HelpedElsewhere);
    assert!(fx.store.claim_cancels("v", 10, LEASE, t(32)).await.unwrap().is_empty(), "leased");
    // A retry, then the partner's answer.
    let retry =
        CancelOutcome::Retry { not_before: t(40), last_error: "503 from the partner".into() };
    assert!(fx.store.finish_cancel(&id, "w", retry, t(33)).await.unwrap());
    assert!(
        !fx.store
            .finish_cancel(&id, "w", CancelOutcome::Failed { reason: "x".into() }, t(33))
            .await
            .unwrap(),
        "no longer held"
    );
    let pending = fx.store.get_referral(&id).await.unwrap().unwrap().cancellation.unwrap();
    assert_eq!((pending.state, pending.attempts), (CancelState::Pending, 1));
    assert_eq!(pending.last_error.as_deref(), Some("503 from the partner"));
    let items = fx.store.claim_cancels("w", 10, LEASE, t(40)).await.unwrap();
    assert_eq!(items[0].attempt, 2);
    let status = ReferralStatus {
        state: TaskState::Cancelled,
        reason: Some(StatusReason::Other),
        note: None,
        updated_at: Some(t(41)),
    };
    assert!(fx
        .store
        .finish_cancel(&id, "w", CancelOutcome::Answered(status), t(41))
        .await
        .unwrap());
    let stored = fx.store.get_referral(&id).await.unwrap().unwrap();
    assert_eq!(stored.state, TaskState::Cancelled);
    assert_eq!(stored.dispatch.state, OutboxState::Delivered);
    assert_eq!(stored.history.last().unwrap().source, StatusSource::Dispatcher);
    assert_eq!(stored.cancellation.unwrap().state, CancelState::Confirmed);
}

pub async fn a_partner_that_cannot_cancel_leaves_it_cancelled_here_with_a_note(fx: &Fixture) {
    let (_, id) = one_referral(fx, "k-unsupported").await;
    deliver(fx, 1).await;
    let answer = fx.store.request_cancel(&id, &order(CancelReason::ConsentWithdrawn), t(2)).await;
    assert_eq!(answer.unwrap(), Some(CancelRequested::Queued));
    let items = fx.store.claim_cancels("w", 10, LEASE, t(2)).await.unwrap();
    assert_eq!(items.len(), 1, "a delivered referral's cancel is due at once");
    let outcome = CancelOutcome::Unsupported { message: "Open311 has no cancel".into() };
    assert!(fx.store.finish_cancel(&id, "w", outcome, t(3)).await.unwrap());
    let stored = fx.store.get_referral(&id).await.unwrap().unwrap();
    assert_eq!(stored.state, TaskState::Cancelled);
    assert!(stored.history.last().unwrap().note.as_deref().unwrap().contains("by phone"));
    let cancel = stored.cancellation.unwrap();
    assert_eq!(cancel.state, CancelState::Unsupported);
    assert_eq!(cancel.last_error.as_deref(), Some("Open311 has no cancel"));
}

pub async fn a_referral_finished_meanwhile_settles_its_cancel_without_the_partner(fx: &Fixture) {
    let (_, id) = one_referral(fx, "k-finished").await;
    deliver(fx, 1).await;
    fx.store.request_cancel(&id, &order(CancelReason::NoLongerNeeded), t(2)).await.unwrap();
    let done = StatusChange {
        state: TaskState::Completed,
        reason: None,
        note: None,
        source: StatusSource::PartnerWebhook,
        at: t(3),
    };
    assert!(fx.store.record_referral_status(&id, &done).await.unwrap());
    assert!(fx.store.claim_cancels("w", 10, LEASE, t(4)).await.unwrap().is_empty());
    let stored = fx.store.get_referral(&id).await.unwrap().unwrap();
    assert_eq!(stored.state, TaskState::Completed, "the partner's news stands");
    let cancel = stored.cancellation.unwrap();
    assert_eq!(cancel.state, CancelState::Failed);
    assert!(cancel.last_error.unwrap().contains("already completed"));
    // Nothing to cancel in a final state.
    let (_, other) = one_referral(fx, "k-final").await;
    deliver(fx, 5).await;
    let rejected = StatusChange { state: TaskState::Rejected, ..done };
    fx.store.record_referral_status(&other, &rejected).await.unwrap();
    let answer = fx.store.request_cancel(&other, &order(CancelReason::Other), t(6)).await;
    assert_eq!(answer.unwrap(), Some(CancelRequested::Final(TaskState::Rejected)));
}

pub async fn a_send_back_in_the_queue_is_withdrawn_when_its_cancel_comes_due(fx: &Fixture) {
    let (_, id) = one_referral(fx, "k-retry").await;
    let sending = fx.store.claim_outbox("w", 10, LEASE, t(1)).await.unwrap();
    fx.store.request_cancel(&id, &order(CancelReason::SentInError), t(2)).await.unwrap();
    let retry = DispatchOutcome::Retry { not_before: t(100), last_error: "busy".into() };
    assert!(fx.store.finish_outbox(sending[0].id, "w", retry, t(3)).await.unwrap());
    assert!(fx.store.claim_cancels("w", 10, LEASE, t(31)).await.unwrap().is_empty());
    let stored = fx.store.get_referral(&id).await.unwrap().unwrap();
    assert_eq!(stored.state, TaskState::Cancelled);
    assert_eq!(stored.dispatch.state, OutboxState::Withdrawn);
    assert_eq!(stored.cancellation.unwrap().state, CancelState::Withdrawn);
    assert!(fx.store.claim_outbox("w", 10, LEASE, t(200)).await.unwrap().is_empty());
}

pub async fn concurrent_cancel_claimers_never_share_one(fx: &Fixture) {
    let case_id = fx.store.insert_case("citizens-advice-kc", &case()).await.unwrap();
    let new: Vec<_> = (0..12)
        .map(|i| referral(&format!("p{i}"), &[NeedCode::Food], &format!("k-race-{i}")))
        .collect();
    let ids = fx.store.create_referrals(&case_id, new, t(0)).await.unwrap();
    deliver(fx, 1).await;
    for id in &ids {
        fx.store.request_cancel(id, &order(CancelReason::Other), t(2)).await.unwrap();
    }
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = fx.store.clone();
        tasks.push(tokio::spawn(async move {
            store.claim_cancels(&format!("w{w}"), 5, LEASE, t(3)).await.unwrap()
        }));
    }
    let mut claimed = std::collections::HashSet::new();
    for task in tasks {
        for item in task.await.unwrap() {
            assert!(claimed.insert(item.referral_id.clone()), "claimed twice");
        }
    }
    assert_eq!(claimed.len(), 12);
}

pub async fn erasure_removes_a_cancels_note(fx: &Fixture) {
    let (case_id, id) = one_referral(fx, "k-erase").await;
    fx.store.request_cancel(&id, &order(CancelReason::Other), t(1)).await.unwrap();
    fx.store
        .erase_case(&case_id, pathways_store::ErasureReason::ClientRequest, t(2))
        .await
        .unwrap();
    let cancel = fx.store.get_referral(&id).await.unwrap().unwrap().cancellation.unwrap();
    assert_eq!(cancel.note, None);
    assert_eq!(cancel.reason, CancelReason::Other, "the reason code stays");
}

pub async fn a_consent_change_keeps_the_one_it_replaced_sealed_until_erasure(fx: &Fixture) {
    let case_id = fx.store.insert_case("citizens-advice-kc", &case()).await.unwrap();
    let original = case().consent;
    let mut narrowed = original.clone();
    narrowed.share_with = pathways_core::ShareWith::Partners(vec!["nhs-talking".into()]);
    narrowed.recorded_by = "usr_second".into();
    let mut none = original.clone();
    none.share_with = pathways_core::ShareWith::None;
    let after = fx.store.replace_consent(&case_id, &narrowed).await.unwrap().unwrap();
    assert_eq!(after.case.consent, narrowed);
    assert_eq!(after.consent_history, std::slice::from_ref(&original));
    fx.store.replace_consent(&case_id, &none).await.unwrap().unwrap();
    let stored = fx.store.get_case(&case_id).await.unwrap().unwrap();
    assert_eq!(stored.case.consent, none);
    assert_eq!(stored.consent_history, [original, narrowed], "oldest first");
    assert_eq!(
        fx.raw_count(
            "cases WHERE consent_history IS NOT NULL AND consent_history NOT LIKE 'pws1:%'"
        )
        .await,
        0,
        "sealed at rest"
    );
    assert_eq!(fx.store.replace_consent(&CaseId::random(), &none).await.unwrap(), None);
    fx.store
        .erase_case(&case_id, pathways_store::ErasureReason::ClientRequest, t(2))
        .await
        .unwrap();
    assert_eq!(fx.raw_count("cases WHERE consent_history IS NOT NULL").await, 0);
    assert_eq!(fx.store.replace_consent(&case_id, &none).await.unwrap(), None, "erased");
}
