//! Cases, plans, the audit log, idempotency keys, and what `Debug` shows.

use std::sync::Arc;

use std::time::Duration;

use chrono::Utc;
use pathways_core::{NeedCode, Personal, StatusReason, TaskState};
use pathways_store::{
    AuditAction, AuditFilter, AuditOutcome, CaseId, IdempotencyOutcome, NewSession, NewUser,
    ReferralId, StatusChange, StatusSource, StoreError, StoredResponse,
};

use crate::data::{audit, case, plan, referral, t, PERSONAL};
use crate::fixtures::Fixture;

/// A `stale_after` that makes no claim stale.
const NEVER: Duration = Duration::MAX;

pub async fn a_case_round_trips_with_a_server_assigned_id(fx: &Fixture) {
    let before = Utc::now() - chrono::Duration::seconds(1);
    let a = fx.store.insert_case("citizens-advice-kc", &case()).await.unwrap();
    let b = fx.store.insert_case("citizens-advice-kc", &case()).await.unwrap();
    assert_ne!(a, b, "each insert gets its own id");
    let stored = fx.store.get_case(&a).await.unwrap().expect("the case is there");
    assert_eq!(stored.id, a);
    assert_eq!(stored.organisation, "citizens-advice-kc");
    assert_eq!(stored.case, case(), "personal fields survive the round trip");
    assert!(stored.created_at >= before && stored.created_at <= Utc::now());
}

pub async fn unknown_ids_read_as_absent(fx: &Fixture) {
    let nobody = CaseId::random();
    assert!(fx.store.get_case(&nobody).await.unwrap().is_none());
    assert!(fx.store.latest_plan(&nobody).await.unwrap().is_none());
    assert!(fx.store.plans_of_case(&nobody).await.unwrap().is_empty());
    assert!(fx.store.get_referral(&ReferralId::random()).await.unwrap().is_none());
    fx.store.ping().await.unwrap();
}

pub async fn the_newest_plan_wins_and_every_plan_is_kept(fx: &Fixture) {
    let id = fx.store.insert_case("citizens-advice-kc", &case()).await.unwrap();
    fx.store
        .insert_plan(&id, &plan("lead-a", "housing-a"), &serde_json::Value::Null)
        .await
        .unwrap();
    fx.store
        .insert_plan(&id, &plan("lead-b", "housing-b"), &serde_json::Value::Null)
        .await
        .unwrap();
    let latest = fx.store.latest_plan(&id).await.unwrap().expect("a plan");
    assert_eq!(latest.plan, plan("lead-b", "housing-b"));
    assert_eq!(latest.case_id, id);
    let all: Vec<_> =
        fx.store.plans_of_case(&id).await.unwrap().into_iter().map(|p| p.plan).collect();
    assert_eq!(all, [plan("lead-a", "housing-a"), plan("lead-b", "housing-b")], "oldest first");
}

pub async fn a_plan_for_an_unknown_case_is_refused(fx: &Fixture) {
    let nobody = CaseId::random();
    let err =
        fx.store.insert_plan(&nobody, &plan("l", "h"), &serde_json::Value::Null).await.unwrap_err();
    assert!(matches!(&err, StoreError::UnknownCase(id) if *id == nobody), "{err}");
}

pub async fn opening_again_finds_the_schema_migrated_and_the_data_intact(fx: &Fixture) {
    let id = fx.store.insert_case("org", &case()).await.unwrap();
    // Two daemons starting at once, after the first: migrations must neither fail nor repeat.
    let (second, third) = tokio::join!(fx.reopen(), fx.reopen());
    assert_eq!(second.get_case(&id).await.unwrap().expect("kept").case, case());
    third.insert_case("org", &case()).await.unwrap();
    assert_eq!(fx.raw_count("schema_migrations").await, crate::fixtures::SCHEMA_VERSION);
    assert_eq!(fx.raw_count("cases").await, 2);
}

pub async fn audit_entries_round_trip_and_filter(fx: &Fixture) {
    let case_id = CaseId::random();
    let mut first = audit("org-a", AuditAction::CaseCreate, t(0));
    first.case_id = Some(case_id.clone());
    fx.store.append_audit(&first).await.unwrap();
    fx.store.append_audit(&audit("org-b", AuditAction::CaseRead, t(1))).await.unwrap();
    let mut third = audit("org-a", AuditAction::ReferralRead, t(2));
    third.referral_id = Some(ReferralId::random());
    third.outcome = AuditOutcome::NotFound;
    fx.store.append_audit(&third).await.unwrap();

    let all = fx.store.audit_entries(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|r| &r.entry).collect::<Vec<_>>(),
        [&first, &audit("org-b", AuditAction::CaseRead, t(1)), &third]
    );
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "oldest first");

    let org_a = AuditFilter { organisation: Some("org-a".into()), ..AuditFilter::default() };
    assert_eq!(fx.store.audit_entries(&org_a).await.unwrap().len(), 2);
    let by_case = AuditFilter { case_id: Some(case_id), ..AuditFilter::default() };
    assert_eq!(fx.store.audit_entries(&by_case).await.unwrap()[0].entry, first);
    let page = AuditFilter { after_seq: Some(all[0].seq), limit: 1, ..AuditFilter::default() };
    let page = fx.store.audit_entries(&page).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].seq, all[1].seq);
}

pub async fn the_audit_table_rejects_update_and_delete(fx: &Fixture) {
    fx.store.append_audit(&audit("org-a", AuditAction::CaseRead, t(0))).await.unwrap();
    let update = fx.raw_execute("UPDATE audit_log SET outcome = 'forged'").await;
    let err = update.expect_err("an UPDATE of the audit log must fail");
    assert!(err.contains("append-only"), "{err}");
    let err = fx.raw_execute("DELETE FROM audit_log").await.expect_err("a DELETE must fail");
    assert!(err.contains("append-only"), "{err}");
    let entries = fx.store.audit_entries(&AuditFilter::default()).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].entry.outcome, AuditOutcome::Ok);
    // Appending still works after the refused statements.
    fx.store.append_audit(&audit("org-a", AuditAction::CaseRead, t(1))).await.unwrap();
}

pub async fn audit_entries_with_free_text_are_refused(fx: &Fixture) {
    let mut entry = audit("org-a", AuditAction::CaseRead, t(0));
    entry.organisation = "denied: Daniel Okafor".into();
    let err = fx.store.append_audit(&entry).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidAuditField { field: "organisation" }), "{err}");
    assert!(fx.store.audit_entries(&AuditFilter::default()).await.unwrap().is_empty());
}

/// The log is read back through the vocabulary: a row whose action or outcome it does not
/// have (written by hand, or by a newer version) is corrupt, named by its position and never
/// quoted; a spelling written before the vocabulary was one enum still reads.
pub async fn audit_codes_outside_the_vocabulary_read_back_as_corrupt(fx: &Fixture) {
    let mut entry = audit("org-a", AuditAction::PartnerEvent, t(0));
    entry.outcome = AuditOutcome::Replayed;
    fx.store.append_audit(&entry).await.unwrap();
    // Copies of the row with one column changed: the same SQL on both backends.
    let copy = |column: &str, value: &str| {
        let (action, outcome) = match column {
            "action" => (format!("'{value}'"), "outcome".to_string()),
            _ => ("action".to_string(), format!("'{value}'")),
        };
        format!(
            "INSERT INTO audit_log (at, key_id, organisation, action, outcome) \
             SELECT at, key_id, organisation, {action}, {outcome} FROM audit_log WHERE seq = \
             (SELECT MIN(seq) FROM audit_log)"
        )
    };
    fx.raw_execute(&copy("outcome", "replay")).await.unwrap();
    let all = fx.store.audit_entries(&AuditFilter::default()).await.unwrap();
    let outcomes: Vec<_> = all.iter().map(|r| r.entry.outcome).collect();
    assert_eq!(outcomes, [AuditOutcome::Replayed, AuditOutcome::Replayed], "`replay` is former");

    // Each bad row is read after the one before it, so each error is about its own row.
    let mut after = all.last().unwrap().seq;
    for (column, value) in [("action", "case.forged"), ("outcome", "Daniel Okafor")] {
        fx.raw_execute(&copy(column, value)).await.unwrap();
        let filter = AuditFilter { after_seq: Some(after), ..AuditFilter::default() };
        let err = fx.store.audit_entries(&filter).await.unwrap_err();
        match &err {
            StoreError::Corrupt { what: "audit entry", id, problem } => {
                assert!(problem.contains(column), "{err}");
                after = id.parse().unwrap();
            }
            other => panic!("{column}: {other}"),
        }
        assert!(!err.to_string().contains(value), "the stored value is not quoted: {err}");
    }
    // The good entries before them still read when the page stops short of them.
    let before = AuditFilter { limit: 2, ..AuditFilter::default() };
    assert_eq!(fx.store.audit_entries(&before).await.unwrap().len(), 2);
}

pub async fn an_idempotency_key_goes_from_started_to_completed(fx: &Fixture) {
    let s = &fx.store;
    let (scope, key) = ("org-a:referrals", "key-1");
    assert_eq!(
        s.begin_idempotent(scope, key, "fp-1", NEVER).await.unwrap(),
        IdempotencyOutcome::Started
    );
    assert!(matches!(
        s.begin_idempotent(scope, key, "fp-1", NEVER).await.unwrap(),
        IdempotencyOutcome::InFlight { .. }
    ));
    assert_eq!(
        s.begin_idempotent(scope, key, "fp-2", NEVER).await.unwrap(),
        IdempotencyOutcome::Mismatch
    );
    // The same key in another scope (another organisation) is another key.
    assert_eq!(
        s.begin_idempotent("org-b:referrals", key, "fp-9", NEVER).await.unwrap(),
        IdempotencyOutcome::Started
    );

    let response = StoredResponse { status: 201, body: br#"{"referrals":["r1"]}"#.to_vec() };
    s.complete_idempotent(scope, key, &response).await.unwrap();
    assert_eq!(
        s.begin_idempotent(scope, key, "fp-1", NEVER).await.unwrap(),
        IdempotencyOutcome::Completed(response.clone())
    );
    assert_eq!(
        s.begin_idempotent(scope, key, "fp-2", NEVER).await.unwrap(),
        IdempotencyOutcome::Mismatch
    );
    let again = s.complete_idempotent(scope, key, &response).await.unwrap_err();
    assert!(matches!(again, StoreError::IdempotencyNotInFlight { .. }), "{again}");
    s.abandon_idempotent(scope, key).await.unwrap();
    assert!(
        matches!(
            s.begin_idempotent(scope, key, "fp-1", NEVER).await.unwrap(),
            IdempotencyOutcome::Completed(_)
        ),
        "abandon leaves a completed key alone"
    );

    // A failed attempt is abandoned, and the client's retry starts afresh.
    assert_eq!(
        s.begin_idempotent(scope, "key-2", "fp", NEVER).await.unwrap(),
        IdempotencyOutcome::Started
    );
    s.abandon_idempotent(scope, "key-2").await.unwrap();
    assert_eq!(
        s.begin_idempotent(scope, "key-2", "fp", NEVER).await.unwrap(),
        IdempotencyOutcome::Started
    );
    let never = s.complete_idempotent(scope, "never-begun", &response).await.unwrap_err();
    assert!(matches!(never, StoreError::IdempotencyNotInFlight { .. }), "{never}");
}

pub async fn a_stale_claim_is_taken_over_by_exactly_one_caller(fx: &Fixture) {
    let second = fx.reopen().await;
    let (scope, key) = ("org-a:referrals", "stale-key");
    let begin = |store: Arc<dyn pathways_store::Store>, body: &'static str, stale: Duration| async move {
        store.begin_idempotent(scope, key, body, stale).await.unwrap()
    };
    let stale_after = Duration::from_millis(500);
    assert_eq!(begin(fx.store.clone(), "fp", NEVER).await, IdempotencyOutcome::Started);
    assert!(
        matches!(
            begin(fx.store.clone(), "fp", stale_after).await,
            IdempotencyOutcome::InFlight { .. }
        ),
        "a fresh claim is in flight"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        begin(fx.store.clone(), "another body", stale_after).await,
        IdempotencyOutcome::Mismatch,
        "another request never takes a key over"
    );
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let store = if i % 2 == 0 { Arc::clone(&fx.store) } else { Arc::clone(&second) };
            tokio::spawn(begin(store, "fp", stale_after))
        })
        .collect();
    let (mut taken, mut in_flight) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            IdempotencyOutcome::TakenOver { .. } => taken += 1,
            IdempotencyOutcome::InFlight { .. } => in_flight += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((taken, in_flight), (1, 11), "exactly one caller takes a dead request's key over");
    let response = StoredResponse { status: 202, body: b"{}".to_vec() };
    fx.store.complete_idempotent(scope, key, &response).await.unwrap();
    assert_eq!(
        begin(fx.store.clone(), "fp", Duration::ZERO).await,
        IdempotencyOutcome::Completed(response),
        "a finished request is never taken over"
    );
}

pub async fn concurrent_begins_of_one_key_start_exactly_once(fx: &Fixture) {
    let second = fx.reopen().await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            // Half the callers go through a second store instance, as a second daemon would.
            let store = if i % 2 == 0 { Arc::clone(&fx.store) } else { Arc::clone(&second) };
            tokio::spawn(async move {
                store.begin_idempotent("org-a:referrals", "same-key", "fp", NEVER).await
            })
        })
        .collect();
    let mut started = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            IdempotencyOutcome::Started => started += 1,
            IdempotencyOutcome::InFlight { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started, 1);
}

pub async fn debug_of_stored_types_shows_no_personal_data(fx: &Fixture) {
    let case_id = fx.store.insert_case("org", &case()).await.unwrap();
    let new = referral("housing-a", &[NeedCode::HousingHomelessness, NeedCode::Food], "k-debug");
    let mut printed = vec![format!("{new:?}")];
    let ids = fx.store.create_referrals(&case_id, vec![new], t(0)).await.unwrap();
    let change = StatusChange {
        state: TaskState::Rejected,
        reason: Some(StatusReason::NotEligible),
        note: Some("Daniel Okafor has not eaten since Monday".into()),
        source: StatusSource::PartnerWebhook,
        at: t(5),
    };
    fx.store.record_referral_status(&ids[0], &change).await.unwrap();
    printed.push(format!("{change:?}"));
    printed.push(format!("{:?}", fx.store.get_case(&case_id).await.unwrap().unwrap()));
    printed.push(format!("{:#?}", fx.store.get_referral(&ids[0]).await.unwrap().unwrap()));
    printed.push(format!(
        "{:?}",
        fx.store.claim_outbox("w", 10, std::time::Duration::from_secs(30), t(1)).await.unwrap()
    ));
    printed.push(format!("{:?}", fx.store));
    // A console user named and addressed as the client is: neither shows, nor the hash.
    let user = NewUser {
        organisation: "org".into(),
        role: "pathfinder".into(),
        email: Personal::new("daniel.okafor@example.org".into()),
        display_name: Some(Personal::new("Daniel Okafor".into())),
    };
    printed.push(format!("{user:?}"));
    let user_id = fx.store.insert_user(&user, t(0)).await.unwrap();
    fx.store.set_password(&user_id, "$argon2id$secret-hash", t(1)).await.unwrap();
    fx.store.set_oidc_subject(&user_id, Some("https://idp|daniel")).await.unwrap();
    let stored = fx.store.get_user(&user_id).await.unwrap().unwrap();
    printed.push(format!("{stored:?}"));
    let session = NewSession {
        id_hash: "session-hash-secret".into(),
        user_id: user_id.clone(),
        created_at: t(2),
        expires_at: t(3),
    };
    printed.push(format!("{session:?}"));
    fx.store.insert_session(&session).await.unwrap();
    printed.push(format!("{:?}", fx.store.get_session("session-hash-secret").await.unwrap()));
    for text in &printed {
        for secret in ["argon2id", "secret", "idp|daniel"] {
            assert!(!text.contains(secret), "`{secret}` leaked into {text}");
        }
    }
    for text in &printed {
        assert!(
            ["housing-a", "Store", "Rejected", "usr_", "[redacted]"]
                .iter()
                .any(|c| text.contains(c)),
            "printed something: {text}"
        );
        for personal in PERSONAL {
            assert!(!text.contains(personal), "`{personal}` leaked into {text}");
        }
    }
}
