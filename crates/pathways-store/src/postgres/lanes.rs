//! PostgreSQL statements for the dispatcher's lanes (see [`crate::lanes`]): a claim of due
//! outbox rows within each partner's room, and the keyset-paged list of open referrals to poll.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};

use super::outbox::load_claimed;
use super::PgResult;
use crate::codec::{from_code, place, seal_text, to_code, truncate};
use crate::error::StoreError;
use crate::ids::{OutboxItemId, ReferralId};
use crate::lanes::{OpenReferral, PartnerRoom, OPEN_STATES};
use crate::referral::OutboxItem;
use crate::seal::DataKeys;

/// Claims up to `limit` due rows, oldest due first, taking no more of a partner's than its
/// room, in one statement: the due rows of partners with room that no one else has locked
/// (SKIP LOCKED), looked at up to four times `limit` deep, numbered per partner, and those
/// within their partner's room leased.
pub(super) async fn claim_outbox(
    c: &Client,
    keys: &DataKeys,
    worker_id: &str,
    limit: u32,
    lease: Duration,
    now: DateTime<Utc>,
    room: &PartnerRoom,
) -> Result<Vec<OutboxItem>, StoreError> {
    const OP: &str = "claiming outbox items";
    let now = truncate(now);
    let lease_until = crate::referral::lease_until(now, lease);
    let s = c
        .prepare_cached(
            "UPDATE outbox o SET lease_owner = $1, lease_until = $2, attempts = o.attempts + 1,
                 updated_at = $3
             FROM (SELECT id FROM (
                       SELECT d.id, d.not_before,
                              ROW_NUMBER() OVER (PARTITION BY d.partner_id
                                                 ORDER BY d.not_before, d.id) AS nth,
                              COALESCE(room.free, $4) AS free
                       FROM (SELECT o2.id, o2.not_before, r2.partner_id
                             FROM outbox o2 JOIN referrals r2 ON r2.id = o2.referral_id
                             WHERE o2.state = 'pending' AND o2.not_before <= $3
                               AND (o2.lease_until IS NULL OR o2.lease_until <= $3)
                               AND NOT (r2.partner_id = ANY($5))
                             ORDER BY o2.not_before, o2.id LIMIT $6
                             FOR UPDATE OF o2 SKIP LOCKED) d
                       LEFT JOIN UNNEST($7::text[], $8::bigint[]) AS room (partner_id, free)
                              ON room.partner_id = d.partner_id) ranked
                   WHERE nth <= free
                   ORDER BY not_before, id LIMIT $4) due, referrals r
             WHERE o.id = due.id AND r.id = o.referral_id
             RETURNING o.id, o.referral_id, o.attempts, o.not_before, r.case_id, r.partner_id,
                       r.idempotency_key, r.payload, r.created_at",
        )
        .await
        .during(OP)?;
    let (limited, free) = room.limited();
    let scan = i64::from(limit.saturating_mul(4).max(limit));
    let rows = c
        .query(
            &s,
            &[
                &worker_id,
                &lease_until,
                &now,
                &i64::from(limit),
                &room.full(),
                &scan,
                &limited,
                &free,
            ],
        )
        .await
        .during(OP)?;
    load_claimed(c, keys, rows, lease_until, now).await
}

/// Up to `limit` open referrals with an id after `after` (from the start when `None`), by id.
pub(super) async fn open_after<C: GenericClient>(
    c: &C,
    after: Option<&ReferralId>,
    limit: u32,
) -> Result<Vec<OpenReferral>, StoreError> {
    const OP: &str = "listing open referrals to poll";
    let states: Vec<String> = OPEN_STATES.iter().map(to_code).collect();
    let after = after.map_or("", ReferralId::as_str);
    let rows = c
        .query(
            "SELECT id, partner_id, partner_reference, idempotency_key, state FROM referrals
             WHERE state = ANY($1) AND partner_reference IS NOT NULL AND id > $2
             ORDER BY id LIMIT $3",
            &[&states, &after, &i64::from(limit)],
        )
        .await
        .during(OP)?;
    rows.into_iter()
        .map(|row| {
            let id: String = row.try_get(0).during(OP)?;
            let state: String = row.try_get(4).during(OP)?;
            Ok(OpenReferral {
                state: from_code(&state, "referral", &id)?,
                partner_id: row.try_get(1).during(OP)?,
                partner_reference: row.try_get(2).during(OP)?,
                idempotency_key: row.try_get(3).during(OP)?,
                referral_id: ReferralId::from_db(id),
            })
        })
        .collect()
}

/// Moves `partner_id`'s due, unclaimed rows but its `keep` oldest to `until` (rows another
/// claimer has locked are left alone).
pub(super) async fn defer<C: GenericClient>(
    c: &C,
    partner_id: &str,
    keep: u32,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let (until, now) = (truncate(until), truncate(now));
    c.execute(
        "UPDATE outbox o SET not_before = $3, updated_at = $4
         FROM (SELECT o2.id FROM outbox o2 JOIN referrals r ON r.id = o2.referral_id
               WHERE r.partner_id = $1 AND o2.state = 'pending' AND o2.not_before <= $4
                 AND (o2.lease_until IS NULL OR o2.lease_until <= $4)
               ORDER BY o2.not_before, o2.id OFFSET $2
               FOR UPDATE OF o2 SKIP LOCKED) due
         WHERE o.id = due.id",
        &[&partner_id, &i64::from(keep), &until, &now],
    )
    .await
    .during("deferring a stalled partner's queue")
}

/// Gives back a claim on an outbox row whose partner was not called, attempt and all.
pub(super) async fn release_outbox(
    c: &mut Client,
    keys: &DataKeys,
    item: OutboxItemId,
    worker_id: &str,
    not_before: DateTime<Utc>,
    last_error: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "releasing an outbox item";
    let (not_before, now) = (truncate(not_before), truncate(now));
    let tx = c.transaction().await.during(OP)?;
    let held = tx
        .query_opt(
            "SELECT referral_id FROM outbox
             WHERE id = $1 AND lease_owner = $2 AND state = 'pending' FOR UPDATE",
            &[&item.0, &worker_id],
        )
        .await
        .during(OP)?;
    let Some(row) = held else { return Ok(false) };
    let referral_id: String = row.try_get(0).during(OP)?;
    let error = seal_text(keys, Some(last_error), &place::dispatch_error(&referral_id));
    tx.execute(
        "UPDATE outbox SET lease_owner = NULL, lease_until = NULL,
             attempts = GREATEST(attempts - 1, 0), not_before = $2, last_error = $3,
             updated_at = $4
         WHERE id = $1",
        &[&item.0, &not_before, &error, &now],
    )
    .await
    .during(OP)?;
    tx.commit().await.during(OP)?;
    Ok(true)
}

/// Gives back a claim on a cancel whose partner was not called, attempt and all.
pub(super) async fn release_cancel<C: GenericClient>(
    c: &C,
    keys: &DataKeys,
    referral_id: &ReferralId,
    worker_id: &str,
    not_before: DateTime<Utc>,
    last_error: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let key = referral_id.as_str();
    let (not_before, now) = (truncate(not_before), truncate(now));
    let error = seal_text(keys, Some(last_error), &place::cancel_error(key));
    c.execute(
        "UPDATE cancellations SET lease_owner = NULL, lease_until = NULL,
             attempts = GREATEST(attempts - 1, 0), not_before = $3, last_error = $4,
             updated_at = $5
         WHERE referral_id = $1 AND lease_owner = $2 AND state = 'pending'",
        &[&key, &worker_id, &not_before, &error, &now],
    )
    .await
    .map(|n| n > 0)
    .during("releasing a cancel")
}
