//! SQLite statements for a referral's state and history. Every write is one
//! `BEGIN IMMEDIATE` transaction on the writer connection.

use chrono::Utc;
use pathways_core::{NeedCode, StatusReason, TaskState};
use rusqlite::{params, Connection, OptionalExtension};

use super::SqlResult;
use crate::codec::{
    from_code, from_micros, micros, open_json, open_text, place, seal_text, to_code,
};
use crate::error::StoreError;
use crate::ids::{CaseId, ReferralId};
use crate::referral::{should_record, DispatchState, StatusChange, StoredReferral};
use crate::seal::DataKeys;

/// What an erased referral's payload and an erased case's document hold instead.
pub(super) const ERASED: &str = "erased";

const HISTORY_INSERT: &str = "INSERT INTO referral_history
    (referral_id, state, reason, note, source, at, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// Appends one history row, its note sealed.
pub(super) fn push_history(
    c: &Connection,
    keys: &DataKeys,
    id: &str,
    change: &StatusChange,
) -> Result<(), StoreError> {
    let note = seal_text(keys, change.note.as_deref(), &place::history_note(id));
    c.prepare_cached(HISTORY_INSERT)
        .and_then(|mut s| {
            s.execute(params![
                id,
                to_code(&change.state),
                change.reason.as_ref().map(to_code),
                note,
                to_code(&change.source),
                micros(change.at),
                micros(Utc::now()),
            ])
        })
        .during("recording referral history")?;
    Ok(())
}

/// Makes `change` the referral's current state and appends it to the history.
pub(super) fn set_state(
    c: &Connection,
    keys: &DataKeys,
    id: &str,
    change: &StatusChange,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE referrals SET state = ?2, reason = ?3, state_changed_at = ?4 WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            to_code(&change.state),
            change.reason.as_ref().map(to_code),
            micros(change.at)
        ])
    })
    .during("updating a referral's state")?;
    push_history(c, keys, id, change)
}

pub(super) fn record_status(
    c: &Connection,
    keys: &DataKeys,
    id: &ReferralId,
    change: &StatusChange,
) -> Result<bool, StoreError> {
    const OP: &str = "recording a referral status";
    type Current = (String, Option<String>, Option<i64>, bool);
    let current: Option<Current> = c
        .prepare_cached(
            "SELECT state, reason, (SELECT MAX(at) FROM referral_history h
                                    WHERE h.referral_id = r.id
                                      AND h.source IN ('partner_poll', 'partner_webhook', 'partner_inbox')),
                    payload = ?2
             FROM referrals r WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.query_row(params![id.as_str(), ERASED], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
        })
        .during(OP)?;
    let Some((state, reason, newest, erased)) = current else {
        return Err(StoreError::UnknownReferral(id.clone()));
    };
    let state: TaskState = from_code(&state, "referral", id.as_str())?;
    let reason: Option<StatusReason> =
        reason.map(|r| from_code(&r, "referral", id.as_str())).transpose()?;
    let newest = newest.map(|t| from_micros(t, "referral history", id.as_str())).transpose()?;
    if !should_record((state, reason), newest, change) {
        return Ok(false);
    }
    // The state still counts for the statistics after an erasure, but a note is free text
    // about a client whose data is gone: it is not kept.
    if erased && change.note.is_some() {
        let change = StatusChange { note: None, ..change.clone() };
        set_state(c, keys, id.as_str(), &change)?;
    } else {
        set_state(c, keys, id.as_str(), change)?;
    }
    Ok(true)
}

/// Every referral of a case, oldest first.
pub(super) fn of_case(
    c: &Connection,
    keys: &DataKeys,
    case_id: &CaseId,
) -> Result<Vec<StoredReferral>, StoreError> {
    let ids: Vec<String> = c
        .prepare_cached("SELECT id FROM referrals WHERE case_id = ?1 ORDER BY created_at, id")
        .and_then(|mut s| s.query_map([case_id.as_str()], |r| r.get(0))?.collect())
        .during("listing a case's referrals")?;
    let mut referrals = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(referral) = get(c, keys, &ReferralId::from_db(id))? {
            referrals.push(referral);
        }
    }
    Ok(referrals)
}

pub(super) fn get(
    c: &Connection,
    keys: &DataKeys,
    id: &ReferralId,
) -> Result<Option<StoredReferral>, StoreError> {
    const OP: &str = "reading a referral";
    let key = id.as_str();
    // One read transaction: the referral, its needs and its history from the same snapshot.
    let tx = c.unchecked_transaction().during(OP)?;
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        i64,
        Option<String>,
        i64,
        Option<i64>,
        String,
        u32,
        i64,
        Option<String>,
    );
    let row: Option<Row> = tx
        .prepare_cached(
            "SELECT r.case_id, r.partner_id, r.idempotency_key, r.payload, r.state, r.reason,
                    r.state_changed_at, r.partner_reference, r.created_at, r.sent_at,
                    o.state, o.attempts, o.not_before, o.last_error
             FROM referrals r JOIN outbox o ON o.referral_id = r.id WHERE r.id = ?1",
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
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                    r.get(12)?,
                    r.get(13)?,
                ))
            })
            .optional()
        })
        .during(OP)?;
    let Some((
        case_id,
        partner_id,
        idempotency_key,
        payload,
        state,
        reason,
        changed,
        partner_reference,
        created,
        sent,
        o_state,
        attempts,
        not_before,
        last_error,
    )) = row
    else {
        return Ok(None);
    };
    let mut needs: Vec<NeedCode> = tx
        .prepare_cached("SELECT need FROM referral_needs WHERE referral_id = ?1")
        .and_then(|mut s| {
            s.query_map([key], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()
        })
        .during(OP)?
        .iter()
        .map(|n| from_code(n, "referral need", key))
        .collect::<Result<_, _>>()?;
    needs.sort();
    type HistoryRow = (String, Option<String>, Option<String>, String, i64);
    let history: Vec<HistoryRow> = tx
        .prepare_cached(
            "SELECT state, reason, note, source, at FROM referral_history
             WHERE referral_id = ?1 ORDER BY seq",
        )
        .and_then(|mut s| {
            s.query_map([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .during(OP)?;
    let history = history
        .into_iter()
        .map(|(state, reason, note, source, at)| {
            Ok(StatusChange {
                state: from_code(&state, "referral history", key)?,
                reason: reason.map(|r| from_code(&r, "referral history", key)).transpose()?,
                note: open_text(keys, note, "referral history", key, &place::history_note(key))?,
                source: from_code(&source, "referral history", key)?,
                at: from_micros(at, "referral history", key)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(StoredReferral {
        id: id.clone(),
        case_id: CaseId::from_db(case_id),
        partner_id,
        needs,
        idempotency_key,
        state: from_code(&state, "referral", key)?,
        reason: reason.map(|r| from_code(&r, "referral", key)).transpose()?,
        state_changed_at: from_micros(changed, "referral", key)?,
        partner_reference,
        created_at: from_micros(created, "referral", key)?,
        sent_at: sent.map(|t| from_micros(t, "referral", key)).transpose()?,
        history,
        dispatch: DispatchState {
            state: from_code(&o_state, "outbox item", key)?,
            attempts,
            not_before: from_micros(not_before, "outbox item", key)?,
            last_error: open_text(
                keys,
                last_error,
                "outbox item",
                key,
                &place::dispatch_error(key),
            )?,
        },
        referral: match payload.as_str() {
            ERASED => None,
            sealed => Some(open_json(keys, sealed, "referral", key, &place::referral(key))?),
        },
        cancellation: super::cancel::read(&tx, keys, key)?,
    }))
}
