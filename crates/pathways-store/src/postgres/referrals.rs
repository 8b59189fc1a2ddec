//! PostgreSQL statements for a referral's state and history.

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use pathways_core::{NeedCode, StatusReason, TaskState};
use tokio_postgres::IsolationLevel;

use super::PgResult;
use crate::codec::{from_code, open_json, open_text, place, seal_text, to_code, truncate};
use crate::error::StoreError;
use crate::ids::{CaseId, ReferralId};
use crate::referral::{should_record, DispatchState, PartnerEvent, StatusChange, StoredReferral};
use crate::seal::DataKeys;

/// What an erased referral's payload and an erased case's document hold instead.
pub(super) const ERASED: &str = "erased";

/// Appends one history row, its note sealed.
pub(super) async fn push_history<C: GenericClient>(
    c: &C,
    keys: &DataKeys,
    id: &str,
    change: &StatusChange,
) -> Result<(), StoreError> {
    const OP: &str = "recording referral history";
    let s = c
        .prepare_cached(
            "INSERT INTO referral_history (referral_id, state, reason, note, source, at, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await
        .during(OP)?;
    let reason = change.reason.as_ref().map(to_code);
    let note = seal_text(keys, change.note.as_deref(), &place::history_note(id));
    c.execute(
        &s,
        &[
            &id,
            &to_code(&change.state),
            &reason,
            &note,
            &to_code(&change.source),
            &truncate(change.at),
            &truncate(Utc::now()),
        ],
    )
    .await
    .during(OP)?;
    Ok(())
}

/// Makes `change` the referral's current state and appends it to the history.
pub(super) async fn set_state<C: GenericClient>(
    c: &C,
    keys: &DataKeys,
    id: &str,
    change: &StatusChange,
) -> Result<(), StoreError> {
    const OP: &str = "updating a referral's state";
    let s = c
        .prepare_cached(
            "UPDATE referrals SET state = $2, reason = $3, state_changed_at = $4 WHERE id = $1",
        )
        .await
        .during(OP)?;
    let reason = change.reason.as_ref().map(to_code);
    c.execute(&s, &[&id, &to_code(&change.state), &reason, &truncate(change.at)])
        .await
        .during(OP)?;
    push_history(c, keys, id, change).await
}

pub(super) async fn record_status(
    c: &mut Client,
    keys: &DataKeys,
    id: &ReferralId,
    change: &StatusChange,
) -> Result<bool, StoreError> {
    let tx = c.transaction().await.during("recording a referral status")?;
    let recorded = record_status_in(&tx, keys, id, change).await?;
    tx.commit().await.during("recording a referral status")?;
    Ok(recorded)
}

/// A partner's callback: its `webhook-id` remembered and its status recorded in one
/// transaction (see [`Store::record_partner_event`](crate::Store)).
pub(super) async fn record_event(
    c: &mut Client,
    keys: &DataKeys,
    partner_id: &str,
    webhook_id: &str,
    id: &ReferralId,
    change: &StatusChange,
) -> Result<PartnerEvent, StoreError> {
    const OP: &str = "recording a partner callback";
    let tx = c.transaction().await.during(OP)?;
    if super::records::seen_webhook(&tx, partner_id, webhook_id).await? {
        return Ok(PartnerEvent::Replay);
    }
    let recorded = record_status_in(&tx, keys, id, change).await?;
    tx.commit().await.during(OP)?;
    Ok(if recorded { PartnerEvent::Recorded } else { PartnerEvent::Unchanged })
}

/// Records a status change inside the caller's transaction; `false` for a repeat or a stale
/// report.
pub(super) async fn record_status_in<C: GenericClient>(
    tx: &C,
    keys: &DataKeys,
    id: &ReferralId,
    change: &StatusChange,
) -> Result<bool, StoreError> {
    const OP: &str = "recording a referral status";
    // Locking the referral row serialises concurrent reports about the same referral, and
    // with an erasure of its case (which updates the row).
    let s = tx
        .prepare_cached(
            "SELECT state, reason, (SELECT MAX(at) FROM referral_history h
                                    WHERE h.referral_id = r.id
                                      AND h.source IN ('partner_poll', 'partner_webhook', 'partner_inbox')),
                    payload = $2
             FROM referrals r WHERE id = $1 FOR UPDATE OF r",
        )
        .await
        .during(OP)?;
    let Some(row) = tx.query_opt(&s, &[&id.as_str(), &ERASED]).await.during(OP)? else {
        return Err(StoreError::UnknownReferral(id.clone()));
    };
    let state: TaskState =
        from_code(&row.try_get::<_, String>(0).during(OP)?, "referral", id.as_str())?;
    let reason: Option<StatusReason> = row
        .try_get::<_, Option<String>>(1)
        .during(OP)?
        .map(|r| from_code(&r, "referral", id.as_str()))
        .transpose()?;
    let newest: Option<DateTime<Utc>> = row.try_get(2).during(OP)?;
    let erased: bool = row.try_get(3).during(OP)?;
    if !should_record((state, reason), newest, change) {
        return Ok(false);
    }
    // The state still counts for the statistics after an erasure, but a note is free text
    // about a client whose data is gone: it is not kept.
    if erased && change.note.is_some() {
        let change = StatusChange { note: None, ..change.clone() };
        set_state(tx, keys, id.as_str(), &change).await?;
    } else {
        set_state(tx, keys, id.as_str(), change).await?;
    }
    Ok(true)
}

pub(super) async fn get(
    c: &mut Client,
    keys: &DataKeys,
    id: &ReferralId,
) -> Result<Option<StoredReferral>, StoreError> {
    const OP: &str = "reading a referral";
    let tx = read_snapshot(c, OP).await?;
    let referral = get_in(&tx, keys, id).await?;
    tx.commit().await.during(OP)?;
    Ok(referral)
}

/// Every referral of a case, oldest first, from one snapshot.
pub(super) async fn of_case(
    c: &mut Client,
    keys: &DataKeys,
    case_id: &CaseId,
) -> Result<Vec<StoredReferral>, StoreError> {
    const OP: &str = "listing a case's referrals";
    let tx = read_snapshot(c, OP).await?;
    let s = tx
        .prepare_cached("SELECT id FROM referrals WHERE case_id = $1 ORDER BY created_at, id")
        .await
        .during(OP)?;
    let ids: Vec<String> = tx
        .query(&s, &[&case_id.as_str()])
        .await
        .during(OP)?
        .iter()
        .map(|r| r.try_get(0).during(OP))
        .collect::<Result<_, _>>()?;
    let mut referrals = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(referral) = get_in(&tx, keys, &ReferralId::from_db(id)).await? {
            referrals.push(referral);
        }
    }
    tx.commit().await.during(OP)?;
    Ok(referrals)
}

/// A read-only transaction on one snapshot: a referral, its needs and its history read
/// together, never half before and half after a concurrent change.
async fn read_snapshot<'a>(
    c: &'a mut Client,
    operation: &'static str,
) -> Result<deadpool_postgres::Transaction<'a>, StoreError> {
    c.build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .during(operation)
}

async fn get_in<C: GenericClient>(
    tx: &C,
    keys: &DataKeys,
    id: &ReferralId,
) -> Result<Option<StoredReferral>, StoreError> {
    const OP: &str = "reading a referral";
    let key = id.as_str();
    let s = tx
        .prepare_cached(
            "SELECT r.case_id, r.partner_id, r.idempotency_key, r.payload, r.state, r.reason,
                    r.state_changed_at, r.partner_reference, r.created_at, r.sent_at,
                    o.state, o.attempts, o.not_before, o.last_error
             FROM referrals r JOIN outbox o ON o.referral_id = r.id WHERE r.id = $1",
        )
        .await
        .during(OP)?;
    let Some(row) = tx.query_opt(&s, &[&key]).await.during(OP)? else { return Ok(None) };
    let s = tx
        .prepare_cached("SELECT need FROM referral_needs WHERE referral_id = $1")
        .await
        .during(OP)?;
    let mut needs = Vec::new();
    for r in tx.query(&s, &[&key]).await.during(OP)? {
        needs.push(from_code::<NeedCode>(
            &r.try_get::<_, String>(0).during(OP)?,
            "referral need",
            key,
        )?);
    }
    needs.sort();
    let s = tx
        .prepare_cached(
            "SELECT state, reason, note, source, at FROM referral_history
             WHERE referral_id = $1 ORDER BY seq",
        )
        .await
        .during(OP)?;
    let mut history = Vec::new();
    for r in tx.query(&s, &[&key]).await.during(OP)? {
        history.push(StatusChange {
            state: from_code(&r.try_get::<_, String>(0).during(OP)?, "referral history", key)?,
            reason: r
                .try_get::<_, Option<String>>(1)
                .during(OP)?
                .map(|x| from_code(&x, "referral history", key))
                .transpose()?,
            note: open_text(
                keys,
                r.try_get(2).during(OP)?,
                "referral history",
                key,
                &place::history_note(key),
            )?,
            source: from_code(&r.try_get::<_, String>(3).during(OP)?, "referral history", key)?,
            at: r.try_get(4).during(OP)?,
        });
    }
    let payload: String = row.try_get(3).during(OP)?;
    let reason: Option<String> = row.try_get(5).during(OP)?;
    let attempts: i32 = row.try_get(11).during(OP)?;
    Ok(Some(StoredReferral {
        id: id.clone(),
        case_id: CaseId::from_db(row.try_get(0).during(OP)?),
        partner_id: row.try_get(1).during(OP)?,
        needs,
        idempotency_key: row.try_get(2).during(OP)?,
        state: from_code(&row.try_get::<_, String>(4).during(OP)?, "referral", key)?,
        reason: reason.map(|r| from_code(&r, "referral", key)).transpose()?,
        state_changed_at: row.try_get(6).during(OP)?,
        partner_reference: row.try_get(7).during(OP)?,
        created_at: row.try_get(8).during(OP)?,
        sent_at: row.try_get(9).during(OP)?,
        history,
        dispatch: DispatchState {
            state: from_code(&row.try_get::<_, String>(10).during(OP)?, "outbox item", key)?,
            attempts: u32::try_from(attempts).unwrap_or(0),
            not_before: row.try_get(12).during(OP)?,
            last_error: open_text(
                keys,
                row.try_get(13).during(OP)?,
                "outbox item",
                key,
                &place::dispatch_error(key),
            )?,
        },
        referral: match payload.as_str() {
            ERASED => None,
            sealed => Some(open_json(keys, sealed, "referral", key, &place::referral(key))?),
        },
        cancellation: super::cancel::read(tx, keys, key).await?,
    }))
}
