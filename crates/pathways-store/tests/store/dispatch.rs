//! Referrals, the outbox, status history and pathway statistics.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use pathways_core::{NeedCode, StatusReason, TaskState};
use pathways_store::{
    CaseId, DispatchOutcome, OutboxState, PartnerEvent, PathwayStatsRow, ReasonCount, ReferralId,
    StatusChange, StatusSource, StoreError,
};

use crate::data::{case, referral, t};
use crate::fixtures::Fixture;

const LEASE: Duration = Duration::from_secs(30);

async fn new_case(fx: &Fixture) -> CaseId {
    fx.store.insert_case("citizens-advice-kc", &case()).await.unwrap()
}

/// Claims everything due at `at` and marks it delivered then.
async fn deliver_all(fx: &Fixture, at: chrono::DateTime<chrono::Utc>) {
    for item in fx.store.claim_outbox("w", 100, LEASE, at).await.unwrap() {
        let outcome = DispatchOutcome::Delivered { partner_reference: format!("P-{}", item.id) };
        assert!(fx.store.finish_outbox(item.id, "w", outcome, at).await.unwrap());
    }
}

fn change(
    state: TaskState,
    reason: Option<StatusReason>,
    source: StatusSource,
    at: i64,
) -> StatusChange {
    StatusChange { state, reason, note: None, source, at: t(at) }
}

pub async fn referrals_are_created_as_drafts_with_a_pending_outbox_row(fx: &Fixture) {
    let case_id = new_case(fx).await;
    let new = vec![
        referral("housing-a", &[NeedCode::HousingHomelessness], "k1"),
        referral("foodbank-b", &[NeedCode::Food, NeedCode::HousingHomelessness], "k2"),
    ];
    let ids = fx.store.create_referrals(&case_id, new.clone(), t(0)).await.unwrap();
    assert_eq!(ids.len(), 2);
    let second = fx.store.get_referral(&ids[1]).await.unwrap().expect("stored");
    assert_eq!(second.case_id, case_id);
    assert_eq!(second.partner_id, "foodbank-b");
    assert_eq!(second.needs, [NeedCode::Food, NeedCode::HousingHomelessness]);
    assert_eq!(second.idempotency_key, "k2");
    assert_eq!(
        second.referral.as_ref(),
        Some(&new[1].referral),
        "the payload, personal data included, is kept as is"
    );
    assert_eq!(
        (second.state, second.reason, second.state_changed_at),
        (TaskState::Draft, None, t(0))
    );
    assert_eq!(second.history, [change(TaskState::Draft, None, StatusSource::Referrer, 0)]);
    assert_eq!((second.partner_reference, second.sent_at), (None, None));
    assert_eq!(second.dispatch.state, OutboxState::Pending);
    assert_eq!((second.dispatch.attempts, second.dispatch.not_before), (0, t(0)));
}

pub async fn create_referrals_is_all_or_nothing(fx: &Fixture) {
    let case_id = new_case(fx).await;
    fx.store
        .create_referrals(&case_id, vec![referral("a", &[NeedCode::Food], "taken")], t(0))
        .await
        .unwrap();
    // The second item collides with the existing key after the first was written.
    let batch = vec![
        referral("b", &[NeedCode::Food], "fresh-1"),
        referral("c", &[NeedCode::Food], "taken"),
        referral("d", &[NeedCode::Food], "fresh-2"),
    ];
    let err = fx.store.create_referrals(&case_id, batch, t(0)).await.unwrap_err();
    assert!(matches!(&err, StoreError::DuplicateReferral { key } if key == "taken"), "{err}");
    for table in ["referrals", "outbox", "referral_needs", "referral_history"] {
        assert_eq!(fx.raw_count(table).await, 1, "{table} kept only the first referral");
    }
    assert_eq!(fx.store.claim_outbox("w", 10, LEASE, t(1)).await.unwrap().len(), 1);
}

pub async fn referrals_for_an_unknown_case_are_refused(fx: &Fixture) {
    let nobody = CaseId::random();
    let err = fx
        .store
        .create_referrals(&nobody, vec![referral("a", &[NeedCode::Food], "k")], t(0))
        .await
        .unwrap_err();
    assert!(matches!(&err, StoreError::UnknownCase(id) if *id == nobody), "{err}");
    assert_eq!(fx.raw_count("referrals").await, 0);
}

pub async fn concurrent_claimers_never_share_an_item(fx: &Fixture) {
    const ITEMS: usize = 40;
    let case_id = new_case(fx).await;
    let new = (0..ITEMS).map(|i| referral("p", &[NeedCode::Food], &format!("k{i}"))).collect();
    fx.store.create_referrals(&case_id, new, t(0)).await.unwrap();
    let second = fx.reopen().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(4));
    let claimers: Vec<_> = (0..4)
        .map(|w| {
            // Two workers per store instance: in-process contention and another "daemon".
            let store = if w < 2 { Arc::clone(&fx.store) } else { Arc::clone(&second) };
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                let worker = format!("worker-{w}");
                let mut mine = Vec::new();
                barrier.wait().await;
                loop {
                    let items = store.claim_outbox(&worker, 3, LEASE, t(1)).await.unwrap();
                    if items.is_empty() {
                        return mine;
                    }
                    for item in items {
                        let done = DispatchOutcome::Delivered { partner_reference: "x".into() };
                        assert!(store.finish_outbox(item.id, &worker, done, t(2)).await.unwrap());
                        mine.push(item.referral_id);
                    }
                }
            })
        })
        .collect();
    let mut all: Vec<ReferralId> = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<&ReferralId> = all.iter().collect();
    assert_eq!(all.len(), ITEMS, "every item claimed");
    assert_eq!(distinct.len(), ITEMS, "no item claimed twice");
}

pub async fn an_expired_lease_makes_an_item_claimable_again(fx: &Fixture) {
    let case_id = new_case(fx).await;
    let ids = fx
        .store
        .create_referrals(&case_id, vec![referral("p", &[NeedCode::Food], "k")], t(0))
        .await
        .unwrap();
    let first = fx.store.claim_outbox("crashed", 10, LEASE, t(1)).await.unwrap();
    assert_eq!((first.len(), first[0].attempt, first[0].lease_until), (1, 1, t(31)));
    assert!(fx.store.claim_outbox("other", 10, LEASE, t(30)).await.unwrap().is_empty(), "leased");
    let again = fx.store.claim_outbox("other", 10, LEASE, t(31)).await.unwrap();
    assert_eq!(again.len(), 1, "the lease ran out, so the work is picked up");
    assert_eq!((again[0].referral_id.clone(), again[0].attempt), (ids[0].clone(), 2));
    let late = DispatchOutcome::Delivered { partner_reference: "late".into() };
    assert!(
        !fx.store.finish_outbox(first[0].id, "crashed", late, t(40)).await.unwrap(),
        "lost its lease"
    );
    let done = DispatchOutcome::Delivered { partner_reference: "P-1".into() };
    assert!(fx.store.finish_outbox(again[0].id, "other", done, t(41)).await.unwrap());
    let stored = fx.store.get_referral(&ids[0]).await.unwrap().unwrap();
    assert_eq!(stored.partner_reference.as_deref(), Some("P-1"));
    assert_eq!((stored.dispatch.state, stored.dispatch.attempts), (OutboxState::Delivered, 2));
}

pub async fn a_sole_daemon_takes_back_the_leases_its_previous_run_left(fx: &Fixture) {
    let case_id = new_case(fx).await;
    fx.store
        .create_referrals(&case_id, vec![referral("p", &[NeedCode::Food], "k")], t(0))
        .await
        .unwrap();
    let hour = Duration::from_secs(3600);
    assert_eq!(fx.store.claim_outbox("killed", 10, hour, t(1)).await.unwrap().len(), 1);
    let taken = fx.store.take_back_leases().await.unwrap();
    let again = fx.store.claim_outbox("restarted", 10, LEASE, t(2)).await.unwrap();
    if fx.is_sqlite() {
        // One daemon's store: the lease of a process that is gone comes back at once, and
        // the attempt the dead claim counted stays counted.
        assert_eq!((taken, again.len()), (1, 1));
        assert_eq!(again[0].attempt, 2);
    } else {
        // Shared by daemons: another one's lease is live until it runs out.
        assert_eq!((taken, again.len()), (0, 0));
    }
}

pub async fn a_retry_waits_for_its_not_before(fx: &Fixture) {
    let case_id = new_case(fx).await;
    let ids = fx
        .store
        .create_referrals(&case_id, vec![referral("p", &[NeedCode::Food], "k")], t(0))
        .await
        .unwrap();
    let item = fx.store.claim_outbox("w", 10, LEASE, t(0)).await.unwrap().remove(0);
    let retry =
        DispatchOutcome::Retry { not_before: t(100), last_error: "partner answered 503".into() };
    assert!(fx.store.finish_outbox(item.id, "w", retry, t(1)).await.unwrap());
    assert!(fx.store.claim_outbox("w", 10, LEASE, t(99)).await.unwrap().is_empty());
    let stored = fx.store.get_referral(&ids[0]).await.unwrap().unwrap();
    assert_eq!(stored.state, TaskState::Draft);
    assert_eq!(stored.dispatch.state, OutboxState::Pending);
    assert_eq!(stored.dispatch.not_before, t(100));
    assert_eq!(stored.dispatch.last_error.as_deref(), Some("partner answered 503"));
    let again = fx.store.claim_outbox("w", 10, LEASE, t(100)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 2);
    assert_eq!(again[0].created_at, t(0), "a retry knows how long the referral has waited");
}

pub async fn delivery_and_failure_update_the_referral(fx: &Fixture) {
    let case_id = new_case(fx).await;
    let new = vec![referral("a", &[NeedCode::Food], "k1"), referral("b", &[NeedCode::Food], "k2")];
    let ids = fx.store.create_referrals(&case_id, new, t(0)).await.unwrap();
    let items = fx.store.claim_outbox("w", 10, LEASE, t(1)).await.unwrap();
    assert_eq!(
        items.iter().map(|i| &i.referral_id).collect::<Vec<_>>(),
        [&ids[0], &ids[1]],
        "oldest first"
    );
    let delivered = DispatchOutcome::Delivered { partner_reference: "HRA-77".into() };
    assert!(fx.store.finish_outbox(items[0].id, "w", delivered.clone(), t(5)).await.unwrap());
    let failed =
        DispatchOutcome::Failed { reason: "partner refused the request as invalid".into() };
    assert!(fx.store.finish_outbox(items[1].id, "w", failed.clone(), t(6)).await.unwrap());
    assert!(
        !fx.store.finish_outbox(items[0].id, "w", delivered, t(7)).await.unwrap(),
        "finished already"
    );

    let ok = fx.store.get_referral(&ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (ok.state, ok.state_changed_at, ok.sent_at),
        (TaskState::Requested, t(5), Some(t(5)))
    );
    assert_eq!(ok.partner_reference.as_deref(), Some("HRA-77"));
    assert_eq!(
        ok.history.last(),
        Some(&change(TaskState::Requested, None, StatusSource::Dispatcher, 5))
    );
    assert_eq!(ok.dispatch.state, OutboxState::Delivered);

    let bad = fx.store.get_referral(&ids[1]).await.unwrap().unwrap();
    assert_eq!(
        (bad.state, bad.reason, bad.sent_at),
        (TaskState::Failed, Some(StatusReason::Other), None)
    );
    assert_eq!(
        bad.history.last().unwrap().note.as_deref(),
        Some("partner refused the request as invalid")
    );
    assert_eq!(bad.dispatch.state, OutboxState::Failed);
    assert!(
        fx.store.claim_outbox("w", 10, LEASE, t(1000)).await.unwrap().is_empty(),
        "nothing left to send"
    );
}

pub async fn a_callback_that_overtakes_the_dispatcher_is_kept(fx: &Fixture) {
    let case_id = new_case(fx).await;
    let ids = fx
        .store
        .create_referrals(&case_id, vec![referral("a", &[NeedCode::Food], "k")], t(0))
        .await
        .unwrap();
    let item = fx.store.claim_outbox("w", 10, LEASE, t(1)).await.unwrap().remove(0);
    let accepted = change(TaskState::Accepted, None, StatusSource::PartnerWebhook, 3);
    assert!(fx.store.record_referral_status(&ids[0], &accepted).await.unwrap());
    let done = DispatchOutcome::Delivered { partner_reference: "P-9".into() };
    assert!(fx.store.finish_outbox(item.id, "w", done, t(5)).await.unwrap());
    let stored = fx.store.get_referral(&ids[0]).await.unwrap().unwrap();
    assert_eq!(stored.state, TaskState::Accepted, "the later delivery record does not undo it");
    assert_eq!((stored.partner_reference.as_deref(), stored.sent_at), (Some("P-9"), Some(t(5))));
    let states: Vec<TaskState> = stored.history.iter().map(|h| h.state).collect();
    assert_eq!(states, [TaskState::Draft, TaskState::Accepted]);
}

pub async fn status_history_ignores_repeats_and_stale_reports(fx: &Fixture) {
    let case_id = new_case(fx).await;
    let ids = fx
        .store
        .create_referrals(&case_id, vec![referral("a", &[NeedCode::Food], "k")], t(0))
        .await
        .unwrap();
    deliver_all(fx, t(10)).await;
    let id = &ids[0];
    let record =
        |c: StatusChange| async move { fx.store.record_referral_status(id, &c).await.unwrap() };
    assert!(record(change(TaskState::Accepted, None, StatusSource::PartnerPoll, 20)).await);
    assert!(
        !record(change(TaskState::Accepted, None, StatusSource::PartnerWebhook, 21)).await,
        "repeat"
    );
    assert!(record(change(TaskState::InProgress, None, StatusSource::PartnerWebhook, 30)).await);
    assert!(
        !record(change(
            TaskState::OnHold,
            Some(StatusReason::Other),
            StatusSource::PartnerPoll,
            25
        ))
        .await,
        "stale"
    );
    let mut completed = change(TaskState::Completed, None, StatusSource::PartnerWebhook, 40);
    completed.note = Some("client housed".into());
    assert!(record(completed.clone()).await);
    let stored = fx.store.get_referral(id).await.unwrap().unwrap();
    let states: Vec<TaskState> = stored.history.iter().map(|h| h.state).collect();
    assert_eq!(
        states,
        [
            TaskState::Draft,
            TaskState::Requested,
            TaskState::Accepted,
            TaskState::InProgress,
            TaskState::Completed
        ]
    );
    assert_eq!(stored.history.last(), Some(&completed));
    assert_eq!((stored.state, stored.state_changed_at), (TaskState::Completed, t(40)));
}

pub async fn a_status_for_an_unknown_referral_is_an_error(fx: &Fixture) {
    let nobody = ReferralId::random();
    let c = change(TaskState::Accepted, None, StatusSource::PartnerWebhook, 1);
    let err = fx.store.record_referral_status(&nobody, &c).await.unwrap_err();
    assert!(matches!(&err, StoreError::UnknownReferral(id) if *id == nobody), "{err}");
}

pub async fn a_partner_event_is_recorded_once_and_forgotten_if_it_fails(fx: &Fixture) {
    let case_id = new_case(fx).await;
    let new = vec![referral("nhs", &[NeedCode::Food], "k1")];
    let id = fx.store.create_referrals(&case_id, new, t(0)).await.unwrap().remove(0);
    deliver_all(fx, t(0)).await;
    let accepted = change(TaskState::Accepted, None, StatusSource::PartnerWebhook, 5);
    let record = |partner: &'static str, webhook: &'static str, id: ReferralId, c: StatusChange| {
        let store = fx.store.clone();
        async move { store.record_partner_event(partner, webhook, &id, &c).await }
    };
    // Recording fails (unknown referral): the id is not remembered, so a retry is processed.
    let err = record("nhs", "msg_1", ReferralId::random(), accepted.clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownReferral(_)), "{err}");
    let first = record("nhs", "msg_1", id.clone(), accepted.clone()).await.unwrap();
    assert_eq!(first, PartnerEvent::Recorded, "not a replay: the failed attempt left no trace");
    assert_eq!(
        record("nhs", "msg_1", id.clone(), accepted.clone()).await.unwrap(),
        PartnerEvent::Replay
    );
    assert_eq!(
        record("nhs", "msg_2", id.clone(), accepted.clone()).await.unwrap(),
        PartnerEvent::Unchanged,
        "a new id telling nothing new"
    );
    assert_eq!(
        record("foodbank", "msg_1", id.clone(), accepted).await.unwrap(),
        PartnerEvent::Unchanged,
        "ids are per partner"
    );
    let stored = fx.store.get_referral(&id).await.unwrap().unwrap();
    assert_eq!(stored.state, TaskState::Accepted);
    let accepted_rows = stored.history.iter().filter(|h| h.state == TaskState::Accepted).count();
    assert_eq!(accepted_rows, 1, "one history row however often it was reported");
}

pub async fn stuck_referrals_are_found_by_state_and_age(fx: &Fixture) {
    let case_id = new_case(fx).await;
    let mut ids = Vec::new();
    for (i, at) in [0, 100, 200].into_iter().enumerate() {
        let new = vec![referral("p", &[NeedCode::Food], &format!("k{i}"))];
        ids.extend(fx.store.create_referrals(&case_id, new, t(at)).await.unwrap());
        deliver_all(fx, t(at)).await;
    }
    let accepted = change(TaskState::Accepted, None, StatusSource::PartnerPoll, 250);
    fx.store.record_referral_status(&ids[2], &accepted).await.unwrap();
    let stuck = fx.store.referrals_stuck(TaskState::Requested, t(150), 10).await.unwrap();
    assert_eq!(stuck.iter().map(|s| &s.referral_id).collect::<Vec<_>>(), [&ids[0], &ids[1]]);
    assert_eq!(
        (stuck[0].since, stuck[0].state, stuck[0].case_id.clone()),
        (t(0), TaskState::Requested, case_id)
    );
    assert_eq!(fx.store.referrals_stuck(TaskState::Requested, t(50), 10).await.unwrap().len(), 1);
    assert_eq!(
        fx.store.referrals_stuck(TaskState::Requested, t(150), 1).await.unwrap()[0].referral_id,
        ids[0]
    );
    assert!(fx.store.referrals_stuck(TaskState::Requested, t(0), 10).await.unwrap().is_empty());
}

pub async fn pathway_stats_count_a_small_dataset(fx: &Fixture) {
    use NeedCode::{Food, HousingHomelessness as Housing};
    use StatusSource::PartnerWebhook as Hook;
    use TaskState::{Accepted, Completed, InProgress, Rejected};
    let case_id = new_case(fx).await;
    let batch = (1..=5)
        .map(|i| referral("housing-a", &[Housing], &format!("h{i}")))
        .chain([referral("foodbank-b", &[Food, Housing], "f6")]);
    let ids = fx.store.create_referrals(&case_id, batch.collect(), t(0)).await.unwrap();
    deliver_all(fx, t(0)).await;
    // Delivered after the range, and never delivered: neither counts.
    fx.store
        .create_referrals(&case_id, vec![referral("foodbank-b", &[Food], "late")], t(0))
        .await
        .unwrap();
    deliver_all(fx, t(10_000)).await;
    fx.store
        .create_referrals(&case_id, vec![referral("foodbank-b", &[Food], "draft")], t(0))
        .await
        .unwrap();

    let no_capacity = Some(StatusReason::NoCapacity);
    let events = [
        (0, change(Accepted, None, Hook, 100)),
        (0, change(Completed, None, Hook, 1000)),
        (1, change(Rejected, no_capacity, Hook, 50)),
        (2, change(InProgress, None, Hook, 300)),
        (3, change(Rejected, no_capacity, Hook, 60)),
        (4, change(Rejected, Some(StatusReason::NotEligible), Hook, 70)),
        (5, change(InProgress, None, Hook, 40)),
    ];
    for (i, c) in events {
        assert!(fx.store.record_referral_status(&ids[i], &c).await.unwrap());
    }
    let rows = fx.store.pathway_stats(t(0), t(5000), None).await.unwrap();
    let food_bank = |need| PathwayStatsRow {
        partner_id: "foodbank-b".into(),
        need,
        sent: 1,
        accepted: 1,
        rejected_by_reason: vec![],
        completed: 0,
        median_secs_to_acceptance: Some(40),
        median_secs_to_completion: None,
    };
    let housing = PathwayStatsRow {
        partner_id: "housing-a".into(),
        need: Housing,
        sent: 5,
        accepted: 2,
        rejected_by_reason: vec![
            ReasonCount { reason: StatusReason::NoCapacity, count: 2 },
            ReasonCount { reason: StatusReason::NotEligible, count: 1 },
        ],
        completed: 1,
        median_secs_to_acceptance: Some(200),
        median_secs_to_completion: Some(1000),
    };
    assert_eq!(rows, [food_bank(Food), food_bank(Housing), housing]);
    assert!(
        fx.store.pathway_stats(t(1), t(5000), None).await.unwrap().is_empty(),
        "range starts after delivery"
    );
}

pub async fn referrals_are_found_by_key_and_by_their_partners_reference_only(fx: &Fixture) {
    let case_id = new_case(fx).await;
    let new = vec![
        referral("foodbank-b", &[NeedCode::Food], "k1"),
        referral("housing-a", &[NeedCode::HousingHomelessness], "k2"),
    ];
    let ids = fx.store.create_referrals(&case_id, new, t(0)).await.unwrap();
    assert_eq!(fx.store.find_referral_by_key("k2").await.unwrap(), Some(ids[1].clone()));
    assert_eq!(fx.store.find_referral_by_key("k3").await.unwrap(), None);
    assert_eq!(fx.store.outbox_depth().await.unwrap(), 2);
    let items = fx.store.claim_outbox("w", 1, LEASE, t(1)).await.unwrap();
    let outcome = DispatchOutcome::Delivered { partner_reference: "REF-9".into() };
    assert!(fx.store.finish_outbox(items[0].id, "w", outcome, t(1)).await.unwrap());
    assert_eq!(fx.store.outbox_depth().await.unwrap(), 1, "the delivered row left the depth");
    let partner = items[0].partner_id.clone();
    let other = if partner == "foodbank-b" { "housing-a" } else { "foodbank-b" };
    let found = fx.store.find_referral_by_partner_reference(&partner, "REF-9").await.unwrap();
    assert_eq!(found, Some(items[0].referral_id.clone()));
    let foreign = fx.store.find_referral_by_partner_reference(other, "REF-9").await.unwrap();
    assert_eq!(foreign, None, "another partner's reference names nothing");
}
