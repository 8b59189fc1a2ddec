//! SQLite statements for the console's users, setup links and sessions. Each write is one
//! job of the writer thread, so one savepoint: it happens whole or not at all, and no other
//! write runs between its statements.

use chrono::{DateTime, Utc};
use pathways_core::Personal;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{is_constraint, SqlResult};
use crate::accounts::{count, AccountStatus, NewSession, StoredSession, StoredUser, UserId};
use crate::codec::{from_micros, micros, open_text, place};
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

pub(super) fn insert_user(
    c: &Connection,
    user: &SealedUser,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO users (id, organisation, role, email_sealed, email_lookup, display_name,
                                status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut s| {
            s.execute(params![
                user.id.as_str(),
                user.organisation,
                user.role,
                user.email_sealed,
                user.email_lookup,
                user.display_name,
                AccountStatus::Invited.as_str(),
                micros(now),
            ])
        });
    match inserted {
        Err(e) if is_constraint(&e, "users.email_lookup") => {
            Err(StoreError::DuplicateUser { field: "email" })
        }
        other => other.during("storing a console user").map(drop),
    }
}

/// The columns [`read_user`] reads, in its order.
const USER_COLUMNS: &str = "id, organisation, role, email_sealed, display_name, password_hash,
     status, created_at, failed_sign_ins, locked_until, oidc_subject";

/// A `users` row as SQLite holds it, decoded outside the driver's closure so that a bad value
/// is a [`StoreError`] naming the row.
struct UserRow {
    id: String,
    organisation: String,
    role: String,
    email_sealed: String,
    display_name: Option<String>,
    password_hash: Option<String>,
    status: String,
    created_at: i64,
    failed_sign_ins: i64,
    locked_until: Option<i64>,
    oidc_subject: Option<String>,
}

fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        organisation: r.get(1)?,
        role: r.get(2)?,
        email_sealed: r.get(3)?,
        display_name: r.get(4)?,
        password_hash: r.get(5)?,
        status: r.get(6)?,
        created_at: r.get(7)?,
        failed_sign_ins: r.get(8)?,
        locked_until: r.get(9)?,
        oidc_subject: r.get(10)?,
    })
}

fn open_user(keys: &DataKeys, row: UserRow) -> Result<StoredUser, StoreError> {
    let id = row.id.as_str();
    let email = open_text(keys, Some(row.email_sealed), "user e-mail", id, &place::user_email(id))?
        .unwrap_or_default();
    let display_name = open_text(keys, row.display_name, "user name", id, &place::user_name(id))?;
    Ok(StoredUser {
        organisation: row.organisation,
        role: row.role,
        email: Personal::new(email),
        display_name: display_name.map(Personal::new),
        password_hash: row.password_hash,
        status: AccountStatus::from_db(&row.status, id)?,
        created_at: from_micros(row.created_at, "user", id)?,
        failed_sign_ins: count(row.failed_sign_ins),
        locked_until: row.locked_until.map(|t| from_micros(t, "user", id)).transpose()?,
        oidc_subject: row.oidc_subject,
        id: UserId::from_db(row.id),
    })
}

/// The users a `WHERE` clause (with its parameters) finds, in the order it gives.
fn users_where(
    c: &Connection,
    keys: &DataKeys,
    clause: &str,
    param: &str,
) -> Result<Vec<StoredUser>, StoreError> {
    let rows: Vec<UserRow> = c
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE {clause}"))
        .and_then(|mut s| s.query_map([param], user_row)?.collect())
        .during("reading console users")?;
    rows.into_iter().map(|row| open_user(keys, row)).collect()
}

pub(super) fn user_by_id(
    c: &Connection,
    keys: &DataKeys,
    id: &str,
) -> Result<Option<StoredUser>, StoreError> {
    Ok(users_where(c, keys, "id = ?1", id)?.pop())
}

pub(super) fn user_by_lookup(
    c: &Connection,
    keys: &DataKeys,
    lookup: &str,
) -> Result<Option<StoredUser>, StoreError> {
    Ok(users_where(c, keys, "email_lookup = ?1", lookup)?.pop())
}

pub(super) fn user_by_oidc_subject(
    c: &Connection,
    keys: &DataKeys,
    subject: &str,
) -> Result<Option<StoredUser>, StoreError> {
    Ok(users_where(c, keys, "oidc_subject = ?1", subject)?.pop())
}

pub(super) fn users_of_organisation(
    c: &Connection,
    keys: &DataKeys,
    organisation: &str,
) -> Result<Vec<StoredUser>, StoreError> {
    users_where(c, keys, "organisation = ?1 ORDER BY created_at, id", organisation)
}

/// Ends a user's sessions and voids their setup links.
fn sign_out_everywhere(
    c: &Connection,
    id: &str,
    operation: &'static str,
) -> Result<(), StoreError> {
    for sql in
        ["DELETE FROM sessions WHERE user_id = ?1", "DELETE FROM setup_tokens WHERE user_id = ?1"]
    {
        c.prepare_cached(sql).and_then(|mut s| s.execute([id])).during(operation)?;
    }
    Ok(())
}

pub(super) fn set_status(
    c: &Connection,
    id: &UserId,
    status: AccountStatus,
) -> Result<bool, StoreError> {
    const OP: &str = "setting a console user's status";
    let updated = c
        .prepare_cached("UPDATE users SET status = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id.as_str(), status.as_str()]))
        .during(OP)?;
    if updated == 1 && status == AccountStatus::Disabled {
        sign_out_everywhere(c, id.as_str(), OP)?;
    }
    Ok(updated == 1)
}

pub(super) fn set_password(
    c: &Connection,
    id: &UserId,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "setting a console user's password";
    let updated = c
        .prepare_cached(
            "UPDATE users SET password_hash = ?2, password_changed_at = ?3, status = ?4,
                 failed_sign_ins = 0, locked_until = NULL
             WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![id.as_str(), hash, micros(now), AccountStatus::Active.as_str()])
        })
        .during(OP)?;
    if updated == 1 {
        sign_out_everywhere(c, id.as_str(), OP)?;
    }
    Ok(updated == 1)
}

pub(super) fn set_oidc_subject(
    c: &Connection,
    id: &UserId,
    subject: Option<&str>,
) -> Result<bool, StoreError> {
    let updated = c
        .prepare_cached("UPDATE users SET oidc_subject = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id.as_str(), subject]));
    match updated {
        Err(e) if is_constraint(&e, "users.oidc_subject") => {
            Err(StoreError::DuplicateUser { field: "oidc_subject" })
        }
        other => other.during("linking a console user to an identity provider").map(|n| n == 1),
    }
}

fn user_exists(c: &Connection, id: &UserId, operation: &'static str) -> Result<bool, StoreError> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)")
        .and_then(|mut s| s.query_row([id.as_str()], |r| r.get(0)))
        .during(operation)
}

pub(super) fn create_setup_token(
    c: &Connection,
    id: &UserId,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    const OP: &str = "storing a setup link";
    if !user_exists(c, id, OP)? {
        return Err(StoreError::UnknownUser(id.clone()));
    }
    c.prepare_cached("DELETE FROM setup_tokens WHERE user_id = ?1")
        .and_then(|mut s| s.execute([id.as_str()]))
        .during(OP)?;
    c.prepare_cached(
        "INSERT INTO setup_tokens (token_hash, user_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| {
        s.execute(params![token_hash, id.as_str(), micros(Utc::now()), micros(expires_at)])
    })
    .during(OP)?;
    Ok(())
}

pub(super) fn take_setup_token(
    c: &Connection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<UserId>, StoreError> {
    const OP: &str = "using a setup link";
    let found: Option<(String, i64)> = c
        .prepare_cached(
            "DELETE FROM setup_tokens WHERE token_hash = ?1 RETURNING user_id, expires_at",
        )
        .and_then(|mut s| s.query_row([token_hash], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .during(OP)?;
    c.prepare_cached("DELETE FROM setup_tokens WHERE expires_at <= ?1")
        .and_then(|mut s| s.execute([micros(now)]))
        .during(OP)?;
    Ok(found.filter(|(_, expires_at)| *expires_at > micros(now)).map(|(id, _)| UserId::from_db(id)))
}

pub(super) fn peek_setup_token(
    c: &Connection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<UserId>, StoreError> {
    c.prepare_cached("SELECT user_id FROM setup_tokens WHERE token_hash = ?1 AND expires_at > ?2")
        .and_then(|mut s| s.query_row(params![token_hash, micros(now)], |r| r.get(0)).optional())
        .during("reading a setup link")
        .map(|id: Option<String>| id.map(UserId::from_db))
}

pub(super) fn record_sign_in_failure(
    c: &Connection,
    id: &UserId,
    locked_until: DateTime<Utc>,
    lock_after: u32,
) -> Result<u32, StoreError> {
    const OP: &str = "counting a failed sign-in";
    let failures: Option<i64> = c
        .prepare_cached(
            "UPDATE users SET failed_sign_ins = failed_sign_ins + 1,
                 locked_until = CASE WHEN ?3 > 0 AND failed_sign_ins + 1 >= ?3 THEN ?2
                                     ELSE locked_until END
             WHERE id = ?1 RETURNING failed_sign_ins",
        )
        .and_then(|mut s| {
            s.query_row(params![id.as_str(), micros(locked_until), lock_after], |r| r.get(0))
                .optional()
        })
        .during(OP)?;
    failures.map(count).ok_or_else(|| StoreError::UnknownUser(id.clone()))
}

pub(super) fn clear_sign_in_failures(c: &Connection, id: &UserId) -> Result<bool, StoreError> {
    c.prepare_cached("UPDATE users SET failed_sign_ins = 0, locked_until = NULL WHERE id = ?1")
        .and_then(|mut s| s.execute([id.as_str()]))
        .during("clearing failed sign-ins")
        .map(|n| n == 1)
}

pub(super) fn insert_session(c: &Connection, session: &NewSession) -> Result<bool, StoreError> {
    c.prepare_cached(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at)
         SELECT ?1, ?2, ?3, ?3, ?4
         WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2 AND status <> 'disabled')",
    )
    .and_then(|mut s| {
        s.execute(params![
            session.id_hash,
            session.user_id.as_str(),
            micros(session.created_at),
            micros(session.expires_at),
        ])
    })
    .during("storing a console session")
    .map(|n| n == 1)
}

pub(super) fn get_session(
    c: &Connection,
    id_hash: &str,
) -> Result<Option<StoredSession>, StoreError> {
    let row: Option<(String, i64, i64, i64)> = c
        .prepare_cached(
            "SELECT user_id, created_at, last_seen_at, expires_at FROM sessions
             WHERE id_hash = ?1",
        )
        .and_then(|mut s| {
            s.query_row([id_hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).optional()
        })
        .during("reading a console session")?;
    let Some((user_id, created_at, last_seen_at, expires_at)) = row else { return Ok(None) };
    // Named by its user: the hash is the session's key and stays out of messages.
    let at = |t| from_micros(t, "session of user", &user_id);
    Ok(Some(StoredSession {
        id_hash: id_hash.to_string(),
        created_at: at(created_at)?,
        last_seen_at: at(last_seen_at)?,
        expires_at: at(expires_at)?,
        user_id: UserId::from_db(user_id),
    }))
}

pub(super) fn touch_session(
    c: &Connection,
    id_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    c.prepare_cached("UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?2) WHERE id_hash = ?1")
        .and_then(|mut s| s.execute(params![id_hash, micros(now)]))
        .during("marking a console session used")
        .map(|n| n == 1)
}

pub(super) fn delete_session(c: &Connection, id_hash: &str) -> Result<bool, StoreError> {
    c.prepare_cached("DELETE FROM sessions WHERE id_hash = ?1")
        .and_then(|mut s| s.execute([id_hash]))
        .during("ending a console session")
        .map(|n| n == 1)
}

pub(super) fn delete_expired_sessions(
    c: &Connection,
    now: DateTime<Utc>,
    seen_before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    c.prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at < ?2")
        .and_then(|mut s| s.execute(params![micros(now), micros(seen_before)]))
        .during("ending expired console sessions")
        .map(|n| n as u64)
}
