//! SQLite statements for the dispatcher's lanes (see [`crate::lanes`]): a claim of due outbox
//! rows within each partner's room, and the keyset-paged list of open referrals to poll.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use super::outbox::load_claimed;
use super::SqlResult;
use crate::codec::{from_code, micros, place, seal_text, to_code};
use crate::error::StoreError;
use crate::ids::{OutboxItemId, ReferralId};
use crate::lanes::{OpenReferral, PartnerRoom, OPEN_STATES};
use crate::referral::OutboxItem;
use crate::seal::DataKeys;

/// Claims up to `limit` due rows, oldest due first, taking no more of a partner's than its
/// room. Rows of partners with no room are not looked at; the others are looked at up to four
/// times `limit` deep, so a partner with little room and a long queue cannot hide the rest.
pub(super) fn claim_outbox(
    c: &Connection,
    keys: &DataKeys,
    worker_id: &str,
    limit: u32,
    lease: Duration,
    now: DateTime<Utc>,
    room: &PartnerRoom,
) -> Result<Vec<OutboxItem>, StoreError> {
    const OP: &str = "claiming outbox items";
    let lease_until = crate::referral::lease_until(now, lease);
    // The write lock taken by the batch's BEGIN IMMEDIATE makes select-then-update atomic
    // against every other connection, in this process or another.
    let due: Vec<(i64, String)> = c
        .prepare_cached(
            "SELECT o.id, r.partner_id FROM outbox o JOIN referrals r ON r.id = o.referral_id
             WHERE o.state = 'pending' AND o.not_before <= ?1
               AND (o.lease_until IS NULL OR o.lease_until <= ?1)
               AND r.partner_id NOT IN (SELECT value FROM json_each(?2))
             ORDER BY o.not_before, o.id LIMIT ?3",
        )
        .and_then(|mut s| {
            let scan = limit.saturating_mul(4).max(limit);
            s.query_map(params![micros(now), room.full_json(), scan], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect()
        })
        .during(OP)?;
    let mut room = room.clone();
    let mut rows = Vec::new();
    for (id, partner_id) in due {
        if rows.len() >= limit as usize {
            break;
        }
        if !room.take(&partner_id) {
            continue;
        }
        let row = c
            .prepare_cached(
                "UPDATE outbox SET lease_owner = ?2, lease_until = ?3, attempts = attempts + 1,
                     updated_at = ?4
                 WHERE id = ?1
                 RETURNING id, referral_id, attempts, not_before",
            )
            .and_then(|mut s| {
                s.query_row(params![id, worker_id, micros(lease_until), micros(now)], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
            })
            .during(OP)?;
        rows.push(row);
    }
    load_claimed(c, keys, rows, lease_until, now)
}

/// Up to `limit` open referrals with an id after `after` (from the start when `None`), by id.
pub(super) fn open_after(
    c: &Connection,
    after: Option<&ReferralId>,
    limit: u32,
) -> Result<Vec<OpenReferral>, StoreError> {
    let [a, b, d, e] = OPEN_STATES.map(|s| to_code(&s));
    let rows: Vec<(String, String, String, String, String)> = c
        .prepare_cached(
            "SELECT id, partner_id, partner_reference, idempotency_key, state FROM referrals
             WHERE state IN (?1, ?2, ?3, ?4) AND partner_reference IS NOT NULL AND id > ?5
             ORDER BY id LIMIT ?6",
        )
        .and_then(|mut s| {
            let after = after.map_or("", ReferralId::as_str);
            s.query_map(params![a, b, d, e, after, limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .during("listing open referrals to poll")?;
    rows.into_iter()
        .map(|(id, partner_id, partner_reference, idempotency_key, state)| {
            Ok(OpenReferral {
                state: from_code(&state, "referral", &id)?,
                referral_id: ReferralId::from_db(id),
                partner_id,
                partner_reference,
                idempotency_key,
            })
        })
        .collect()
}

/// Moves `partner_id`'s due, unclaimed rows but its `keep` oldest to `until`.
pub(super) fn defer(
    c: &Connection,
    partner_id: &str,
    keep: u32,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    c.prepare_cached(
        "UPDATE outbox SET not_before = ?3, updated_at = ?4
         WHERE id IN (SELECT o.id FROM outbox o JOIN referrals r ON r.id = o.referral_id
                      WHERE r.partner_id = ?1 AND o.state = 'pending' AND o.not_before <= ?4
                        AND (o.lease_until IS NULL OR o.lease_until <= ?4)
                      ORDER BY o.not_before, o.id LIMIT -1 OFFSET ?2)",
    )
    .and_then(|mut s| s.execute(params![partner_id, keep, micros(until), micros(now)]))
    .map(|n| n as u64)
    .during("deferring a stalled partner's queue")
}

/// Gives back a claim on an outbox row whose partner was not called, attempt and all.
pub(super) fn release_outbox(
    c: &Connection,
    keys: &DataKeys,
    item: OutboxItemId,
    worker_id: &str,
    not_before: DateTime<Utc>,
    last_error: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "releasing an outbox item";
    let held: Option<String> = c
        .prepare_cached(
            "SELECT referral_id FROM outbox
             WHERE id = ?1 AND lease_owner = ?2 AND state = 'pending'",
        )
        .and_then(|mut s| {
            rusqlite::OptionalExtension::optional(
                s.query_row(params![item.0, worker_id], |r| r.get(0)),
            )
        })
        .during(OP)?;
    let Some(referral_id) = held else { return Ok(false) };
    let error = seal_text(keys, Some(last_error), &place::dispatch_error(&referral_id));
    c.prepare_cached(
        "UPDATE outbox SET lease_owner = NULL, lease_until = NULL, attempts = MAX(attempts - 1, 0),
             not_before = ?2, last_error = ?3, updated_at = ?4
         WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![item.0, micros(not_before), error, micros(now)]))
    .during(OP)?;
    Ok(true)
}

/// Gives back a claim on a cancel whose partner was not called, attempt and all.
pub(super) fn release_cancel(
    c: &Connection,
    keys: &DataKeys,
    referral_id: &ReferralId,
    worker_id: &str,
    not_before: DateTime<Utc>,
    last_error: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let key = referral_id.as_str();
    let error = seal_text(keys, Some(last_error), &place::cancel_error(key));
    c.prepare_cached(
        "UPDATE cancellations SET lease_owner = NULL, lease_until = NULL,
             attempts = MAX(attempts - 1, 0), not_before = ?3, last_error = ?4, updated_at = ?5
         WHERE referral_id = ?1 AND lease_owner = ?2 AND state = 'pending'",
    )
    .and_then(|mut s| s.execute(params![key, worker_id, micros(not_before), error, micros(now)]))
    .map(|n| n > 0)
    .during("releasing a cancel")
}
