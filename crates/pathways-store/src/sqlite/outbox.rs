//! SQLite statements for the outbox: creating referrals with their outbox rows, claiming due
//! rows under a lease, and finishing an attempt. Each function is one atomic write: the
//! writer runs it in a savepoint of its batch's `BEGIN IMMEDIATE` transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use pathways_core::{NeedCode, StatusReason, TaskState};
use rusqlite::{params, Connection, OptionalExtension};

use super::referrals::{push_history, set_state};
use super::{is_constraint, SqlResult};
use crate::codec::{
    from_code, from_micros, micros, open_json, place, seal_json, seal_text, to_code,
};
use crate::error::StoreError;
use crate::ids::{CaseId, OutboxItemId, ReferralId};
use crate::referral::{DispatchOutcome, NewReferral, OutboxItem, StatusChange, StatusSource};
use crate::seal::DataKeys;

/// The live referral of a step, if there is one: the oldest, when version 1 left several.
/// Legacy duplicates count: the index lets them be, but while one is live the step is not
/// free.
fn live_for_step(
    c: &Connection,
    case_id: &CaseId,
    partner_id: &str,
    need: Option<&str>,
    service_id: &str,
) -> Result<Option<String>, StoreError> {
    c.prepare_cached(
        "SELECT id FROM referrals
         WHERE case_id = ?1 AND partner_id = ?2 AND step_need IS ?3 AND service_id = ?4
           AND state IN ('draft', 'requested', 'accepted', 'in-progress', 'on-hold')
         ORDER BY created_at, id LIMIT 1",
    )
    .and_then(|mut s| {
        s.query_row(params![case_id.as_str(), partner_id, need, service_id], |r| r.get(0))
            .optional()
    })
    .during("looking for a step's live referral")
}

pub(super) fn create(
    c: &Connection,
    keys: &DataKeys,
    case_id: &CaseId,
    referrals: &[NewReferral],
    now: DateTime<Utc>,
) -> Result<Vec<ReferralId>, StoreError> {
    const OP: &str = "creating referrals";
    let live = crate::referral::LIVE_STATES.map(|s| to_code(&s));
    debug_assert_eq!(live, ["draft", "requested", "accepted", "in-progress", "on-hold"]);
    let exists: bool = c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM cases WHERE id = ?1 AND erased_at IS NULL)")
        .and_then(|mut s| s.query_row([case_id.as_str()], |r| r.get(0)))
        .during(OP)?;
    if !exists {
        return Err(StoreError::UnknownCase(case_id.clone()));
    }
    let mut ids = Vec::with_capacity(referrals.len());
    for new in referrals {
        let r = &new.referral;
        let id = ReferralId::random();
        let payload = seal_json(keys, r, "referral", &place::referral(id.as_str()))?;
        let need = new.step_need().map(|n| to_code(&n));
        // A repeat of the same referral (same key) first, then another live one for its step.
        if super::lookup::by_key(c, &r.idempotency_key)?.is_some() {
            return Err(StoreError::DuplicateReferral { key: r.idempotency_key.to_string() });
        }
        let step_taken = |existing: String| StoreError::StepHasLiveReferral {
            existing: ReferralId::from_db(existing),
            need: need.clone().unwrap_or_default(),
            partner_id: r.partner_id.to_string(),
        };
        if let Some(existing) =
            live_for_step(c, case_id, &r.partner_id, need.as_deref(), &r.service.id)?
        {
            return Err(step_taken(existing));
        }
        let inserted = c
            .prepare_cached(
                "INSERT INTO referrals (id, case_id, partner_id, idempotency_key, payload, state,
                     state_changed_at, created_at, step_need, service_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id.as_str(),
                    case_id.as_str(),
                    r.partner_id.as_str(),
                    r.idempotency_key.as_str(),
                    payload,
                    to_code(&TaskState::Draft),
                    micros(now),
                    need,
                    r.service.id,
                ])
            });
        match inserted {
            Err(e) if is_constraint(&e, "referrals.idempotency_key") => {
                return Err(StoreError::DuplicateReferral { key: r.idempotency_key.to_string() })
            }
            // Two referrals for one step in the same request.
            Err(e) if is_constraint(&e, "referrals.case_id") => {
                let existing =
                    live_for_step(c, case_id, &r.partner_id, need.as_deref(), &r.service.id)?;
                return Err(step_taken(existing.unwrap_or_default()));
            }
            Err(e) if is_constraint(&e, "FOREIGN KEY") => {
                return Err(StoreError::UnknownCase(case_id.clone()))
            }
            other => other.during(OP)?,
        };
        let mut needs: Vec<NeedCode> = r.needs.iter().map(|n| n.code).collect();
        needs.sort();
        needs.dedup();
        for need in needs {
            c.prepare_cached("INSERT INTO referral_needs (referral_id, need) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![id.as_str(), to_code(&need)]))
                .during(OP)?;
        }
        let draft = StatusChange {
            state: TaskState::Draft,
            reason: None,
            note: None,
            source: StatusSource::Referrer,
            at: now,
        };
        push_history(c, keys, id.as_str(), &draft)?;
        c.prepare_cached(
            "INSERT INTO outbox (referral_id, state, attempts, not_before, updated_at)
             VALUES (?1, 'pending', 0, ?2, ?2)",
        )
        .and_then(|mut s| s.execute(params![id.as_str(), micros(now)]))
        .during(OP)?;
        ids.push(id);
    }
    Ok(ids)
}

pub(super) fn claim(
    c: &Connection,
    keys: &DataKeys,
    worker_id: &str,
    limit: u32,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxItem>, StoreError> {
    const OP: &str = "claiming outbox items";
    let lease_until = crate::referral::lease_until(now, lease);
    // The write lock taken by the batch's BEGIN IMMEDIATE makes select-then-update atomic
    // against every other connection, in this process or another.
    let rows = c
        .prepare_cached(
            "UPDATE outbox SET lease_owner = ?1, lease_until = ?2, attempts = attempts + 1,
                 updated_at = ?3
             WHERE id IN (SELECT id FROM outbox
                          WHERE state = 'pending' AND not_before <= ?3
                            AND (lease_until IS NULL OR lease_until <= ?3)
                          ORDER BY not_before, id LIMIT ?4)
             RETURNING id, referral_id, attempts, not_before",
        )
        .and_then(|mut s| {
            s.query_map(params![worker_id, micros(lease_until), micros(now), limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .during(OP)?;
    load_claimed(c, keys, rows, lease_until, now)
}

/// The items of rows just claimed (`(outbox id, referral id, attempt, not_before)`), oldest due
/// first, each with its referral opened; a row whose referral cannot be opened is set aside
/// (unclaimed, due again later, the reason kept) so it does not stop the others.
pub(super) fn load_claimed(
    c: &Connection,
    keys: &DataKeys,
    mut rows: Vec<(i64, String, u32, i64)>,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxItem>, StoreError> {
    const OP: &str = "claiming outbox items";
    rows.sort_by_key(|&(id, _, _, not_before)| (not_before, id));
    let mut items = Vec::with_capacity(rows.len());
    for (id, referral_id, attempt, _) in rows {
        let (case_id, partner_id, idempotency_key, payload, created_at) = c
            .prepare_cached(
                "SELECT case_id, partner_id, idempotency_key, payload, created_at
                 FROM referrals WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([&referral_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })
            })
            .during(OP)?;
        let created_at = from_micros(created_at, "referral", &referral_id)?;
        let place = place::referral(&referral_id);
        let referral = match open_json(keys, &payload, "referral", &referral_id, &place) {
            Ok(referral) => referral,
            // One unreadable row must not stop every other referral: it is set aside.
            Err(e @ (StoreError::Sealed { .. } | StoreError::Corrupt { .. })) => {
                let until = micros(now + crate::referral::unreadable_wait());
                let error = crate::referral::unreadable_note(&e);
                let error = seal_text(keys, Some(&error), &place::dispatch_error(&referral_id));
                c.prepare_cached(
                    "UPDATE outbox SET lease_owner = NULL, lease_until = NULL, not_before = ?2,
                         last_error = ?3 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![id, until, error]))
                .during(OP)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        items.push(OutboxItem {
            id: OutboxItemId(id),
            referral,
            referral_id: ReferralId::from_db(referral_id),
            case_id: CaseId::from_db(case_id),
            partner_id,
            idempotency_key,
            attempt,
            created_at,
            lease_until,
        });
    }
    Ok(items)
}

pub(super) fn finish(
    c: &Connection,
    keys: &DataKeys,
    item: OutboxItemId,
    worker_id: &str,
    outcome: &DispatchOutcome,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "finishing an outbox item";
    let held: Option<(String, String)> = c
        .prepare_cached(
            "SELECT o.referral_id, r.state FROM outbox o JOIN referrals r ON r.id = o.referral_id
             WHERE o.id = ?1 AND o.lease_owner = ?2 AND o.state = 'pending'",
        )
        .and_then(|mut s| {
            s.query_row(params![item.0, worker_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()
        })
        .during(OP)?;
    let Some((referral_id, state)) = held else { return Ok(false) };
    let still_draft = from_code::<TaskState>(&state, "referral", &referral_id)? == TaskState::Draft;
    let (outbox_state, not_before, last_error, referral_change) = match outcome {
        DispatchOutcome::Delivered { partner_reference } => {
            c.prepare_cached(
                "UPDATE referrals SET partner_reference = ?2, sent_at = COALESCE(sent_at, ?3)
                 WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![referral_id, partner_reference, micros(now)]))
            .during(OP)?;
            ("delivered", None, None, (TaskState::Requested, None, None))
        }
        DispatchOutcome::Retry { not_before, last_error } => (
            "pending",
            Some(micros(*not_before)),
            Some(last_error.as_str()),
            (TaskState::Draft, None, None),
        ),
        DispatchOutcome::Failed { reason } => (
            "failed",
            None,
            Some(reason.as_str()),
            (TaskState::Failed, Some(StatusReason::Other), Some(reason.clone())),
        ),
    };
    c.prepare_cached(
        "UPDATE outbox SET state = ?2, not_before = COALESCE(?3, not_before), last_error = ?4,
             lease_owner = NULL, lease_until = NULL, updated_at = ?5
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        let last_error = seal_text(keys, last_error, &place::dispatch_error(&referral_id));
        s.execute(params![item.0, outbox_state, not_before, last_error, micros(now)])
    })
    .during(OP)?;
    // Only a referral still in draft moves: a partner callback may have overtaken the
    // dispatcher (it accepted before we recorded the delivery), and that news is newer.
    let (state, reason, note) = referral_change;
    if still_draft && state != TaskState::Draft {
        let change =
            StatusChange { state, reason, note, source: StatusSource::Dispatcher, at: now };
        set_state(c, keys, &referral_id, &change)?;
    }
    Ok(true)
}
