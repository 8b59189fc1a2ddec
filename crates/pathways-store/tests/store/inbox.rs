//! Partners without an API (kind `inbox`): the capacity their staff set, and their answers to
//! referrals recorded as status changes of their own source.

use std::time::Duration;

use pathways_core::{NeedCode, StatusReason, TaskState};
use pathways_store::{CapacityState, DispatchOutcome, PartnerCapacity, StatusChange, StatusSource};

use crate::data::{case, referral, t};
use crate::fixtures::Fixture;

fn capacity(partner: &str, state: CapacityState, count: Option<u32>, at: i64) -> PartnerCapacity {
    PartnerCapacity {
        partner_id: partner.into(),
        state,
        count,
        note: Some("next group starts in 3 weeks".into()),
        set_by: "usr_staff".into(),
        set_at: t(at),
    }
}

pub async fn an_inbox_partners_capacity_is_replaced_and_kept_per_partner(fx: &Fixture) {
    assert_eq!(fx.store.partner_capacity("befriending").await.unwrap(), None, "never set");
    let places = capacity("befriending", CapacityState::Places, Some(4), 0);
    fx.store.set_partner_capacity(&places).await.unwrap();
    let other = capacity("lunch-club", CapacityState::Waitlist, Some(12), 1);
    fx.store.set_partner_capacity(&other).await.unwrap();
    assert_eq!(fx.store.partner_capacity("befriending").await.unwrap(), Some(places));
    let closed = PartnerCapacity {
        note: None,
        count: None,
        ..capacity("befriending", CapacityState::Closed, None, 5)
    };
    fx.store.set_partner_capacity(&closed).await.unwrap();
    assert_eq!(fx.store.partner_capacity("befriending").await.unwrap(), Some(closed));
    assert_eq!(fx.store.partner_capacity("lunch-club").await.unwrap(), Some(other));
    assert_eq!(fx.raw_count("partner_capacity").await, 2, "one row per partner");
    // A second daemon on the same database reads what the first one wrote.
    let again = fx.reopen().await;
    assert_eq!(again.partner_capacity("lunch-club").await.unwrap().unwrap().count, Some(12));
}

pub async fn an_inbox_partners_answers_are_partner_reports_in_the_history(fx: &Fixture) {
    let case_id = fx.store.insert_case("citizens-advice-kc", &case()).await.unwrap();
    let ids = fx
        .store
        .create_referrals(&case_id, vec![referral("inbox", &[NeedCode::Food], "k-inbox")], t(0))
        .await
        .unwrap();
    let id = &ids[0];
    for item in fx.store.claim_outbox("w", 10, Duration::from_secs(30), t(1)).await.unwrap() {
        let outcome = DispatchOutcome::Delivered { partner_reference: id.to_string() };
        assert!(fx.store.finish_outbox(item.id, "w", outcome, t(1)).await.unwrap());
    }
    let staff = |state, reason, at| StatusChange {
        state,
        reason,
        note: Some("spoke to them on the phone".into()),
        source: StatusSource::PartnerInbox,
        at: t(at),
    };
    assert!(fx
        .store
        .record_referral_status(id, &staff(TaskState::Accepted, None, 10))
        .await
        .unwrap());
    // A poll that read the state before staff changed it comes late: it is a partner report
    // older than the newest, and must not undo the staff's answer.
    let late_poll = StatusChange {
        state: TaskState::Requested,
        reason: None,
        note: None,
        source: StatusSource::PartnerPoll,
        at: t(1),
    };
    assert!(!fx.store.record_referral_status(id, &late_poll).await.unwrap());
    let failed = staff(TaskState::Failed, Some(StatusReason::CouldNotContact), 20);
    assert!(fx.store.record_referral_status(id, &failed).await.unwrap());
    let stored = fx.store.get_referral(id).await.unwrap().unwrap();
    assert_eq!(
        (stored.state, stored.reason),
        (TaskState::Failed, Some(StatusReason::CouldNotContact))
    );
    let sources: Vec<StatusSource> = stored.history.iter().map(|h| h.source).collect();
    assert_eq!(
        sources,
        [
            StatusSource::Referrer,
            StatusSource::Dispatcher,
            StatusSource::PartnerInbox,
            StatusSource::PartnerInbox
        ]
    );
    assert_eq!(stored.history[2].note.as_deref(), Some("spoke to them on the phone"));
    let raw = fx.raw_text("SELECT source FROM referral_history ORDER BY at").await;
    assert!(raw.contains(&Some("partner_inbox".to_string())), "{raw:?}");
}
