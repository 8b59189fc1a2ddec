//! The web console's records: users (their addresses sealed), setup links, sign-in lockout,
//! and sessions shared by daemons.

use std::sync::Arc;
use std::time::Duration;

use pathways_core::Personal;
use pathways_store::{AccountStatus, DataKeys, NewSession, NewUser, StoreError, UserId};

use crate::data::t;
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
