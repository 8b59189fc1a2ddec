//! SQLite statements for cancelling a referral (see [`crate::cancel`]). Each function is one
//! atomic write on the writer connection.

use std::time::Duration;

use chrono::{DateTime, Utc};
use pathways_core::{CancelReason, TaskState};
use rusqlite::{params, Connection, OptionalExtension};

use super::referrals::{record_status, set_state};
use super::SqlResult;
use crate::cancel::{
    answered_change, answered_state, moot_state, unsupported_change, withdrawn_change, CancelItem,
    CancelOrder, CancelOutcome, CancelRequested, CancelState, Cancellation,
};
use crate::codec::{from_code, from_micros, micros, open_text, place, seal_text, to_code};
use crate::error::StoreError;
use crate::ids::{CaseId, ReferralId};
use crate::lanes::PartnerRoom;
use crate::seal::DataKeys;

/// A referral's state and its send's, as a cancel needs them.
struct Where {
    state: TaskState,
    send_state: String,
    send_lease: Option<i64>,
}

fn locate(c: &Connection, id: &str) -> Result<Option<Where>, StoreError> {
    let row: Option<(String, String, Option<i64>)> = c
        .prepare_cached(
            "SELECT r.state, o.state, o.lease_until
             FROM referrals r JOIN outbox o ON o.referral_id = r.id WHERE r.id = ?1",
        )
        .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
        .during("reading a referral to cancel")?;
    row.map(|(state, send_state, send_lease)| {
        Ok(Where { state: from_code(&state, "referral", id)?, send_state, send_lease })
    })
    .transpose()
}

/// Withdraws a queued send: its outbox row is `withdrawn`, the referral `cancelled`.
fn withdraw(
    c: &Connection,
    keys: &DataKeys,
    id: &str,
    reason: CancelReason,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE outbox SET state = 'withdrawn', lease_owner = NULL, lease_until = NULL,
             updated_at = ?2 WHERE referral_id = ?1 AND state = 'pending'",
    )
    .and_then(|mut s| s.execute(params![id, micros(now)]))
    .during("withdrawing a queued referral")?;
    set_state(c, keys, id, &withdrawn_change(reason, now))
}

/// Ends a cancel row in `state`, with `error` (sealed).
fn settle(
    c: &Connection,
    keys: &DataKeys,
    id: &str,
    state: CancelState,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let error = seal_text(keys, error, &place::cancel_error(id));
    c.prepare_cached(
        "UPDATE cancellations SET state = ?2, last_error = COALESCE(?3, last_error),
             lease_owner = NULL, lease_until = NULL, updated_at = ?4
         WHERE referral_id = ?1",
    )
    .and_then(|mut s| s.execute(params![id, to_code(&state), error, micros(now)]))
    .during("settling a cancel")?;
    Ok(())
}

pub(super) fn request(
    c: &Connection,
    keys: &DataKeys,
    id: &ReferralId,
    order: &CancelOrder,
    now: DateTime<Utc>,
) -> Result<Option<CancelRequested>, StoreError> {
    const OP: &str = "recording a cancel";
    let key = id.as_str();
    let Some(found) = locate(c, key)? else { return Ok(None) };
    let earlier: Option<String> = c
        .prepare_cached("SELECT state FROM cancellations WHERE referral_id = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .during(OP)?;
    if let Some(earlier) = earlier {
        return Ok(Some(CancelRequested::Already(from_code(&earlier, "cancel", key)?)));
    }
    if found.state.is_final() {
        return Ok(Some(CancelRequested::Final(found.state)));
    }
    let in_flight = found.send_lease.filter(|&until| until > micros(now));
    let (state, answer) = if found.send_state == "pending" && in_flight.is_none() {
        withdraw(c, keys, key, order.reason, now)?;
        (CancelState::Withdrawn, CancelRequested::Withdrawn)
    } else {
        (CancelState::Pending, CancelRequested::Queued)
    };
    let note = seal_text(keys, order.note.as_deref(), &place::cancel_note(key));
    c.prepare_cached(
        "INSERT INTO cancellations (referral_id, reason, note, requested_by, requested_at, state,
             not_before, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            key,
            to_code(&order.reason),
            note,
            order.requested_by,
            micros(now),
            to_code(&state),
            in_flight.unwrap_or(micros(now)),
        ])
    })
    .during(OP)?;
    Ok(Some(answer))
}

pub(super) fn claim(
    c: &Connection,
    keys: &DataKeys,
    worker_id: &str,
    limit: u32,
    lease: Duration,
    now: DateTime<Utc>,
    room: &PartnerRoom,
) -> Result<Vec<CancelItem>, StoreError> {
    const OP: &str = "claiming cancels";
    let mut room = room.clone();
    let lease_until = crate::referral::lease_until(now, lease);
    type Row = (String, String, String, String, Option<String>, String, u32, i64);
    // Looked at oldest first; settled ones make room, so a batch may look further than
    // `limit` rows (bounded: each is settled for good or postponed).
    let due: Vec<Row> = c
        .prepare_cached(
            "SELECT c.referral_id, r.case_id, r.partner_id, r.idempotency_key,
                    r.partner_reference, c.reason, c.attempts, c.requested_at
             FROM cancellations c JOIN referrals r ON r.id = c.referral_id
             WHERE c.state = 'pending' AND c.not_before <= ?1
               AND (c.lease_until IS NULL OR c.lease_until <= ?1)
               AND r.partner_id NOT IN (SELECT value FROM json_each(?3))
             ORDER BY c.not_before, c.referral_id LIMIT ?2",
        )
        .and_then(|mut s| {
            let scan = limit.saturating_mul(4).max(limit);
            s.query_map(params![micros(now), scan, room.full_json()], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .during(OP)?;
    let mut items = Vec::new();
    for (id, case_id, partner_id, idempotency_key, partner_reference, reason, attempts, at) in due {
        if items.len() >= limit as usize {
            break;
        }
        let reason: CancelReason = from_code(&reason, "cancel", &id)?;
        let Some(found) = locate(c, &id)? else { continue };
        if found.state.is_final() {
            let (state, error) = moot_state(found.state);
            settle(c, keys, &id, state, error.as_deref(), now)?;
            continue;
        }
        if found.send_state == "pending" {
            match found.send_lease.filter(|&until| until > micros(now)) {
                // A send is in flight: come back when its lease is over.
                Some(until) => {
                    c.prepare_cached(
                        "UPDATE cancellations SET not_before = ?2 WHERE referral_id = ?1",
                    )
                    .and_then(|mut s| s.execute(params![id, until]))
                    .during(OP)?;
                }
                // It went back to the queue (a retry): withdraw it after all.
                None => {
                    withdraw(c, keys, &id, reason, now)?;
                    settle(c, keys, &id, CancelState::Withdrawn, None, now)?;
                }
            }
            continue;
        }
        let Some(partner_reference) = partner_reference else {
            // Delivered without a reference cannot happen; never send a cancel blind.
            settle(c, keys, &id, CancelState::Failed, Some("no partner reference"), now)?;
            continue;
        };
        // Its partner's lane is full: left for a later claim, unleased and unspent.
        if !room.take(&partner_id) {
            continue;
        }
        c.prepare_cached(
            "UPDATE cancellations SET lease_owner = ?2, lease_until = ?3,
                 attempts = attempts + 1, updated_at = ?4 WHERE referral_id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, worker_id, micros(lease_until), micros(now)]))
        .during(OP)?;
        items.push(CancelItem {
            requested_at: from_micros(at, "cancel", &id)?,
            referral_id: ReferralId::from_db(id),
            case_id: CaseId::from_db(case_id),
            partner_id,
            idempotency_key,
            partner_reference,
            reason,
            attempt: attempts + 1,
            lease_until,
        });
    }
    Ok(items)
}

pub(super) fn finish(
    c: &Connection,
    keys: &DataKeys,
    id: &ReferralId,
    worker_id: &str,
    outcome: &CancelOutcome,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "finishing a cancel";
    let key = id.as_str();
    let held: Option<String> = c
        .prepare_cached(
            "SELECT reason FROM cancellations
             WHERE referral_id = ?1 AND lease_owner = ?2 AND state = 'pending'",
        )
        .and_then(|mut s| s.query_row(params![key, worker_id], |r| r.get(0)).optional())
        .during(OP)?;
    let Some(reason) = held else { return Ok(false) };
    let reason: CancelReason = from_code(&reason, "cancel", key)?;
    match outcome {
        CancelOutcome::Answered(status) => {
            let (state, error) = answered_state(status.state);
            settle(c, keys, key, state, error.as_deref(), now)?;
            record_status(c, keys, id, &answered_change(status, now))?;
        }
        CancelOutcome::Unsupported { message } => {
            settle(c, keys, key, CancelState::Unsupported, Some(message), now)?;
            record_status(c, keys, id, &unsupported_change(reason, now))?;
        }
        CancelOutcome::Retry { not_before, last_error } => {
            let error = seal_text(keys, Some(last_error), &place::cancel_error(key));
            c.prepare_cached(
                "UPDATE cancellations SET not_before = ?2, last_error = ?3, lease_owner = NULL,
                     lease_until = NULL, updated_at = ?4 WHERE referral_id = ?1",
            )
            .and_then(|mut s| s.execute(params![key, micros(*not_before), error, micros(now)]))
            .during(OP)?;
        }
        CancelOutcome::Failed { reason } => {
            settle(c, keys, key, CancelState::Failed, Some(reason), now)?;
        }
    }
    Ok(true)
}

/// The cancel of a referral, if one was asked for.
pub(super) fn read(
    c: &Connection,
    keys: &DataKeys,
    key: &str,
) -> Result<Option<Cancellation>, StoreError> {
    type Row = (String, Option<String>, String, i64, String, u32, Option<String>, i64);
    let row: Option<Row> = c
        .prepare_cached(
            "SELECT reason, note, requested_by, requested_at, state, attempts, last_error,
                    updated_at
             FROM cancellations WHERE referral_id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([key], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .optional()
        })
        .during("reading a referral's cancel")?;
    let Some((reason, note, requested_by, at, state, attempts, last_error, updated)) = row else {
        return Ok(None);
    };
    Ok(Some(Cancellation {
        reason: from_code(&reason, "cancel", key)?,
        note: open_text(keys, note, "cancel", key, &place::cancel_note(key))?,
        requested_by,
        requested_at: from_micros(at, "cancel", key)?,
        state: from_code(&state, "cancel", key)?,
        attempts,
        last_error: open_text(keys, last_error, "cancel", key, &place::cancel_error(key))?,
        updated_at: from_micros(updated, "cancel", key)?,
    }))
}
