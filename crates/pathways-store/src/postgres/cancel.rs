//! PostgreSQL statements for cancelling a referral (see [`crate::cancel`]). Each function is
//! one transaction; the referral's row is locked first, so a cancel, a send being claimed and
//! a status report about the same referral are serialised, in this daemon or another.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use pathways_core::{CancelReason, TaskState};

use super::referrals::{record_status_in, set_state};
use super::PgResult;
use crate::cancel::{
    answered_change, answered_state, moot_state, unsupported_change, withdrawn_change, CancelItem,
    CancelOrder, CancelOutcome, CancelRequested, CancelState, Cancellation,
};
use crate::codec::{from_code, open_text, place, seal_text, to_code, truncate};
use crate::error::StoreError;
use crate::ids::{CaseId, ReferralId};
use crate::lanes::PartnerRoom;
use crate::seal::DataKeys;

/// A referral's state and its send's, as a cancel needs them; locks both rows.
struct Where {
    state: TaskState,
    send_state: String,
    send_lease: Option<DateTime<Utc>>,
}

async fn locate<C: GenericClient>(c: &C, id: &str) -> Result<Option<Where>, StoreError> {
    const OP: &str = "reading a referral to cancel";
    let s = c
        .prepare_cached(
            "SELECT r.state, o.state, o.lease_until
             FROM referrals r JOIN outbox o ON o.referral_id = r.id WHERE r.id = $1
             FOR UPDATE OF r, o",
        )
        .await
        .during(OP)?;
    let Some(row) = c.query_opt(&s, &[&id]).await.during(OP)? else { return Ok(None) };
    Ok(Some(Where {
        state: from_code(&row.try_get::<_, String>(0).during(OP)?, "referral", id)?,
        send_state: row.try_get(1).during(OP)?,
        send_lease: row.try_get(2).during(OP)?,
    }))
}

/// Withdraws a queued send: its outbox row is `withdrawn`, the referral `cancelled`.
async fn withdraw<C: GenericClient>(
    c: &C,
    keys: &DataKeys,
    id: &str,
    reason: CancelReason,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE outbox SET state = 'withdrawn', lease_owner = NULL, lease_until = NULL,
             updated_at = $2 WHERE referral_id = $1 AND state = 'pending'",
        &[&id, &now],
    )
    .await
    .during("withdrawing a queued referral")?;
    set_state(c, keys, id, &withdrawn_change(reason, now)).await
}

/// Ends a cancel row in `state`, with `error` (sealed).
async fn settle<C: GenericClient>(
    c: &C,
    keys: &DataKeys,
    id: &str,
    state: CancelState,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let error = seal_text(keys, error, &place::cancel_error(id));
    c.execute(
        "UPDATE cancellations SET state = $2, last_error = COALESCE($3, last_error),
             lease_owner = NULL, lease_until = NULL, updated_at = $4
         WHERE referral_id = $1",
        &[&id, &to_code(&state), &error, &now],
    )
    .await
    .during("settling a cancel")?;
    Ok(())
}

pub(super) async fn request(
    c: &mut Client,
    keys: &DataKeys,
    id: &ReferralId,
    order: &CancelOrder,
    now: DateTime<Utc>,
) -> Result<Option<CancelRequested>, StoreError> {
    const OP: &str = "recording a cancel";
    let now = truncate(now);
    let key = id.as_str();
    let tx = c.transaction().await.during(OP)?;
    let Some(found) = locate(&tx, key).await? else { return Ok(None) };
    let earlier = tx
        .query_opt("SELECT state FROM cancellations WHERE referral_id = $1", &[&key])
        .await
        .during(OP)?;
    if let Some(earlier) = earlier {
        let state: String = earlier.try_get(0).during(OP)?;
        return Ok(Some(CancelRequested::Already(from_code(&state, "cancel", key)?)));
    }
    if found.state.is_final() {
        return Ok(Some(CancelRequested::Final(found.state)));
    }
    let in_flight = found.send_lease.filter(|&until| until > now);
    let (state, answer) = if found.send_state == "pending" && in_flight.is_none() {
        withdraw(&tx, keys, key, order.reason, now).await?;
        (CancelState::Withdrawn, CancelRequested::Withdrawn)
    } else {
        (CancelState::Pending, CancelRequested::Queued)
    };
    let note = seal_text(keys, order.note.as_deref(), &place::cancel_note(key));
    tx.execute(
        "INSERT INTO cancellations (referral_id, reason, note, requested_by, requested_at, state,
             not_before, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $5)",
        &[
            &key,
            &to_code(&order.reason),
            &note,
            &order.requested_by,
            &now,
            &to_code(&state),
            &in_flight.unwrap_or(now),
        ],
    )
    .await
    .during(OP)?;
    tx.commit().await.during(OP)?;
    Ok(Some(answer))
}

pub(super) async fn claim(
    c: &mut Client,
    keys: &DataKeys,
    worker_id: &str,
    limit: u32,
    lease: Duration,
    now: DateTime<Utc>,
    room: &PartnerRoom,
) -> Result<Vec<CancelItem>, StoreError> {
    const OP: &str = "claiming cancels";
    let mut room = room.clone();
    let now = truncate(now);
    let lease_until = crate::referral::lease_until(now, lease);
    let tx = c.transaction().await.during(OP)?;
    // Rows another claimer has locked are skipped, not waited for.
    let due = tx
        .query(
            "SELECT c.referral_id, r.case_id, r.partner_id, r.idempotency_key,
                    r.partner_reference, c.reason, c.attempts, c.requested_at
             FROM cancellations c JOIN referrals r ON r.id = c.referral_id
             WHERE c.state = 'pending' AND c.not_before <= $1
               AND (c.lease_until IS NULL OR c.lease_until <= $1)
               AND NOT (r.partner_id = ANY($3))
             ORDER BY c.not_before, c.referral_id LIMIT $2
             FOR UPDATE OF c SKIP LOCKED",
            &[&now, &i64::from(limit), &room.full()],
        )
        .await
        .during(OP)?;
    let mut items = Vec::new();
    for row in due {
        if items.len() >= limit as usize {
            break;
        }
        let id: String = row.try_get(0).during(OP)?;
        let reason: CancelReason =
            from_code(&row.try_get::<_, String>(5).during(OP)?, "cancel", &id)?;
        let Some(found) = locate(&tx, &id).await? else { continue };
        if found.state.is_final() {
            let (state, error) = moot_state(found.state);
            settle(&tx, keys, &id, state, error.as_deref(), now).await?;
            continue;
        }
        if found.send_state == "pending" {
            match found.send_lease.filter(|&until| until > now) {
                // A send is in flight: come back when its lease is over.
                Some(until) => {
                    tx.execute(
                        "UPDATE cancellations SET not_before = $2 WHERE referral_id = $1",
                        &[&id, &until],
                    )
                    .await
                    .during(OP)?;
                }
                // It went back to the queue (a retry): withdraw it after all.
                None => {
                    withdraw(&tx, keys, &id, reason, now).await?;
                    settle(&tx, keys, &id, CancelState::Withdrawn, None, now).await?;
                }
            }
            continue;
        }
        let partner_reference: Option<String> = row.try_get(4).during(OP)?;
        let Some(partner_reference) = partner_reference else {
            // Delivered without a reference cannot happen; never send a cancel blind.
            settle(&tx, keys, &id, CancelState::Failed, Some("no partner reference"), now).await?;
            continue;
        };
        let partner_id: String = row.try_get(2).during(OP)?;
        // Its partner's lane is full: left for a later claim, unleased and unspent.
        if !room.take(&partner_id) {
            continue;
        }
        tx.execute(
            "UPDATE cancellations SET lease_owner = $2, lease_until = $3,
                 attempts = attempts + 1, updated_at = $4 WHERE referral_id = $1",
            &[&id, &worker_id, &lease_until, &now],
        )
        .await
        .during(OP)?;
        let attempts: i32 = row.try_get(6).during(OP)?;
        items.push(CancelItem {
            case_id: CaseId::from_db(row.try_get(1).during(OP)?),
            partner_id,
            idempotency_key: row.try_get(3).during(OP)?,
            requested_at: row.try_get(7).during(OP)?,
            referral_id: ReferralId::from_db(id),
            partner_reference,
            reason,
            attempt: u32::try_from(attempts).unwrap_or(0) + 1,
            lease_until,
        });
    }
    tx.commit().await.during(OP)?;
    Ok(items)
}

pub(super) async fn finish(
    c: &mut Client,
    keys: &DataKeys,
    id: &ReferralId,
    worker_id: &str,
    outcome: &CancelOutcome,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "finishing a cancel";
    let now = truncate(now);
    let key = id.as_str();
    let tx = c.transaction().await.during(OP)?;
    let held = tx
        .query_opt(
            "SELECT reason FROM cancellations
             WHERE referral_id = $1 AND lease_owner = $2 AND state = 'pending' FOR UPDATE",
            &[&key, &worker_id],
        )
        .await
        .during(OP)?;
    let Some(held) = held else { return Ok(false) };
    let reason: CancelReason = from_code(&held.try_get::<_, String>(0).during(OP)?, "cancel", key)?;
    match outcome {
        CancelOutcome::Answered(status) => {
            let (state, error) = answered_state(status.state);
            settle(&tx, keys, key, state, error.as_deref(), now).await?;
            record_status_in(&tx, keys, id, &answered_change(status, now)).await?;
        }
        CancelOutcome::Unsupported { message } => {
            settle(&tx, keys, key, CancelState::Unsupported, Some(message), now).await?;
            record_status_in(&tx, keys, id, &unsupported_change(reason, now)).await?;
        }
        CancelOutcome::Retry { not_before, last_error } => {
            let error = seal_text(keys, Some(last_error), &place::cancel_error(key));
            tx.execute(
                "UPDATE cancellations SET not_before = $2, last_error = $3, lease_owner = NULL,
                     lease_until = NULL, updated_at = $4 WHERE referral_id = $1",
                &[&key, &truncate(*not_before), &error, &now],
            )
            .await
            .during(OP)?;
        }
        CancelOutcome::Failed { reason } => {
            settle(&tx, keys, key, CancelState::Failed, Some(reason), now).await?;
        }
    }
    tx.commit().await.during(OP)?;
    Ok(true)
}

/// The cancel of a referral, if one was asked for.
pub(super) async fn read<C: GenericClient>(
    c: &C,
    keys: &DataKeys,
    key: &str,
) -> Result<Option<Cancellation>, StoreError> {
    const OP: &str = "reading a referral's cancel";
    let s = c
        .prepare_cached(
            "SELECT reason, note, requested_by, requested_at, state, attempts, last_error,
                    updated_at
             FROM cancellations WHERE referral_id = $1",
        )
        .await
        .during(OP)?;
    let Some(row) = c.query_opt(&s, &[&key]).await.during(OP)? else { return Ok(None) };
    let attempts: i32 = row.try_get(5).during(OP)?;
    Ok(Some(Cancellation {
        reason: from_code(&row.try_get::<_, String>(0).during(OP)?, "cancel", key)?,
        note: open_text(keys, row.try_get(1).during(OP)?, "cancel", key, &place::cancel_note(key))?,
        requested_by: row.try_get(2).during(OP)?,
        requested_at: row.try_get(3).during(OP)?,
        state: from_code(&row.try_get::<_, String>(4).during(OP)?, "cancel", key)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_error: open_text(
            keys,
            row.try_get(6).during(OP)?,
            "cancel",
            key,
            &place::cancel_error(key),
        )?,
        updated_at: row.try_get(7).during(OP)?,
    }))
}
