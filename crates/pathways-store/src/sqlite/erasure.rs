//! SQLite statements for erasure, legal holds and the retention sweep's query. An erasure is
//! one write, so one savepoint: it happens whole or not at all.

use chrono::{DateTime, Utc};
use pathways_core::{StatusReason, TaskState};
use rusqlite::{params, Connection, OptionalExtension};

use super::referrals::{set_state, ERASED};
use super::SqlResult;
use crate::codec::{from_micros, micros, open_text, place};
use crate::erasure::{Erasure, ErasureReason, LegalHold};
use crate::error::StoreError;
use crate::ids::CaseId;
use crate::referral::{StatusChange, StatusSource};
use crate::seal::DataKeys;

pub(super) fn erase(
    c: &Connection,
    keys: &DataKeys,
    case_id: &CaseId,
    reason: ErasureReason,
    now: DateTime<Utc>,
) -> Result<Erasure, StoreError> {
    const OP: &str = "erasing a case";
    let key = case_id.as_str();
    let row: Option<(Option<String>, Option<i64>)> = c
        .prepare_cached(
            "SELECT legal_hold_reason, legal_hold_at FROM cases WHERE id = ?1 AND erased_at IS NULL",
        )
        .and_then(|mut s| s.query_row([key], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .during(OP)?;
    let Some((hold_reason, hold_at)) = row else {
        return Err(StoreError::UnknownCase(case_id.clone()));
    };
    if let Some(at) = hold_at {
        return Err(StoreError::LegalHold {
            case_id: case_id.clone(),
            since: from_micros(at, "legal hold", key)?,
            reason: open_text(keys, hold_reason, "legal hold", key, &place::hold(key))?
                .unwrap_or_default(),
        });
    }
    // Queued and never delivered: cancelled, so nothing of this client leaves any more.
    let queued: Vec<(i64, String)> = c
        .prepare_cached(
            "SELECT o.id, o.referral_id FROM outbox o JOIN referrals r ON r.id = o.referral_id
             WHERE r.case_id = ?1 AND o.state = 'pending' AND r.sent_at IS NULL",
        )
        .and_then(|mut s| s.query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .during(OP)?;
    for (outbox_id, referral_id) in &queued {
        c.prepare_cached(
            "UPDATE outbox SET state = 'failed', lease_owner = NULL, lease_until = NULL,
                 updated_at = ?2 WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![outbox_id, micros(now)]))
        .during(OP)?;
        let cancelled = StatusChange {
            state: TaskState::Cancelled,
            reason: Some(StatusReason::Other),
            note: None,
            source: StatusSource::Referrer,
            at: now,
        };
        set_state(c, keys, referral_id, &cancelled)?;
    }
    let referrals = c
        .prepare_cached("UPDATE referrals SET payload = ?2 WHERE case_id = ?1")
        .and_then(|mut s| s.execute(params![key, ERASED]))
        .during(OP)?;
    for sql in [
        "UPDATE referral_history SET note = NULL
         WHERE referral_id IN (SELECT id FROM referrals WHERE case_id = ?1)",
        "UPDATE outbox SET last_error = NULL
         WHERE referral_id IN (SELECT id FROM referrals WHERE case_id = ?1)",
        "UPDATE cancellations SET note = NULL
         WHERE referral_id IN (SELECT id FROM referrals WHERE case_id = ?1)",
    ] {
        c.prepare_cached(sql).and_then(|mut s| s.execute([key])).during(OP)?;
    }
    c.prepare_cached("DELETE FROM follow_ups WHERE case_id = ?1")
        .and_then(|mut s| s.execute([key]))
        .during(OP)?;
    let plans = c
        .prepare_cached("DELETE FROM plans WHERE case_id = ?1")
        .and_then(|mut s| s.execute([key]))
        .during(OP)?;
    c.prepare_cached(
        "UPDATE cases SET case_json = ?2, erased_at = ?3, erasure_reason = ?4,
             legal_hold_reason = NULL, legal_hold_by = NULL, legal_hold_at = NULL,
             reference = NULL, consent_history = NULL
         WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![key, ERASED, micros(now), reason.as_str()]))
    .during(OP)?;
    Ok(Erasure { referrals: referrals as u64, cancelled: queued.len() as u64, plans: plans as u64 })
}

pub(super) fn set_hold(
    c: &Connection,
    case_id: &CaseId,
    hold: Option<&LegalHold>,
    sealed_reason: Option<&str>,
) -> Result<(), StoreError> {
    let updated = c
        .prepare_cached(
            "UPDATE cases SET legal_hold_reason = ?2, legal_hold_by = ?3, legal_hold_at = ?4
             WHERE id = ?1 AND erased_at IS NULL",
        )
        .and_then(|mut s| {
            s.execute(params![
                case_id.as_str(),
                sealed_reason,
                hold.map(|h| h.set_by.as_str()),
                hold.map(|h| micros(h.set_at)),
            ])
        })
        .during("setting a legal hold")?;
    if updated == 0 {
        return Err(StoreError::UnknownCase(case_id.clone()));
    }
    Ok(())
}

pub(super) fn due(
    c: &Connection,
    before: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<CaseId>, StoreError> {
    c.prepare_cached(
        "SELECT c.id FROM cases c
         WHERE c.erased_at IS NULL AND c.legal_hold_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM referrals r WHERE r.case_id = c.id
                 AND r.state IN ('draft', 'requested', 'accepted', 'in-progress', 'on-hold'))
           AND MAX(c.created_at,
                   COALESCE((SELECT MAX(p.created_at) FROM plans p WHERE p.case_id = c.id), 0),
                   COALESCE((SELECT MAX(r.state_changed_at) FROM referrals r
                             WHERE r.case_id = c.id), 0)) < ?1
         ORDER BY c.created_at, c.id LIMIT ?2",
    )
    .and_then(|mut s| s.query_map(params![micros(before), limit], |r| r.get(0))?.collect())
    .during("finding cases due for erasure")
    .map(|ids: Vec<String>| ids.into_iter().map(CaseId::from_db).collect())
}
