//! What the dispatcher's per-partner lanes ask of the store: claims within each partner's
//! room, and every open referral listed, page by page, for status polling.

use std::collections::BTreeSet;
use std::time::Duration;

use pathways_core::{CancelReason, NeedCode, TaskState};
use pathways_store::{
    CancelOrder, CancelRequested, CaseId, DispatchOutcome, PartnerRoom, ReferralId, StatusChange,
    StatusSource,
};

use crate::data::{case, referral, t};
use crate::fixtures::Fixture;

const LEASE: Duration = Duration::from_secs(30);

/// `count` referrals to `partner`, queued at `at`.
async fn queue(fx: &Fixture, partner: &str, count: usize, at: i64) -> Vec<ReferralId> {
    let case_id: CaseId = fx.store.insert_case("citizens-advice-kc", &case()).await.unwrap();
    let new =
        (0..count).map(|i| referral(partner, &[NeedCode::Food], &format!("{partner}-{at}-{i}")));
    fx.store.create_referrals(&case_id, new.collect(), t(at)).await.unwrap()
}

/// Claims everything due at `at` and marks it delivered then.
async fn deliver_all(fx: &Fixture, at: i64) {
    for item in fx.store.claim_outbox("w", 1000, LEASE, t(at)).await.unwrap() {
        let outcome = DispatchOutcome::Delivered { partner_reference: format!("P-{}", item.id) };
        assert!(fx.store.finish_outbox(item.id, "w", outcome, t(at)).await.unwrap());
    }
}

fn room(of: &[(&str, u32)]) -> PartnerRoom {
    let mut room = PartnerRoom::default();
    for (partner, free) in of {
        room.set(*partner, *free);
    }
    room
}

pub async fn a_claim_takes_no_more_of_a_partner_than_its_room(fx: &Fixture) {
    // The hung partner's referrals are the oldest: a plain claim would take them first.
    let hung = queue(fx, "hung", 6, 0).await;
    queue(fx, "fb", 3, 1).await;
    queue(fx, "nhs", 2, 2).await;
    let full = room(&[("hung", 0), ("fb", 2)]);
    let items = fx.store.claim_outbox_within("w", 10, LEASE, t(5), &full).await.unwrap();
    let partners: Vec<&str> = items.iter().map(|i| i.partner_id.as_str()).collect();
    assert_eq!(partners, ["fb", "fb", "nhs", "nhs"], "oldest first within each partner's room");
    assert!(items.iter().all(|i| i.attempt == 1 && i.lease_until == t(35)));
    // The hung partner's rows were not touched: unleased, no attempt spent.
    let untouched = fx.store.get_referral(&hung[0]).await.unwrap().unwrap();
    assert_eq!(untouched.dispatch.attempts, 0);
    // Its next claim, with room for one, takes its oldest; a claim's limit still holds.
    let one = room(&[("hung", 1), ("fb", 5)]);
    let items = fx.store.claim_outbox_within("v", 3, LEASE, t(6), &one).await.unwrap();
    let got: Vec<(&str, &ReferralId)> =
        items.iter().map(|i| (i.partner_id.as_str(), &i.referral_id)).collect();
    assert_eq!(got.len(), 2, "one of hung's and fb's last: {got:?}");
    assert_eq!(got[0], ("hung", &hung[0]));
    assert_eq!(got[1].0, "fb");
    // Unlimited room is a plain claim.
    let unlimited = PartnerRoom::default();
    let rest = fx.store.claim_outbox_within("u", 100, LEASE, t(7), &unlimited).await.unwrap();
    assert_eq!(rest.len(), 5, "hung's other five");
}

pub async fn cancels_are_claimed_within_their_partners_room(fx: &Fixture) {
    let hung = queue(fx, "hung", 2, 0).await;
    let fb = queue(fx, "fb", 1, 0).await;
    deliver_all(fx, 1).await;
    let order = CancelOrder {
        reason: CancelReason::NoLongerNeeded,
        note: None,
        requested_by: "usr_pathfinder".into(),
    };
    for id in hung.iter().chain(&fb) {
        let queued = fx.store.request_cancel(id, &order, t(2)).await.unwrap();
        assert_eq!(queued, Some(CancelRequested::Queued));
    }
    let items =
        fx.store.claim_cancels_within("w", 10, LEASE, t(3), &room(&[("hung", 0)])).await.unwrap();
    assert_eq!(items.iter().map(|i| i.referral_id.clone()).collect::<Vec<_>>(), fb);
    let waiting = fx.store.get_referral(&hung[0]).await.unwrap().unwrap().cancellation.unwrap();
    assert_eq!(waiting.attempts, 0, "left unclaimed and unspent");
    let items =
        fx.store.claim_cancels_within("w", 10, LEASE, t(4), &room(&[("hung", 1)])).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].partner_id, "hung");
    assert_eq!(items[0].attempt, 1);
}

pub async fn every_open_referral_is_listed_once_page_by_page(fx: &Fixture) {
    let delivered = queue(fx, "fb", 23, 0).await;
    let other = queue(fx, "nhs", 9, 0).await;
    deliver_all(fx, 1).await;
    // Not delivered yet: nothing to poll.
    queue(fx, "fb", 4, 2).await;
    // Moved on by the partner: still open when accepted or on hold, not once completed.
    let accepted = StatusChange {
        state: TaskState::Accepted,
        reason: None,
        note: None,
        source: StatusSource::PartnerPoll,
        at: t(3),
    };
    fx.store.record_referral_status(&delivered[0], &accepted).await.unwrap();
    let completed = StatusChange { state: TaskState::Completed, ..accepted.clone() };
    fx.store.record_referral_status(&delivered[1], &completed).await.unwrap();

    let mut listed = Vec::new();
    let mut after: Option<ReferralId> = None;
    loop {
        let page = fx.store.open_referrals_after(after.as_ref(), 7).await.unwrap();
        assert!(page.len() <= 7);
        let Some(last) = page.last() else { break };
        after = Some(last.referral_id.clone());
        listed.extend(page);
    }
    let ids: Vec<&str> = listed.iter().map(|r| r.referral_id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "by id, each once");
    let expected: BTreeSet<&str> = delivered
        .iter()
        .chain(&other)
        .filter(|id| **id != delivered[1])
        .map(ReferralId::as_str)
        .collect();
    assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), expected);
    let first = listed.iter().find(|r| r.referral_id == delivered[0]).unwrap();
    assert_eq!(first.state, TaskState::Accepted);
    assert_eq!(first.partner_id, "fb");
    assert!(first.partner_reference.starts_with("P-"));
    assert_eq!(first.idempotency_key, "fb-0-0");
}

pub async fn a_stalled_partners_backlog_is_deferred_and_its_oldest_stay_due(fx: &Fixture) {
    const LONG: Duration = Duration::from_secs(100);
    let hung = queue(fx, "hung", 6, 0).await;
    queue(fx, "fb", 2, 1).await;
    // One of the hung partner's is in flight (claimed).
    let sending = fx.store.claim_outbox_within("w", 1, LONG, t(5), &room(&[("fb", 0)])).await;
    assert_eq!(sending.unwrap()[0].referral_id, hung[0]);
    // Its other five are due: all but the two oldest move to t(60).
    assert_eq!(fx.store.defer_outbox("hung", 2, t(60), t(5)).await.unwrap(), 3);
    for id in &hung[3..] {
        let dispatch = fx.store.get_referral(id).await.unwrap().unwrap().dispatch;
        assert_eq!((dispatch.not_before, dispatch.attempts), (t(60), 0), "unclaimed, unspent");
    }
    let due = fx.store.claim_outbox("v", 100, LONG, t(6)).await.unwrap();
    let due: Vec<(&str, &ReferralId)> =
        due.iter().map(|i| (i.partner_id.as_str(), &i.referral_id)).collect();
    assert_eq!(due.len(), 4, "{due:?}");
    assert_eq!(&due[..2], [("hung", &hung[1]), ("hung", &hung[2])]);
    assert!(due[2..].iter().all(|(p, _)| *p == "fb"));
    assert_eq!(fx.store.defer_outbox("hung", 0, t(90), t(7)).await.unwrap(), 0, "none due");
    assert_eq!(fx.store.claim_outbox("v", 100, LONG, t(60)).await.unwrap().len(), 3);
}

pub async fn a_claim_whose_partner_was_not_called_is_given_back_unspent(fx: &Fixture) {
    let ids = queue(fx, "fb", 1, 0).await;
    let item = fx.store.claim_outbox("w", 1, LEASE, t(1)).await.unwrap().remove(0);
    assert_eq!(item.attempt, 1);
    let not_held = fx.store.release_outbox(item.id, "other", t(40), "x", t(2)).await.unwrap();
    assert!(!not_held, "only the worker holding it gives it back");
    let why = "circuit open: not called";
    assert!(fx.store.release_outbox(item.id, "w", t(40), why, t(2)).await.unwrap());
    let dispatch = fx.store.get_referral(&ids[0]).await.unwrap().unwrap().dispatch;
    assert_eq!((dispatch.attempts, dispatch.not_before), (0, t(40)));
    assert_eq!(dispatch.last_error.as_deref(), Some(why));
    assert!(fx.store.claim_outbox("w", 1, LEASE, t(39)).await.unwrap().is_empty());
    let again = fx.store.claim_outbox("w", 1, LEASE, t(40)).await.unwrap();
    assert_eq!(again[0].attempt, 1, "the same attempt, made now");
    let delivered = DispatchOutcome::Delivered { partner_reference: "P-1".into() };
    assert!(fx.store.finish_outbox(again[0].id, "w", delivered, t(41)).await.unwrap());

    // A cancel the same way.
    let order = CancelOrder {
        reason: CancelReason::NoLongerNeeded,
        note: None,
        requested_by: "usr_pathfinder".into(),
    };
    fx.store.request_cancel(&ids[0], &order, t(42)).await.unwrap();
    let cancel = fx.store.claim_cancels("w", 1, LEASE, t(43)).await.unwrap().remove(0);
    assert_eq!(cancel.attempt, 1);
    assert!(!fx.store.release_cancel(&ids[0], "other", t(90), why, t(44)).await.unwrap());
    assert!(fx.store.release_cancel(&ids[0], "w", t(90), why, t(44)).await.unwrap());
    let stored = fx.store.get_referral(&ids[0]).await.unwrap().unwrap().cancellation.unwrap();
    assert_eq!(stored.attempts, 0);
    assert_eq!(stored.last_error.as_deref(), Some(why));
    assert!(fx.store.claim_cancels("w", 1, LEASE, t(89)).await.unwrap().is_empty());
    assert_eq!(fx.store.claim_cancels("w", 1, LEASE, t(90)).await.unwrap()[0].attempt, 1);
}
