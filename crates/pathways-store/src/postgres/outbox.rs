#![allow(dead_code, unused_imports)]
//! PostgreSQL statements for the outbox: creating referrals with their outbox rows, claiming
//! due rows with `FOR UPDATE SKIP LOCKED` under a lease, and finishing an attempt.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Client;
use pathways_core::{NeedCode, StatusReason, TaskState};

use super::records::{from_value, to_value};
use super::referrals::{push_history, set_state};
use super::{violates, PgResult};
use crate::codec::{from_code, to_code, truncate};
use crate::error::StoreError;
use crate::ids::{CaseId, OutboxItemId, ReferralId};
use crate::referral::{DispatchOutcome, NewReferral, OutboxItem, StatusChange, StatusSource};

pub(super) async fn create(
    c: &mut Client,
    case_id: &CaseId,
    referrals: &[NewReferral],
    now: DateTime<Utc>,
) -> Result<Vec<ReferralId>, StoreError> {
    const OP: &str = "creating referrals";
    let now = truncate(now);
    let tx = c.transaction().await.during(OP)?;
    let insert_referral = tx
        .prepare_cached(
            "INSERT INTO referrals (id, case_id, partner_id, idempotency_key, payload, state,
                 state_changed_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .await
        .during(OP)?;
    let insert_need = tx
        .prepare_cached("INSERT INTO referral_needs (referral_id, need) VALUES ($1, $2)")
        .await
        .during(OP)?;
    let insert_outbox = tx
        .prepare_cached(
            "INSERT INTO outbox (referral_id, state, attempts, not_before, updated_at)
             VALUES ($1, 'pending', 0, $2, $2)",
        )
        .await
        .during(OP)?;
    let mut ids = Vec::with_capacity(referrals.len());
    for new in referrals {
        let r = &new.referral;
        let id = ReferralId::random();
        let payload = to_value(r, "referral")?;
        let draft = to_code(&TaskState::Draft);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
            &id.as_str(),
            &case_id.as_str(),
            &r.partner_id,
            &r.idempotency_key,
            &payload,
            &draft,
            &now,
        ];
        match tx.execute(&insert_referral, &params).await {
            Err(e) if violates(&e, "referrals_idempotency_key_key") => {
                return Err(StoreError::DuplicateReferral { key: r.idempotency_key.clone() })
            }
            Err(e) if violates(&e, "referrals_case_id_fkey") => {
                return Err(StoreError::UnknownCase(case_id.clone()))
            }
            other => other.during(OP)?,
        };
        let mut needs: Vec<NeedCode> = r.needs.iter().map(|n| n.code).collect();
        needs.sort();
        needs.dedup();
        for need in needs {
            tx.execute(&insert_need, &[&id.as_str(), &to_code(&need)]).await.during(OP)?;
        }
        let change = StatusChange {
            state: TaskState::Draft,
            reason: None,
            note: None,
            source: StatusSource::Referrer,
            at: now,
        };
        push_history(&tx, id.as_str(), &change).await?;
        tx.execute(&insert_outbox, &[&id.as_str(), &now]).await.during(OP)?;
        ids.push(id);
    }
    tx.commit().await.during(OP)?;
    Ok(ids)
}

pub(super) async fn claim(
    c: &Client,
    worker_id: &str,
    limit: u32,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxItem>, StoreError> {
    const OP: &str = "claiming outbox items";
    let now = truncate(now);
    let lease_until = crate::referral::lease_until(now, lease);
    // One statement, so one transaction: lock the due rows nobody else has locked (SKIP
    // LOCKED: a concurrent claimer takes the others instead of waiting), lease them, and
    // return them with their payloads.
    let s = c
        .prepare_cached(
            "UPDATE outbox o SET lease_owner = $1, lease_until = $2, attempts = o.attempts + 1,
                 updated_at = $3
             FROM (SELECT id FROM outbox
                   WHERE state = 'pending' AND not_before <= $3
                     AND (lease_until IS NULL OR lease_until <= $3)
                   ORDER BY not_before, id LIMIT $4
                   FOR UPDATE SKIP LOCKED) due, referrals r
             WHERE o.id = due.id AND r.id = o.referral_id
             RETURNING o.id, o.referral_id, o.attempts, o.not_before, r.case_id, r.partner_id,
                       r.idempotency_key, r.payload, r.created_at",
        )
        .await
        .during(OP)?;
    let rows =
        c.query(&s, &[&worker_id, &lease_until, &now, &i64::from(limit)]).await.during(OP)?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let referral_id: String = row.try_get(1).during(OP)?;
        let attempts: i32 = row.try_get(2).during(OP)?;
        let not_before: DateTime<Utc> = row.try_get(3).during(OP)?;
        let item = OutboxItem {
            id: OutboxItemId(row.try_get(0).during(OP)?),
            referral: from_value(row.try_get(7).during(OP)?, "referral", &referral_id)?,
            referral_id: ReferralId::from_db(referral_id),
            case_id: CaseId::from_db(row.try_get(4).during(OP)?),
            partner_id: row.try_get(5).during(OP)?,
            idempotency_key: row.try_get(6).during(OP)?,
            attempt: u32::try_from(attempts).unwrap_or(0),
            created_at: row.try_get(8).during(OP)?,
            lease_until,
        };
        items.push((not_before, item));
    }
    // RETURNING does not keep the subquery's order.
    items.sort_by_key(|(not_before, item)| (*not_before, item.id));
    Ok(items.into_iter().map(|(_, item)| item).collect())
}

pub(super) async fn finish(
    c: &mut Client,
    item: OutboxItemId,
    worker_id: &str,
    outcome: &DispatchOutcome,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const OP: &str = "finishing an outbox item";
    let now = truncate(now);
    let tx = c.transaction().await.during(OP)?;
    let s = tx
        .prepare_cached(
            "SELECT o.referral_id, r.state FROM outbox o JOIN referrals r ON r.id = o.referral_id
             WHERE o.id = $1 AND o.lease_owner = $2 AND o.state = 'pending' FOR UPDATE",
        )
        .await
        .during(OP)?;
    let Some(row) = tx.query_opt(&s, &[&item.0, &worker_id]).await.during(OP)? else {
        return Ok(false);
    };
    let referral_id: String = row.try_get(0).during(OP)?;
    let state: String = row.try_get(1).during(OP)?;
    let still_draft = from_code::<TaskState>(&state, "referral", &referral_id)? == TaskState::Draft;
    let (outbox_state, not_before, last_error, change) = match outcome {
        DispatchOutcome::Delivered { partner_reference } => {
            let s = tx
                .prepare_cached(
                    "UPDATE referrals SET partner_reference = $2, sent_at = COALESCE(sent_at, $3)
                     WHERE id = $1",
                )
                .await
                .during(OP)?;
            tx.execute(&s, &[&referral_id, partner_reference, &now]).await.during(OP)?;
            ("delivered", None, None, Some((TaskState::Requested, None, None)))
        }
        DispatchOutcome::Retry { not_before, last_error } => {
            ("pending", Some(truncate(*not_before)), Some(last_error.as_str()), None)
        }
        DispatchOutcome::Failed { reason } => (
            "failed",
            None,
            Some(reason.as_str()),
            Some((TaskState::Failed, Some(StatusReason::Other), Some(reason.clone()))),
        ),
    };
    let s = tx
        .prepare_cached(
            "UPDATE outbox SET state = $2, not_before = COALESCE($3, not_before), last_error = $4,
                 lease_owner = NULL, lease_until = NULL, updated_at = $5
             WHERE id = $1",
        )
        .await
        .during(OP)?;
    tx.execute(&s, &[&item.0, &outbox_state, &not_before, &last_error, &now]).await.during(OP)?;
    // Only a referral still in draft moves: a partner callback may have overtaken the
    // dispatcher, and that news is newer.
    if let (true, Some((state, reason, note))) = (still_draft, change) {
        let change =
            StatusChange { state, reason, note, source: StatusSource::Dispatcher, at: now };
        set_state(&tx, &referral_id, &change).await?;
    }
    tx.commit().await.during(OP)?;
    Ok(true)
}
