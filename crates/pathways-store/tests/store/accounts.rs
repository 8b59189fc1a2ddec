//! The web console's records: users (their addresses sealed), setup links, sign-in lockout,
//! sessions shared by daemons, and the case list with what needs attention.

use std::sync::Arc;
use std::time::Duration;

use pathways_core::{NeedCode, Personal, StatusReason, TaskState};
use pathways_store::{
    AccountStatus, CaseId, DataKeys, ErasureReason, NewSession, NewUser, ReferralId, StatusChange,
    StatusSource, Store, StoreError, UserId,
};

use crate::data::{case, plan, referral, t};
use crate::fixtures::Fixture;

const ORG: &str = "citizens-advice-kc";
/// A pathfinder's address, as an admin typed it, and their name: personal data.
const EMAIL: &str = "Amira.Haddad@council.example";
const NAME: &str = "Amira Haddad";
const FIFTEEN_MINUTES: Duration = Duration::from_secs(15 * 60);

fn new_user(organisation: &str, email: &str, name: Option<&str>) -> NewUser {
    NewUser {
        organisation: organisation.into(),
        role: "pathfinder".into(),
        email: Personal::new(email.into()),
        display_name: name.map(|n| Personal::new(n.to_string())),
    }
}

fn session(id_hash: &str, user_id: &UserId, created: i64, expires: i64) -> NewSession {
    NewSession {
        id_hash: id_hash.into(),
        user_id: user_id.clone(),
        created_at: t(created),
        expires_at: t(expires),
    }
}

/// Asserts that neither the address (in any case) nor the name is readable in any row of any
/// table, nor (SQLite) in the database files, and that the control `visible` is.
async fn assert_no_user_data_readable(fx: &Fixture, visible: &str) {
    let secrets = [EMAIL.to_lowercase(), NAME.to_lowercase(), "haddad".to_string()];
    let rows = fx.raw_rows().await;
    assert!(rows.iter().any(|(_, row)| row.contains(visible)), "control: `{visible}`");
    for (table, row) in &rows {
        for secret in &secrets {
            assert!(!row.to_lowercase().contains(secret), "`{secret}` readable in {table}: {row}");
        }
    }
    if let Some(files) = fx.raw_files() {
        let texts: Vec<String> =
            files.iter().map(|(_, bytes)| String::from_utf8_lossy(bytes).to_lowercase()).collect();
        assert!(texts.iter().any(|text| text.contains(visible)), "control: `{visible}` in files");
        for ((file, _), text) in files.iter().zip(&texts) {
            for secret in &secrets {
                assert!(!text.contains(secret), "`{secret}` is in {}", file.display());
            }
        }
    }
}

pub async fn users_round_trip_with_their_address_sealed(fx: &Fixture) {
    let id = fx.store.insert_user(&new_user(ORG, EMAIL, Some(NAME)), t(0)).await.unwrap();
    assert!(id.as_str().starts_with("usr_"), "{id}");
    assert_eq!(UserId::parse(id.as_str()), Some(id.clone()));
    let second = fx.store.insert_user(&new_user(ORG, "b@council.example", None), t(1)).await;
    let other = fx.store.insert_user(&new_user("other-org", "c@other.example", None), t(2)).await;
    let (second, other) = (second.unwrap(), other.unwrap());

    let user = fx.store.get_user(&id).await.unwrap().expect("the user");
    assert_eq!(user.id, id);
    assert_eq!((user.organisation.as_str(), user.role.as_str()), (ORG, "pathfinder"));
    assert_eq!(user.email.expose(), EMAIL, "kept as given");
    assert_eq!(user.display_name.as_ref().map(|n| n.expose().as_str()), Some(NAME));
    assert_eq!(user.status, AccountStatus::Invited);
    assert_eq!(user.password_hash, None);
    assert_eq!(user.created_at, t(0));
    assert_eq!(
        (user.failed_sign_ins, user.locked_until, user.oidc_subject.as_deref()),
        (0, None, None)
    );
    assert!(!user.is_locked(t(0)));

    // Found by the address however it is written, and by nothing else.
    for written in [EMAIL, "  amira.haddad@COUNCIL.example\n", "AMIRA.HADDAD@COUNCIL.EXAMPLE"] {
        let found = fx.store.user_by_email(written).await.unwrap().expect("found by address");
        assert_eq!(found, user, "{written}");
    }
    assert!(fx.store.user_by_email("amira@council.example").await.unwrap().is_none());
    assert!(fx.store.get_user(&UserId::random()).await.unwrap().is_none());
    let listed: Vec<UserId> =
        fx.store.users_of_organisation(ORG).await.unwrap().into_iter().map(|u| u.id).collect();
    assert_eq!(listed, [id.clone(), second], "the organisation's, oldest first");
    let theirs = fx.store.users_of_organisation("other-org").await.unwrap();
    assert_eq!(theirs.iter().map(|u| &u.id).collect::<Vec<_>>(), [&other]);
    assert!(fx.store.users_of_organisation("nobody").await.unwrap().is_empty());

    // Sealed at rest, bound to its row, and read back by a second daemon.
    assert_no_user_data_readable(fx, ORG).await;
    let sealed = fx.raw_text(&format!("SELECT email_sealed FROM users WHERE id = '{id}'")).await;
    assert!(sealed[0].as_deref().is_some_and(|v| v.starts_with("pws1:")), "{sealed:?}");
    let lookup = fx.raw_text(&format!("SELECT email_lookup FROM users WHERE id = '{id}'")).await;
    let lookup = lookup[0].clone().expect("a lookup key");
    assert!(lookup.len() == 64 && lookup.bytes().all(|b| b.is_ascii_hexdigit()), "{lookup}");
    assert_eq!(fx.reopen().await.get_user(&id).await.unwrap().as_ref(), Some(&user));

    // The user's sealed values are checked and re-sealed with the rest after a rotation.
    let err = fx.store.verify_data_keys(&DataKeys::ephemeral()).await.unwrap_err();
    assert!(matches!(&err, StoreError::Sealed { what: "users", .. }), "{err}");
    let new_entry = DataKeys::generate_entry();
    let both = DataKeys::parse(&format!("{new_entry}\n{}", fx.key_entry)).unwrap();
    let rotated = fx.reopen_with(both).await.unwrap();
    let progress = rotated.reseal(100).await.unwrap();
    assert_eq!((progress.resealed, progress.remaining), (4, 0), "3 addresses and 1 name");
    let new_only = fx.reopen_with(DataKeys::parse(&new_entry).unwrap()).await.unwrap();
    assert_eq!(new_only.get_user(&id).await.unwrap().as_ref(), Some(&user));
}

pub async fn a_taken_address_or_subject_is_refused_whatever_its_case(fx: &Fixture) {
    let id = fx.store.insert_user(&new_user(ORG, EMAIL, Some(NAME)), t(0)).await.unwrap();
    for again in [EMAIL, " amira.HADDAD@council.example ", "AMIRA.HADDAD@COUNCIL.EXAMPLE"] {
        let err = fx.store.insert_user(&new_user("other-org", again, None), t(1)).await;
        let err = err.expect_err("the address is taken");
        assert!(matches!(err, StoreError::DuplicateUser { field: "email" }), "{err}");
        assert!(!err.to_string().to_lowercase().contains("haddad"), "{err}");
    }
    assert_eq!(fx.raw_count("users").await, 1, "nothing was written");

    // One identity provider subject, one user.
    let other = fx.store.insert_user(&new_user(ORG, "b@council.example", None), t(2)).await;
    let other = other.unwrap();
    const SUBJECT: &str = "https://idp.council.example|248289761001";
    assert!(fx.store.set_oidc_subject(&id, Some(SUBJECT)).await.unwrap());
    let linked = fx.store.user_by_oidc_subject(SUBJECT).await.unwrap().expect("linked");
    assert_eq!((linked.id, linked.oidc_subject.as_deref()), (id.clone(), Some(SUBJECT)));
    let err = fx.store.set_oidc_subject(&other, Some(SUBJECT)).await.unwrap_err();
    assert!(matches!(err, StoreError::DuplicateUser { field: "oidc_subject" }), "{err}");
    assert!(fx.store.set_oidc_subject(&id, None).await.unwrap(), "unlinked");
    assert!(fx.store.user_by_oidc_subject(SUBJECT).await.unwrap().is_none());
    assert!(fx.store.set_oidc_subject(&other, Some(SUBJECT)).await.unwrap(), "free again");
    assert!(!fx.store.set_oidc_subject(&UserId::random(), Some("x")).await.unwrap());
}

pub async fn setup_links_are_one_time_and_expire(fx: &Fixture) {
    let id = fx.store.insert_user(&new_user(ORG, EMAIL, None), t(0)).await.unwrap();
    let other = fx.store.insert_user(&new_user(ORG, "b@council.example", None), t(0)).await;
    let other = other.unwrap();

    fx.store.create_setup_token(&id, "hash-1", t(100)).await.unwrap();
    // Looking does not use it up; using it does, once.
    assert_eq!(fx.store.peek_setup_token("hash-1", t(50)).await.unwrap(), Some(id.clone()));
    assert_eq!(fx.store.peek_setup_token("hash-1", t(50)).await.unwrap(), Some(id.clone()));
    assert_eq!(fx.store.take_setup_token("hash-1", t(50)).await.unwrap(), Some(id.clone()));
    assert_eq!(fx.store.take_setup_token("hash-1", t(51)).await.unwrap(), None, "used up");
    assert_eq!(fx.store.peek_setup_token("hash-1", t(51)).await.unwrap(), None);
    assert_eq!(fx.store.take_setup_token("never-made", t(51)).await.unwrap(), None);

    // A new link voids the user's older ones, not other users'.
    fx.store.create_setup_token(&id, "hash-2", t(300)).await.unwrap();
    fx.store.create_setup_token(&other, "hash-other", t(300)).await.unwrap();
    fx.store.create_setup_token(&id, "hash-3", t(200)).await.unwrap();
    assert_eq!(fx.store.peek_setup_token("hash-2", t(60)).await.unwrap(), None, "replaced");
    assert_eq!(fx.store.peek_setup_token("hash-other", t(60)).await.unwrap(), Some(other));

    // Expired: refused, and removed (with every other expired link) by the attempt.
    assert_eq!(fx.store.peek_setup_token("hash-3", t(200)).await.unwrap(), None, "at expiry");
    assert_eq!(fx.store.take_setup_token("hash-3", t(300)).await.unwrap(), None);
    assert_eq!(fx.raw_count("setup_tokens").await, 0, "the expired ones are gone");

    let nobody = UserId::random();
    let err = fx.store.create_setup_token(&nobody, "hash-4", t(100)).await.unwrap_err();
    assert!(matches!(&err, StoreError::UnknownUser(u) if *u == nobody), "{err}");

    // Two daemons racing to use one link: one gets the user.
    fx.store.create_setup_token(&id, "hash-5", t(1000)).await.unwrap();
    let second = fx.reopen().await;
    let (a, b) = tokio::join!(
        fx.store.take_setup_token("hash-5", t(400)),
        second.take_setup_token("hash-5", t(400))
    );
    let taken: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(taken, [id]);
}

pub async fn a_password_reset_voids_links_sessions_and_lockout(fx: &Fixture) {
    let id = fx.store.insert_user(&new_user(ORG, EMAIL, None), t(0)).await.unwrap();
    let other = fx.store.insert_user(&new_user(ORG, "b@council.example", None), t(0)).await;
    let other = other.unwrap();
    for _ in 0..3 {
        fx.store.record_sign_in_failure(&id, t(10), 3, FIFTEEN_MINUTES).await.unwrap();
    }
    assert!(fx.store.get_user(&id).await.unwrap().unwrap().is_locked(t(10)));
    fx.store.create_setup_token(&id, "link", t(1000)).await.unwrap();
    for (hash, user) in [("s-1", &id), ("s-2", &id), ("s-other", &other)] {
        assert!(fx.store.insert_session(&session(hash, user, 0, 10_000)).await.unwrap());
    }

    assert!(fx
        .store
        .set_password(&id, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", t(20))
        .await
        .unwrap());
    let user = fx.store.get_user(&id).await.unwrap().unwrap();
    assert_eq!(user.status, AccountStatus::Active);
    assert_eq!(user.password_hash.as_deref(), Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"));
    assert_eq!((user.failed_sign_ins, user.locked_until), (0, None));
    assert_eq!(fx.store.peek_setup_token("link", t(21)).await.unwrap(), None);
    assert!(fx.store.get_session("s-1").await.unwrap().is_none(), "signed out everywhere");
    assert!(fx.store.get_session("s-2").await.unwrap().is_none());
    assert!(fx.store.get_session("s-other").await.unwrap().is_some(), "others stay");
    let printed = format!("{user:?}");
    assert!(!printed.contains("argon2") && printed.contains("has_password: true"), "{printed}");
    assert!(!fx.store.set_password(&UserId::random(), "h", t(20)).await.unwrap());
}

pub async fn disabling_a_user_ends_their_sessions(fx: &Fixture) {
    let id = fx.store.insert_user(&new_user(ORG, EMAIL, None), t(0)).await.unwrap();
    let other = fx.store.insert_user(&new_user(ORG, "b@council.example", None), t(0)).await;
    let other = other.unwrap();
    fx.store.set_password(&id, "h", t(1)).await.unwrap();
    for (hash, user) in [("s-1", &id), ("s-2", &id), ("s-other", &other)] {
        assert!(fx.store.insert_session(&session(hash, user, 0, 10_000)).await.unwrap());
    }
    fx.store.create_setup_token(&id, "link", t(1000)).await.unwrap();

    assert!(fx.store.set_user_status(&id, AccountStatus::Disabled).await.unwrap());
    assert_eq!(fx.store.get_user(&id).await.unwrap().unwrap().status, AccountStatus::Disabled);
    assert!(fx.store.get_session("s-1").await.unwrap().is_none());
    assert!(fx.store.get_session("s-2").await.unwrap().is_none());
    assert!(fx.store.get_session("s-other").await.unwrap().is_some(), "others stay");
    assert_eq!(fx.store.take_setup_token("link", t(2)).await.unwrap(), None, "voided too");
    // No new session while disabled, nor for nobody.
    assert!(!fx.store.insert_session(&session("s-3", &id, 5, 10_000)).await.unwrap());
    assert!(fx.store.get_session("s-3").await.unwrap().is_none());
    let nobody = UserId::random();
    assert!(!fx.store.insert_session(&session("s-4", &nobody, 5, 10_000)).await.unwrap());
    assert!(!fx.store.set_user_status(&nobody, AccountStatus::Disabled).await.unwrap());

    assert!(fx.store.set_user_status(&id, AccountStatus::Active).await.unwrap());
    assert!(fx.store.insert_session(&session("s-3", &id, 5, 10_000)).await.unwrap());
}

pub async fn sign_in_locks_after_repeated_failures(fx: &Fixture) {
    let id = fx.store.insert_user(&new_user(ORG, EMAIL, None), t(0)).await.unwrap();
    let fail = |at: i64, lock_after: u32| {
        let (store, id) = (Arc::clone(&fx.store), id.clone());
        async move { store.record_sign_in_failure(&id, t(at), lock_after, FIFTEEN_MINUTES).await }
    };
    assert_eq!(fail(1, 3).await.unwrap(), 1);
    assert_eq!(fail(2, 3).await.unwrap(), 2);
    assert_eq!(fx.store.get_user(&id).await.unwrap().unwrap().locked_until, None);
    assert_eq!(fail(3, 3).await.unwrap(), 3);
    let user = fx.store.get_user(&id).await.unwrap().unwrap();
    assert_eq!((user.failed_sign_ins, user.locked_until), (3, Some(t(3 + 900))));
    assert!(user.is_locked(t(3)) && user.is_locked(t(902)) && !user.is_locked(t(903)));
    // After the lock, each further failure locks again at once.
    assert_eq!(fail(2000, 3).await.unwrap(), 4);
    assert_eq!(fx.store.get_user(&id).await.unwrap().unwrap().locked_until, Some(t(2900)));

    assert!(fx.store.clear_sign_in_failures(&id).await.unwrap());
    let user = fx.store.get_user(&id).await.unwrap().unwrap();
    assert_eq!((user.failed_sign_ins, user.locked_until), (0, None));
    // Concurrent failures, through two daemons, are all counted.
    let second = fx.reopen().await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = if i % 2 == 0 { Arc::clone(&fx.store) } else { Arc::clone(&second) };
            let id = id.clone();
            tokio::spawn(async move {
                store.record_sign_in_failure(&id, t(3000), 0, FIFTEEN_MINUTES).await
            })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap().unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=10).collect::<Vec<u32>>());
    assert_eq!(fx.store.get_user(&id).await.unwrap().unwrap().locked_until, None, "0: never");

    let nobody = UserId::random();
    let err = fx.store.record_sign_in_failure(&nobody, t(1), 3, FIFTEEN_MINUTES).await;
    assert!(matches!(err, Err(StoreError::UnknownUser(u)) if u == nobody));
    assert!(!fx.store.clear_sign_in_failures(&nobody).await.unwrap());
}

pub async fn sessions_expire_when_idle_or_at_their_absolute_end(fx: &Fixture) {
    let id = fx.store.insert_user(&new_user(ORG, EMAIL, None), t(0)).await.unwrap();
    for (hash, expires) in [("idle", 10_000), ("ended", 500), ("active", 10_000)] {
        assert!(fx.store.insert_session(&session(hash, &id, 0, expires)).await.unwrap());
    }
    let stored = fx.store.get_session("active").await.unwrap().expect("the session");
    assert_eq!(stored.id_hash, "active");
    assert_eq!(stored.user_id, id);
    assert_eq!(
        (stored.created_at, stored.last_seen_at, stored.expires_at),
        (t(0), t(0), t(10_000))
    );
    assert!(fx.store.touch_session("active", t(900)).await.unwrap());
    // Never back: another daemon's clock may be behind.
    assert!(fx.store.touch_session("active", t(800)).await.unwrap());
    assert_eq!(fx.store.get_session("active").await.unwrap().unwrap().last_seen_at, t(900));
    assert!(!fx.store.touch_session("nothing", t(800)).await.unwrap());

    // At 1000 with a 600 s idle timeout: `idle` was last seen at 0, `ended` ran out at 500.
    let gone = fx.store.delete_expired_sessions(t(1000), Duration::from_secs(600)).await;
    assert_eq!(gone.unwrap(), 2);
    assert!(fx.store.get_session("idle").await.unwrap().is_none());
    assert!(fx.store.get_session("ended").await.unwrap().is_none());
    assert!(fx.store.get_session("active").await.unwrap().is_some());
    // Its absolute end comes however active it is.
    assert!(fx.store.touch_session("active", t(9_999)).await.unwrap());
    let gone = fx.store.delete_expired_sessions(t(10_000), Duration::from_secs(600)).await;
    assert_eq!(gone.unwrap(), 1);

    assert!(fx.store.insert_session(&session("signed-in", &id, 0, 10_000)).await.unwrap());
    assert!(fx.store.delete_session("signed-in").await.unwrap(), "signed out");
    assert!(!fx.store.delete_session("signed-in").await.unwrap());
    assert_eq!(fx.raw_count("sessions").await, 0);
}

pub async fn two_daemons_share_sessions(fx: &Fixture) {
    let second = fx.reopen().await;
    let id = fx.store.insert_user(&new_user(ORG, EMAIL, None), t(0)).await.unwrap();
    assert!(fx.store.insert_session(&session("shared", &id, 0, 10_000)).await.unwrap());
    let seen = second.get_session("shared").await.unwrap().expect("made by the first");
    assert_eq!(seen, fx.store.get_session("shared").await.unwrap().unwrap());
    assert!(second.touch_session("shared", t(50)).await.unwrap());
    assert_eq!(fx.store.get_session("shared").await.unwrap().unwrap().last_seen_at, t(50));
    assert!(second.delete_session("shared").await.unwrap());
    assert!(fx.store.get_session("shared").await.unwrap().is_none(), "signed out on both");

    // Disabled through one, signed out on the other.
    assert!(second.insert_session(&session("again", &id, 60, 10_000)).await.unwrap());
    assert!(fx.store.set_user_status(&id, AccountStatus::Disabled).await.unwrap());
    assert!(second.get_session("again").await.unwrap().is_none());
}

/// Moves a referral to `state` at `at`, as the dispatcher or the partner would.
async fn set_state(store: &dyn Store, id: &ReferralId, state: TaskState, at: i64) {
    let reason = matches!(state, TaskState::Rejected | TaskState::Failed | TaskState::Cancelled)
        .then_some(StatusReason::Other);
    let change =
        StatusChange { state, reason, note: None, source: StatusSource::Dispatcher, at: t(at) };
    assert!(store.record_referral_status(id, &change).await.unwrap(), "{state:?}");
}

/// A case of `organisation` with this reference and number of needs (1 or 2).
async fn case_with(store: &dyn Store, organisation: &str, reference: &str, needs: usize) -> CaseId {
    let mut c = case();
    c.reference = reference.into();
    c.needs.truncate(needs);
    store.insert_case(organisation, &c).await.unwrap()
}

pub async fn the_case_list_is_newest_first_with_counts_and_reference_search(fx: &Fixture) {
    let store = &*fx.store;
    let a = case_with(store, ORG, "CAKC-1", 2).await;
    let b = case_with(store, ORG, "  cakc-2 ", 1).await;
    let _theirs = case_with(store, "other-org", "CAKC-1", 2).await;
    let erased = case_with(store, ORG, "CAKC-1", 2).await;
    let d = case_with(store, ORG, "CAKC-1", 1).await;
    store.erase_case(&erased, ErasureReason::EnteredInError, t(0)).await.unwrap();

    // A: two plans (the newest is version 2) and a referral in each kind of state.
    store.insert_plan(&a, &plan("l", "h"), &serde_json::Value::Null).await.unwrap();
    let mut second = plan("l", "h");
    second.version = 2;
    store.insert_plan(&a, &second, &serde_json::Value::Null).await.unwrap();
    let new = ["k-draft", "k-requested", "k-rejected", "k-failed", "k-cancelled", "k-completed"]
        .map(|key| referral("housing-a", &[NeedCode::HousingHomelessness], key));
    let r = store.create_referrals(&a, new.to_vec(), t(0)).await.unwrap();
    for (i, state) in [
        TaskState::Requested,
        TaskState::Rejected,
        TaskState::Failed,
        TaskState::Cancelled,
        TaskState::Completed,
    ]
    .into_iter()
    .enumerate()
    {
        set_state(store, &r[i + 1], state, 10).await;
    }

    let all = store.case_summaries(ORG, None, 10).await.unwrap();
    let ids: Vec<&CaseId> = all.iter().map(|s| &s.id).collect();
    assert_eq!(ids, [&d, &b, &a], "newest first; not erased, not another organisation's");
    let summary_a = &all[2];
    assert_eq!(summary_a.reference, "CAKC-1");
    assert_eq!(summary_a.needs, 2);
    assert_eq!(summary_a.plan_version, Some(2));
    assert_eq!((summary_a.referrals_live, summary_a.referrals_attention), (2, 2));
    assert_eq!(summary_a.created_at, store.get_case(&a).await.unwrap().unwrap().created_at);
    let summary_b = &all[1];
    assert_eq!((summary_b.reference.as_str(), summary_b.needs), ("cakc-2", 1), "trimmed");
    assert_eq!((summary_b.plan_version, summary_b.referrals_live), (None, 0));
    assert_eq!(summary_b.referrals_attention, 0);

    let first_two = store.case_summaries(ORG, None, 2).await.unwrap();
    assert_eq!(first_two.iter().map(|s| &s.id).collect::<Vec<_>>(), [&d, &b]);
    let found = store.case_summaries(ORG, Some(" cakc-1 "), 10).await.unwrap();
    assert_eq!(found.iter().map(|s| &s.id).collect::<Vec<_>>(), [&d, &a]);
    let found = store.case_summaries(ORG, Some("CAKC-2"), 10).await.unwrap();
    assert_eq!(found.iter().map(|s| &s.id).collect::<Vec<_>>(), [&b]);
    assert!(store.case_summaries(ORG, Some("CAKC"), 10).await.unwrap().is_empty(), "exact");
    assert!(store.case_summaries("nobody", None, 10).await.unwrap().is_empty());

    // The erased case's reference went with its personal data.
    let raw = fx.raw_text(&format!("SELECT reference FROM cases WHERE id = '{erased}'")).await;
    assert_eq!(raw, [None]);
}

pub async fn the_case_list_reads_no_sealed_value_and_follows_its_index(fx: &Fixture) {
    const CASES: i64 = 10_000;
    // Documents that are not sealed at all: the list must not try to open them.
    let sql = if fx.is_sqlite() {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {CASES})
             INSERT INTO cases (id, organisation, case_json, created_at, reference, need_count)
             SELECT printf('%032x', i), 'bulk-org', 'not a sealed value', {base} + i * 1000000,
                    'REF-' || i, 1 + i % 3
             FROM n",
            base = t(0).timestamp_micros()
        )
    } else {
        format!(
            "INSERT INTO cases (id, organisation, case_json, created_at, reference, need_count)
             SELECT lpad(to_hex(i), 32, '0'), 'bulk-org', 'not a sealed value',
                    '{base}'::TIMESTAMPTZ + i * INTERVAL '1 second', 'REF-' || i, 1 + i % 3
             FROM generate_series(1, {CASES}) i",
            base = t(0).to_rfc3339()
        )
    };
    assert_eq!(fx.raw_execute(&sql).await, Ok(CASES as u64));
    let page = fx.store.case_summaries("bulk-org", None, 50).await.unwrap();
    assert_eq!(page.len(), 50);
    assert_eq!(page[0].reference, format!("REF-{CASES}"));
    assert_eq!(page[0].created_at, t(CASES));
    assert_eq!(page[0].needs, 1 + (CASES % 3) as u32);
    assert_eq!(page[49].reference, format!("REF-{}", CASES - 49));
    let found = fx.store.case_summaries("bulk-org", Some("ref-777"), 50).await.unwrap();
    assert_eq!(found.iter().map(|s| s.reference.as_str()).collect::<Vec<_>>(), ["REF-777"]);

    // The plans the databases make for the list's two queries: each walks its index, and
    // the page is never sorted out of a scan of the whole table.
    let listing = fx
        .explain(
            "SELECT c.id FROM cases c WHERE c.organisation = 'bulk-org' AND c.erased_at IS NULL
             ORDER BY c.created_at DESC, c.id DESC LIMIT 50",
        )
        .await;
    assert!(listing.contains("cases_by_organisation_recent"), "{listing}");
    let searching = fx
        .explain(
            "SELECT c.id FROM cases c WHERE c.organisation = 'bulk-org'
               AND lower(c.reference) = lower('ref-777') AND c.erased_at IS NULL
             ORDER BY c.created_at DESC, c.id DESC LIMIT 50",
        )
        .await;
    assert!(searching.contains("cases_by_organisation_reference"), "{searching}");
    for plan in [&listing, &searching] {
        assert!(!plan.contains("SCAN c") && !plan.contains("Seq Scan on cases"), "{plan}");
    }
    assert!(!listing.contains("TEMP B-TREE") && !listing.contains("Sort"), "{listing}");
}

pub async fn a_version_2_database_gets_its_case_list_filled_on_opening(fx: &Fixture) {
    let keys = &fx.keys;
    let (listed, erased, old_plan) = (CaseId::random(), CaseId::random(), CaseId::random());
    let mut document = case();
    document.reference = " CAKC-000777 ".into();
    let sealed_case =
        |id: &CaseId| keys.seal(&serde_json::to_vec(&document).unwrap(), &format!("case:{id}"));
    let mut versioned = plan("l", "h");
    versioned.version = 3;
    let record = serde_json::json!({"plan": versioned, "basis": null});
    let sealed_plan = keys.seal(record.to_string().as_bytes(), &format!("plan:{listed}"));
    // A plan kept before plans had versions: the bare plan, which reads back as none.
    let bare = serde_json::to_vec(&plan("l", "h")).unwrap();
    let sealed_bare = keys.seal(&bare, &format!("plan:{old_plan}"));
    let (mut sqlite, mut postgres) = (String::new(), String::new());
    for (id, json, at) in [
        (&listed, sealed_case(&listed), 0),
        (&old_plan, sealed_case(&old_plan), 1),
        (&erased, "erased".to_string(), 2),
    ] {
        let erased_at = if *id == erased { "1" } else { "NULL" };
        sqlite += &format!(
            "INSERT INTO cases (id, organisation, case_json, created_at, erased_at)
             VALUES ('{id}', '{ORG}', '{json}', {}, {erased_at});\n",
            t(at).timestamp_micros()
        );
        let erased_at = if *id == erased { "now()" } else { "NULL" };
        postgres += &format!(
            "INSERT INTO cases (id, organisation, case_json, created_at, erased_at)
             VALUES ('{id}', '{ORG}', '{json}', '{}', {erased_at});\n",
            t(at).to_rfc3339()
        );
    }
    for (case_id, json) in [(&listed, &sealed_plan), (&old_plan, &sealed_bare)] {
        sqlite += &format!(
            "INSERT INTO plans (case_id, plan_json, created_at) VALUES ('{case_id}', '{json}', {});\n",
            t(5).timestamp_micros()
        );
        postgres += &format!(
            "INSERT INTO plans (case_id, plan_json, created_at) VALUES ('{case_id}', '{json}', '{}');\n",
            t(5).to_rfc3339()
        );
    }
    let old = fx.version_2(&sqlite, &postgres).await;

    assert_eq!(old.raw_count("schema_migrations").await, crate::fixtures::SCHEMA_VERSION);
    let all = old.store.case_summaries(ORG, None, 10).await.unwrap();
    assert_eq!(all.iter().map(|s| &s.id).collect::<Vec<_>>(), [&old_plan, &listed]);
    assert_eq!((all[1].reference.as_str(), all[1].needs), ("CAKC-000777", 2));
    assert_eq!(all[1].plan_version, Some(3));
    assert_eq!((all[0].reference.as_str(), all[0].plan_version), ("CAKC-000777", None));
    let found = old.store.case_summaries(ORG, Some("cakc-000777"), 10).await.unwrap();
    assert_eq!(found.len(), 2);
    let raw = old.raw_text("SELECT reference FROM cases ORDER BY created_at").await;
    assert_eq!(raw, [Some("CAKC-000777".into()), Some("CAKC-000777".into()), None]);
    // The documents themselves are untouched and still read back.
    assert_eq!(old.store.get_case(&listed).await.unwrap().unwrap().case, document);
    assert_eq!(old.store.latest_plan(&listed).await.unwrap().unwrap().plan, versioned);
    // Opening again finds nothing left to fill.
    let again = old.reopen().await;
    assert_eq!(again.case_summaries(ORG, None, 10).await.unwrap(), all);
    old.teardown().await;
}

pub async fn referrals_needing_attention_are_the_refused_and_the_unanswered(fx: &Fixture) {
    let store = &*fx.store;
    let a = case_with(store, ORG, "CAKC-1", 2).await;
    let new =
        ["k-rejected", "k-failed", "k-old", "k-recent", "k-accepted", "k-cancelled", "k-draft"]
            .map(|key| referral("housing-a", &[NeedCode::HousingHomelessness], key));
    let r = store.create_referrals(&a, new.to_vec(), t(0)).await.unwrap();
    set_state(store, &r[0], TaskState::Rejected, 10).await;
    set_state(store, &r[1], TaskState::Failed, 20).await;
    set_state(store, &r[2], TaskState::Requested, 5).await;
    set_state(store, &r[3], TaskState::Requested, 100).await;
    set_state(store, &r[4], TaskState::Accepted, 30).await;
    set_state(store, &r[5], TaskState::Cancelled, 40).await;
    // Another organisation's, and an erased case's, are not this organisation's concern.
    let theirs = case_with(store, "other-org", "X-1", 1).await;
    let new = vec![referral("housing-a", &[NeedCode::Food], "k-theirs")];
    let their = store.create_referrals(&theirs, new, t(0)).await.unwrap();
    set_state(store, &their[0], TaskState::Rejected, 15).await;
    let gone = case_with(store, ORG, "CAKC-9", 1).await;
    let new = vec![referral("housing-a", &[NeedCode::Food], "k-gone")];
    let gone_referral = store.create_referrals(&gone, new, t(0)).await.unwrap();
    set_state(store, &gone_referral[0], TaskState::Failed, 25).await;
    store.erase_case(&gone, ErasureReason::ClientRequest, t(26)).await.unwrap();

    let found = store.referrals_needing_attention(ORG, t(50), 10).await.unwrap();
    let seen: Vec<(&ReferralId, TaskState)> =
        found.iter().map(|f| (&f.referral_id, f.state)).collect();
    assert_eq!(
        seen,
        [(&r[1], TaskState::Failed), (&r[0], TaskState::Rejected), (&r[2], TaskState::Requested)],
        "newest first"
    );
    let failed = &found[0];
    assert_eq!((&failed.case_id, failed.case_reference.as_str()), (&a, "CAKC-1"));
    assert_eq!((failed.partner_id.as_str(), failed.since), ("housing-a", t(20)));
    assert_eq!(store.referrals_needing_attention(ORG, t(50), 2).await.unwrap().len(), 2);
    // Later, the recent request has waited long enough too.
    let later = store.referrals_needing_attention(ORG, t(101), 10).await.unwrap();
    assert_eq!(later[0].referral_id, r[3]);
    assert!(store.referrals_needing_attention("nobody", t(50), 10).await.unwrap().is_empty());
}

pub async fn cases_are_due_a_follow_up_once_their_referrals_have_ended_and_the_days_passed(
    fx: &Fixture,
) {
    use pathways_store::FollowUpSchedule;
    let store = &*fx.store;
    let refer = |key: &str| referral("housing-a", &[NeedCode::HousingHomelessness], key);
    let follow_up = |at: i64| pathways_core::FollowUp {
        wellbeing: None,
        needs: vec![],
        recorded_by: "pf-1".into(),
        recorded_at: t(at),
    };
    // Completed at 100 and declined at 200: ended at 200.
    let ended = case_with(store, ORG, "CAKC-ENDED", 1).await;
    let r = store.create_referrals(&ended, vec![refer("e1"), refer("e2")], t(0)).await.unwrap();
    set_state(store, &r[0], TaskState::Requested, 50).await;
    set_state(store, &r[0], TaskState::Completed, 100).await;
    set_state(store, &r[1], TaskState::Rejected, 200).await;
    // Ended earlier, at 150: listed first.
    let earlier = case_with(store, ORG, "CAKC-EARLIER", 1).await;
    let r = store.create_referrals(&earlier, vec![refer("a1")], t(0)).await.unwrap();
    set_state(store, &r[0], TaskState::Completed, 150).await;
    // One still under way: not yet.
    let open = case_with(store, ORG, "CAKC-OPEN", 1).await;
    let r = store.create_referrals(&open, vec![refer("o1"), refer("o2")], t(0)).await.unwrap();
    set_state(store, &r[0], TaskState::Completed, 100).await;
    set_state(store, &r[1], TaskState::Accepted, 100).await;
    // Nothing completed (declined only): nothing to follow up.
    let declined = case_with(store, ORG, "CAKC-DECLINED", 1).await;
    let r = store.create_referrals(&declined, vec![refer("d1")], t(0)).await.unwrap();
    set_state(store, &r[0], TaskState::Rejected, 100).await;
    // Followed up already after it ended; and one followed up only before it ended.
    let done = case_with(store, ORG, "CAKC-DONE", 1).await;
    let r = store.create_referrals(&done, vec![refer("f1")], t(0)).await.unwrap();
    set_state(store, &r[0], TaskState::Completed, 100).await;
    assert!(store.insert_follow_up(&done, &follow_up(300)).await.unwrap());
    let before = case_with(store, ORG, "CAKC-BEFORE", 1).await;
    let r = store.create_referrals(&before, vec![refer("b1")], t(0)).await.unwrap();
    assert!(store.insert_follow_up(&before, &follow_up(10)).await.unwrap());
    set_state(store, &r[0], TaskState::Completed, 100).await;
    // Another organisation's, and an erased case: never listed.
    let theirs = case_with(store, "other-org", "X-1", 1).await;
    let r = store.create_referrals(&theirs, vec![refer("x1")], t(0)).await.unwrap();
    set_state(store, &r[0], TaskState::Completed, 100).await;
    let gone = case_with(store, ORG, "CAKC-GONE", 1).await;
    let r = store.create_referrals(&gone, vec![refer("g1")], t(0)).await.unwrap();
    set_state(store, &r[0], TaskState::Completed, 100).await;
    store.erase_case(&gone, ErasureReason::ClientRequest, t(110)).await.unwrap();

    let day = 86_400;
    let due = |days: u32, now: i64, limit: u32| async move {
        let rows = store.follow_ups_due(ORG, days, t(now), limit).await.unwrap();
        rows.into_iter().map(|d| (d.reference, d.last_ended_at)).collect::<Vec<_>>()
    };
    assert_eq!(
        due(1, 200 + day, 10).await,
        [
            ("CAKC-BEFORE".to_string(), t(100)),
            ("CAKC-EARLIER".to_string(), t(150)),
            ("CAKC-ENDED".to_string(), t(200))
        ],
        "the longest waiting first"
    );
    assert_eq!(due(1, 199 + day, 10).await.len(), 2, "a day after 200 has not come yet");
    assert_eq!(due(1, 200 + day, 1).await.len(), 1, "the limit");
    assert!(due(0, 1000 * day, 10).await.is_empty(), "no schedule, nothing due");
    assert!(due(56, 200 + day, 10).await.is_empty(), "eight weeks have not passed");
    assert!(store.follow_ups_due("nobody", 1, t(1000 * day), 10).await.unwrap().is_empty());

    // The schedule: none until a coordinator sets one; setting again replaces it.
    assert_eq!(store.follow_up_schedule(ORG).await.unwrap(), None);
    let schedule = |days: u32, by: &str| FollowUpSchedule {
        organisation: ORG.into(),
        after_days: days,
        set_by: by.into(),
        set_at: t(5),
    };
    store.set_follow_up_schedule(&schedule(28, "co-1")).await.unwrap();
    store.set_follow_up_schedule(&schedule(42, "co-2")).await.unwrap();
    assert_eq!(store.follow_up_schedule(ORG).await.unwrap(), Some(schedule(42, "co-2")));
    assert_eq!(store.follow_up_schedule("other-org").await.unwrap(), None);
}
