//! PostgreSQL statements for erasure, legal holds and the retention sweep's query.
//!
//! An erasure is one transaction that first locks the case row `FOR UPDATE`: referrals are
//! only added under a `FOR SHARE` lock of the same row, plans under a `FOR NO KEY UPDATE`
//! lock of it (one plan of a case at a time), and legal holds by an update of it, so nothing
//! can be added to a case, or a hold set on it, between the erasure's check and its commit;
//! and a second erasure of the same case waits, then finds it erased.

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use pathways_core::{StatusReason, TaskState};

use super::referrals::{set_state, ERASED};
use super::PgResult;
use crate::codec::{open_text, place, truncate};
use crate::erasure::{Erasure, ErasureReason, LegalHold};
use crate::error::StoreError;
use crate::ids::CaseId;
use crate::referral::{StatusChange, StatusSource};
use crate::seal::DataKeys;

pub(super) async fn erase(
    c: &mut Client,
    keys: &DataKeys,
    case_id: &CaseId,
    reason: ErasureReason,
    now: DateTime<Utc>,
) -> Result<Erasure, StoreError> {
    const OP: &str = "erasing a case";
    let now = truncate(now);
    let key = case_id.as_str();
    let tx = c.transaction().await.during(OP)?;
    let s = tx
        .prepare_cached(
            "SELECT legal_hold_reason, legal_hold_at FROM cases
             WHERE id = $1 AND erased_at IS NULL FOR UPDATE",
        )
        .await
        .during(OP)?;
    let Some(row) = tx.query_opt(&s, &[&key]).await.during(OP)? else {
        return Err(StoreError::UnknownCase(case_id.clone()));
    };
    let hold_reason: Option<String> = row.try_get(0).during(OP)?;
    let hold_at: Option<DateTime<Utc>> = row.try_get(1).during(OP)?;
    if let Some(since) = hold_at {
        return Err(StoreError::LegalHold {
            case_id: case_id.clone(),
            since,
            reason: open_text(keys, hold_reason, "legal hold", key, &place::hold(key))?
                .unwrap_or_default(),
        });
    }
    // Queued and never delivered: cancelled, so nothing of this client leaves any more. The
    // rows are locked, so a dispatcher finishing one waits and then finds it no longer
    // pending.
    let s = tx
        .prepare_cached(
            "SELECT o.id, o.referral_id FROM outbox o JOIN referrals r ON r.id = o.referral_id
             WHERE r.case_id = $1 AND o.state = 'pending' AND r.sent_at IS NULL
             ORDER BY o.id FOR UPDATE OF o",
        )
        .await
        .during(OP)?;
    let queued: Vec<(i64, String)> = tx
        .query(&s, &[&key])
        .await
        .during(OP)?
        .iter()
        .map(|r| Ok((r.try_get(0).during(OP)?, r.try_get(1).during(OP)?)))
        .collect::<Result<_, StoreError>>()?;
    let cancel = tx
        .prepare_cached(
            "UPDATE outbox SET state = 'failed', lease_owner = NULL, lease_until = NULL,
                 updated_at = $2 WHERE id = $1",
        )
        .await
        .during(OP)?;
    for (outbox_id, referral_id) in &queued {
        tx.execute(&cancel, &[outbox_id, &now]).await.during(OP)?;
        let cancelled = StatusChange {
            state: TaskState::Cancelled,
            reason: Some(StatusReason::Other),
            note: None,
            source: StatusSource::Referrer,
            at: now,
        };
        set_state(&tx, keys, referral_id, &cancelled).await?;
    }
    let referrals =
        execute(&tx, "UPDATE referrals SET payload = $2 WHERE case_id = $1", &[&key, &ERASED])
            .await?;
    for sql in [
        "UPDATE referral_history SET note = NULL
         WHERE note IS NOT NULL AND referral_id IN (SELECT id FROM referrals WHERE case_id = $1)",
        "UPDATE outbox SET last_error = NULL
         WHERE last_error IS NOT NULL
           AND referral_id IN (SELECT id FROM referrals WHERE case_id = $1)",
        "UPDATE cancellations SET note = NULL
         WHERE note IS NOT NULL
           AND referral_id IN (SELECT id FROM referrals WHERE case_id = $1)",
    ] {
        execute(&tx, sql, &[&key]).await?;
    }
    execute(&tx, "DELETE FROM follow_ups WHERE case_id = $1", &[&key]).await?;
    let plans = execute(&tx, "DELETE FROM plans WHERE case_id = $1", &[&key]).await?;
    execute(
        &tx,
        "UPDATE cases SET case_json = $2, erased_at = $3, erasure_reason = $4,
             legal_hold_reason = NULL, legal_hold_by = NULL, legal_hold_at = NULL,
             reference = NULL, consent_history = NULL
         WHERE id = $1",
        &[&key, &ERASED, &now, &reason.as_str()],
    )
    .await?;
    tx.commit().await.during(OP)?;
    Ok(Erasure { referrals, cancelled: queued.len() as u64, plans })
}

/// One statement of the erasure; the rows it touched.
async fn execute<C: GenericClient>(
    tx: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, StoreError> {
    const OP: &str = "erasing a case";
    let s = tx.prepare_cached(sql).await.during(OP)?;
    tx.execute(&s, params).await.during(OP)
}

pub(super) async fn set_hold(
    c: &Client,
    case_id: &CaseId,
    hold: Option<&LegalHold>,
    sealed_reason: Option<&str>,
) -> Result<(), StoreError> {
    const OP: &str = "setting a legal hold";
    let s = c
        .prepare_cached(
            "UPDATE cases SET legal_hold_reason = $2, legal_hold_by = $3, legal_hold_at = $4
             WHERE id = $1 AND erased_at IS NULL",
        )
        .await
        .during(OP)?;
    let set_by = hold.map(|h| h.set_by.as_str());
    let set_at = hold.map(|h| truncate(h.set_at));
    let updated =
        c.execute(&s, &[&case_id.as_str(), &sealed_reason, &set_by, &set_at]).await.during(OP)?;
    if updated == 0 {
        return Err(StoreError::UnknownCase(case_id.clone()));
    }
    Ok(())
}

pub(super) async fn due(
    c: &Client,
    before: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<CaseId>, StoreError> {
    const OP: &str = "finding cases due for erasure";
    // GREATEST skips NULLs: a case without plans or referrals is judged by its creation.
    let s = c
        .prepare_cached(
            "SELECT c.id FROM cases c
             WHERE c.erased_at IS NULL AND c.legal_hold_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM referrals r WHERE r.case_id = c.id
                     AND r.state IN ('draft', 'requested', 'accepted', 'in-progress', 'on-hold'))
               AND GREATEST(c.created_at,
                            (SELECT MAX(p.created_at) FROM plans p WHERE p.case_id = c.id),
                            (SELECT MAX(r.state_changed_at) FROM referrals r
                             WHERE r.case_id = c.id)) < $1
             ORDER BY c.created_at, c.id LIMIT $2",
        )
        .await
        .during(OP)?;
    c.query(&s, &[&truncate(before), &i64::from(limit)])
        .await
        .during(OP)?
        .iter()
        .map(|r| r.try_get(0).during(OP).map(CaseId::from_db))
        .collect()
}
