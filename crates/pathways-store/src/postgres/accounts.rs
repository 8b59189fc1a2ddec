//! PostgreSQL statements for the console's users, setup links and sessions, shared by every
//! daemon on the database.
//!
//! What keeps several daemons right is in the statements: a setup link is used up by a
//! `DELETE … RETURNING` (of concurrent callers one gets the row), failed sign-ins are counted
//! by one `UPDATE` (none is lost), and a session is only inserted under a `FOR SHARE` lock of
//! its user's row, which disabling the user (an `UPDATE` of that row, then deleting the
//! sessions) waits for or makes wait: either the session exists before the sessions are
//! deleted, or the insert sees the user disabled.

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use pathways_core::Personal;
use tokio_postgres::Row;

use super::{violates, PgResult};
use crate::accounts::{AccountStatus, NewSession, StoredSession, StoredUser, UserId};
use crate::codec::{open_text, place, truncate};
use crate::error::StoreError;
use crate::seal::DataKeys;

/// A user to insert, its values sealed and its lookup key made.
pub(super) struct SealedUser {
    pub id: UserId,
    pub organisation: String,
    pub role: String,
    pub email_sealed: String,
    pub email_lookup: String,
    pub display_name: Option<String>,
}

pub(super) async fn insert_user(
    c: &Client,
    user: &SealedUser,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const OP: &str = "storing a console user";
    let s = c
        .prepare_cached(
            "INSERT INTO users (id, organisation, role, email_sealed, email_lookup, display_name,
                                status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await
        .during(OP)?;
    let inserted = c
        .execute(
            &s,
            &[
                &user.id.as_str(),
                &user.organisation,
                &user.role,
                &user.email_sealed,
                &user.email_lookup,
                &user.display_name,
                &AccountStatus::Invited.as_str(),
                &truncate(now),
            ],
        )
        .await;
    match inserted {
        Err(e) if violates(&e, "users_by_email") => {
            Err(StoreError::DuplicateUser { field: "email" })
        }
        other => other.during(OP).map(drop),
    }
}

/// The columns [`open_user`] reads, in its order.
const USER_COLUMNS: &str = "id, organisation, role, email_sealed, display_name, password_hash,
     status, created_at, failed_sign_ins, locked_until, oidc_subject";

fn open_user(keys: &DataKeys, row: &Row) -> Result<StoredUser, StoreError> {
    const OP: &str = "reading console users";
    let id: String = row.try_get(0).during(OP)?;
    let key = id.as_str();
    let email_sealed: String = row.try_get(3).during(OP)?;
    let email = open_text(keys, Some(email_sealed), "user e-mail", key, &place::user_email(key))?
        .unwrap_or_default();
    let display_name =
        open_text(keys, row.try_get(4).during(OP)?, "user name", key, &place::user_name(key))?;
    let status: String = row.try_get(6).during(OP)?;
    let failed: i32 = row.try_get(8).during(OP)?;
    Ok(StoredUser {
        organisation: row.try_get(1).during(OP)?,
        role: row.try_get(2).during(OP)?,
        email: Personal::new(email),
        display_name: display_name.map(Personal::new),
        password_hash: row.try_get(5).during(OP)?,
        status: AccountStatus::from_db(&status, key)?,
        created_at: row.try_get(7).during(OP)?,
        failed_sign_ins: u32::try_from(failed).unwrap_or(0),
        locked_until: row.try_get(9).during(OP)?,
        oidc_subject: row.try_get(10).during(OP)?,
        id: UserId::from_db(id),
    })
}

/// The users a `WHERE` clause (with its one parameter) finds, in the order it gives.
async fn users_where(
    c: &Client,
    keys: &DataKeys,
    clause: &str,
    param: &str,
) -> Result<Vec<StoredUser>, StoreError> {
    const OP: &str = "reading console users";
    let s = c
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE {clause}"))
        .await
        .during(OP)?;
    c.query(&s, &[&param]).await.during(OP)?.iter().map(|row| open_user(keys, row)).collect()
}

pub(super) async fn user_by_id(
    c: &Client,
    keys: &DataKeys,
    id: &str,
) -> Result<Option<StoredUser>, StoreError> {
    Ok(users_where(c, keys, "id = $1", id).await?.pop())
}

pub(super) async fn user_by_lookup(
    c: &Client,
    keys: &DataKeys,
    lookup: &str,
) -> Result<Option<StoredUser>, StoreError> {
    Ok(users_where(c, keys, "email_lookup = $1", lookup).await?.pop())
}

pub(super) async fn user_by_oidc_subject(
    c: &Client,
    keys: &DataKeys,
    subject: &str,
) -> Result<Option<StoredUser>, StoreError> {
    Ok(users_where(c, keys, "oidc_subject = $1", subject).await?.pop())
}

pub(super) async fn users_of_organisation(
    c: &Client,
    keys: &DataKeys,
    organisation: &str,
) -> Result<Vec<StoredUser>, StoreError> {
    users_where(c, keys, "organisation = $1 ORDER BY created_at, id", organisation).await
}

/// Ends a user's sessions and voids their setup links, in the caller's transaction.
async fn sign_out_everywhere<C: GenericClient>(
    tx: &C,
    id: &str,
    operation: &'static str,
) -> Result<(), StoreError> {
    for sql in
        ["DELETE FROM sessions WHERE user_id = $1", "DELETE FROM setup_tokens WHERE user_id = $1"]
    {
        let s = tx.prepare_cached(sql).await.during(operation)?;
        tx.execute(&s, &[&id]).await.during(operation)?;
    }
    Ok(())
}

pub(super) async fn set_status(
    c: &mut Client,
    id: &UserId,
    status: AccountStatus,
) -> Result<bool, StoreError> {
    const OP: &str = "setting a console user's status";
    let tx = c.transaction().await.during(OP)?;
    let s = tx.prepare_cached("UPDATE users SET status = $2 WHERE id = $1").await.during(OP)?;
    let updated = tx.execute(&s, &[&id.as_str(), &status.as_str()]).await.during(OP)?;
    if updated == 1 && status == AccountStatus::Disabled {
        sign_out_everywhere(&tx, id.as_str(), OP).await?;
    }
    tx.commit().await.during(OP)?;
    Ok(updated == 1)
}

pub(super) async fn set_password(
    c: &mut Client,
    id: &UserId,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "setting a console user's password";
    let tx = c.transaction().await.during(OP)?;
    let s = tx
        .prepare_cached(
            "UPDATE users SET password_hash = $2, password_changed_at = $3, status = $4,
                 failed_sign_ins = 0, locked_until = NULL
             WHERE id = $1",
        )
        .await
        .during(OP)?;
    let updated = tx
        .execute(&s, &[&id.as_str(), &hash, &truncate(now), &AccountStatus::Active.as_str()])
        .await
        .during(OP)?;
    if updated == 1 {
        sign_out_everywhere(&tx, id.as_str(), OP).await?;
    }
    tx.commit().await.during(OP)?;
    Ok(updated == 1)
}

pub(super) async fn set_oidc_subject(
    c: &Client,
    id: &UserId,
    subject: Option<&str>,
) -> Result<bool, StoreError> {
    const OP: &str = "linking a console user to an identity provider";
    let s =
        c.prepare_cached("UPDATE users SET oidc_subject = $2 WHERE id = $1").await.during(OP)?;
    match c.execute(&s, &[&id.as_str(), &subject]).await {
        Err(e) if violates(&e, "users_by_oidc_subject") => {
            Err(StoreError::DuplicateUser { field: "oidc_subject" })
        }
        other => other.during(OP).map(|n| n == 1),
    }
}

pub(super) async fn create_setup_token(
    c: &mut Client,
    id: &UserId,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    const OP: &str = "storing a setup link";
    let tx = c.transaction().await.during(OP)?;
    // Locked, so that two links made at once for one user leave one, not two.
    let s = tx.prepare_cached("SELECT 1 FROM users WHERE id = $1 FOR UPDATE").await.during(OP)?;
    if tx.query_opt(&s, &[&id.as_str()]).await.during(OP)?.is_none() {
        return Err(StoreError::UnknownUser(id.clone()));
    }
    let s = tx.prepare_cached("DELETE FROM setup_tokens WHERE user_id = $1").await.during(OP)?;
    tx.execute(&s, &[&id.as_str()]).await.during(OP)?;
    let s = tx
        .prepare_cached(
            "INSERT INTO setup_tokens (token_hash, user_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .await
        .during(OP)?;
    tx.execute(&s, &[&token_hash, &id.as_str(), &truncate(Utc::now()), &truncate(expires_at)])
        .await
        .during(OP)?;
    tx.commit().await.during(OP)
}

pub(super) async fn take_setup_token(
    c: &mut Client,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<UserId>, StoreError> {
    const OP: &str = "using a setup link";
    let now = truncate(now);
    let tx = c.transaction().await.during(OP)?;
    let s = tx
        .prepare_cached(
            "DELETE FROM setup_tokens WHERE token_hash = $1 RETURNING user_id, expires_at",
        )
        .await
        .during(OP)?;
    let found = tx.query_opt(&s, &[&token_hash]).await.during(OP)?;
    let s =
        tx.prepare_cached("DELETE FROM setup_tokens WHERE expires_at <= $1").await.during(OP)?;
    tx.execute(&s, &[&now]).await.during(OP)?;
    tx.commit().await.during(OP)?;
    let Some(row) = found else { return Ok(None) };
    let expires_at: DateTime<Utc> = row.try_get(1).during(OP)?;
    Ok((expires_at > now).then(|| row.try_get(0).during(OP)).transpose()?.map(UserId::from_db))
}

pub(super) async fn peek_setup_token(
    c: &Client,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<UserId>, StoreError> {
    const OP: &str = "reading a setup link";
    let s = c
        .prepare_cached(
            "SELECT user_id FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .await
        .during(OP)?;
    let row = c.query_opt(&s, &[&token_hash, &truncate(now)]).await.during(OP)?;
    row.map(|r| r.try_get(0).during(OP).map(UserId::from_db)).transpose()
}

pub(super) async fn record_sign_in_failure(
    c: &Client,
    id: &UserId,
    locked_until: DateTime<Utc>,
    lock_after: u32,
) -> Result<u32, StoreError> {
    const OP: &str = "counting a failed sign-in";
    let s = c
        .prepare_cached(
            "UPDATE users SET failed_sign_ins = failed_sign_ins + 1,
                 locked_until = CASE WHEN $3::BIGINT > 0 AND failed_sign_ins + 1 >= $3::BIGINT
                                     THEN $2
                                     ELSE locked_until END
             WHERE id = $1 RETURNING failed_sign_ins",
        )
        .await
        .during(OP)?;
    let lock_after = i64::from(lock_after);
    let row = c.query_opt(&s, &[&id.as_str(), &locked_until, &lock_after]).await.during(OP)?;
    let Some(row) = row else { return Err(StoreError::UnknownUser(id.clone())) };
    let failures: i32 = row.try_get(0).during(OP)?;
    Ok(u32::try_from(failures).unwrap_or(0))
}

pub(super) async fn clear_sign_in_failures(c: &Client, id: &UserId) -> Result<bool, StoreError> {
    const OP: &str = "clearing failed sign-ins";
    let s = c
        .prepare_cached("UPDATE users SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1")
        .await
        .during(OP)?;
    Ok(c.execute(&s, &[&id.as_str()]).await.during(OP)? == 1)
}

pub(super) async fn insert_session(
    c: &mut Client,
    session: &NewSession,
) -> Result<bool, StoreError> {
    const OP: &str = "storing a console session";
    let tx = c.transaction().await.during(OP)?;
    let s = tx
        .prepare_cached("SELECT 1 FROM users WHERE id = $1 AND status <> 'disabled' FOR SHARE")
        .await
        .during(OP)?;
    if tx.query_opt(&s, &[&session.user_id.as_str()]).await.during(OP)?.is_none() {
        return Ok(false);
    }
    let s = tx
        .prepare_cached(
            "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $3, $4)",
        )
        .await
        .during(OP)?;
    tx.execute(
        &s,
        &[
            &session.id_hash,
            &session.user_id.as_str(),
            &truncate(session.created_at),
            &truncate(session.expires_at),
        ],
    )
    .await
    .during(OP)?;
    tx.commit().await.during(OP)?;
    Ok(true)
}

pub(super) async fn get_session(
    c: &Client,
    id_hash: &str,
) -> Result<Option<StoredSession>, StoreError> {
    const OP: &str = "reading a console session";
    let s = c
        .prepare_cached(
            "SELECT user_id, created_at, last_seen_at, expires_at FROM sessions
             WHERE id_hash = $1",
        )
        .await
        .during(OP)?;
    let Some(row) = c.query_opt(&s, &[&id_hash]).await.during(OP)? else { return Ok(None) };
    Ok(Some(StoredSession {
        id_hash: id_hash.to_string(),
        user_id: UserId::from_db(row.try_get(0).during(OP)?),
        created_at: row.try_get(1).during(OP)?,
        last_seen_at: row.try_get(2).during(OP)?,
        expires_at: row.try_get(3).during(OP)?,
    }))
}

pub(super) async fn touch_session(
    c: &Client,
    id_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "marking a console session used";
    let s = c
        .prepare_cached(
            "UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $2) WHERE id_hash = $1",
        )
        .await
        .during(OP)?;
    Ok(c.execute(&s, &[&id_hash, &truncate(now)]).await.during(OP)? == 1)
}

pub(super) async fn delete_session(c: &Client, id_hash: &str) -> Result<bool, StoreError> {
    const OP: &str = "ending a console session";
    let s = c.prepare_cached("DELETE FROM sessions WHERE id_hash = $1").await.during(OP)?;
    Ok(c.execute(&s, &[&id_hash]).await.during(OP)? == 1)
}

pub(super) async fn delete_expired_sessions(
    c: &Client,
    now: DateTime<Utc>,
    seen_before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    const OP: &str = "ending expired console sessions";
    let s = c
        .prepare_cached("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2")
        .await
        .during(OP)?;
    c.execute(&s, &[&truncate(now), &seen_before]).await.during(OP)
}
