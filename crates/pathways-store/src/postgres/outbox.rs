//! PostgreSQL statements for the outbox: creating referrals with their outbox rows, claiming
//! due rows with `FOR UPDATE SKIP LOCKED` under a lease, and finishing an attempt.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use pathways_core::{NeedCode, StatusReason, TaskState};
use tokio_postgres::error::SqlState;

use super::records::lock_live_case;
use super::referrals::{push_history, set_state};
use super::{violates, PgResult};
use crate::codec::{from_code, open_json, place, seal_json, seal_text, to_code, truncate};
use crate::error::StoreError;
use crate::ids::{CaseId, OutboxItemId, ReferralId};
use crate::referral::{DispatchOutcome, NewReferral, OutboxItem, StatusChange, StatusSource};
use crate::seal::DataKeys;

/// The unique partial index that allows one live referral per plan step.
const ONE_LIVE_PER_STEP: &str = "referrals_one_live_per_step";
/// How often a batch is tried again after losing a race it cannot name a winner for: the
/// step it collided with was finished before we could look (a partner's answer in between),
/// or two batches taking the same steps in opposite orders deadlocked and ours was the one
/// PostgreSQL rolled back. Both are rare; a fresh attempt sorts either out.
const RACE_ATTEMPTS: usize = 3;

/// A plan step, as the index keys it.
struct Step<'a> {
    partner_id: &'a str,
    need: Option<String>,
    service_id: &'a str,
}

impl<'a> Step<'a> {
    fn of(new: &'a NewReferral) -> Self {
        Step {
            partner_id: &new.referral.partner_id,
            need: new.step_need().map(|n| to_code(&n)),
            service_id: &new.referral.service.id,
        }
    }

    fn taken(&self, existing: String) -> StoreError {
        StoreError::StepHasLiveReferral {
            existing: ReferralId::from_db(existing),
            need: self.need.clone().unwrap_or_default(),
            partner_id: self.partner_id.to_string(),
        }
    }
}

/// The live referral of a step, if there is one: the oldest, when version 1 left several.
async fn live_for_step<C: GenericClient>(
    c: &C,
    case_id: &CaseId,
    step: &Step<'_>,
) -> Result<Option<String>, StoreError> {
    const OP: &str = "looking for a step's live referral";
    // Spelled as the index is, so the index answers it.
    let s = c
        .prepare_cached(
            "SELECT id FROM referrals
             WHERE case_id = $1 AND partner_id = $2 AND COALESCE(step_need, '') = $3
               AND COALESCE(service_id, '') = $4
               AND state IN ('draft', 'requested', 'accepted', 'in-progress', 'on-hold')
             ORDER BY created_at, id LIMIT 1",
        )
        .await
        .during(OP)?;
    let need = step.need.as_deref().unwrap_or("");
    let row = c
        .query_opt(&s, &[&case_id.as_str(), &step.partner_id, &need, &step.service_id])
        .await
        .during(OP)?;
    row.map(|r| r.try_get(0).during(OP)).transpose()
}

/// How one attempt at creating a batch ended.
enum Attempt {
    Created(Vec<ReferralId>),
    /// Another transaction made a live referral for the step of `referrals[index]` after our
    /// check and before our insert; ours was rolled back.
    StepRace {
        index: usize,
    },
    /// Ours was rolled back to break a deadlock with another batch.
    Deadlock,
}

pub(super) async fn create(
    c: &mut Client,
    keys: &DataKeys,
    case_id: &CaseId,
    referrals: &[NewReferral],
    now: DateTime<Utc>,
) -> Result<Vec<ReferralId>, StoreError> {
    const OP: &str = "creating referrals";
    let live = crate::referral::LIVE_STATES.map(|s| to_code(&s));
    debug_assert_eq!(live, ["draft", "requested", "accepted", "in-progress", "on-hold"]);
    for _ in 0..RACE_ATTEMPTS {
        match create_once(c, keys, case_id, referrals, now).await? {
            Attempt::Created(ids) => return Ok(ids),
            Attempt::StepRace { index } => {
                // The other transaction committed (that is when our insert failed), so its
                // referral is visible now, outside our rolled-back transaction.
                let step = Step::of(&referrals[index]);
                if let Some(existing) = live_for_step(&*c, case_id, &step).await? {
                    return Err(step.taken(existing));
                }
            }
            Attempt::Deadlock => {}
        }
    }
    Err(StoreError::Database {
        backend: "PostgreSQL",
        operation: OP,
        code: None,
        message: "this batch kept colliding with concurrent ones for the same plan steps; \
                  nothing was written, try again"
            .into(),
    })
}

async fn create_once(
    c: &mut Client,
    keys: &DataKeys,
    case_id: &CaseId,
    referrals: &[NewReferral],
    now: DateTime<Utc>,
) -> Result<Attempt, StoreError> {
    const OP: &str = "creating referrals";
    let now = truncate(now);
    let tx = c.transaction().await.during(OP)?;
    // Held until commit: an erasure of this case waits for us, or we for it.
    if !lock_live_case(&tx, case_id, OP).await? {
        return Err(StoreError::UnknownCase(case_id.clone()));
    }
    let insert_referral = tx
        .prepare_cached(
            "INSERT INTO referrals (id, case_id, partner_id, idempotency_key, payload, state,
                 state_changed_at, created_at, step_need, service_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)",
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
    for (index, new) in referrals.iter().enumerate() {
        let r = &new.referral;
        let id = ReferralId::random();
        let payload = seal_json(keys, r, "referral", &place::referral(id.as_str()))?;
        let step = Step::of(new);
        // A repeat of the same referral (same key) first, then another live one for its step
        // (in the database, or earlier in this batch).
        if super::lookup::by_key(&tx, &r.idempotency_key).await?.is_some() {
            return Err(StoreError::DuplicateReferral { key: r.idempotency_key.to_string() });
        }
        if let Some(existing) = live_for_step(&tx, case_id, &step).await? {
            return Err(step.taken(existing));
        }
        let draft = to_code(&TaskState::Draft);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] = [
            &id.as_str(),
            &case_id.as_str(),
            &r.partner_id.as_str(),
            &r.idempotency_key.as_str(),
            &payload,
            &draft,
            &now,
            &step.need,
            &step.service_id,
        ];
        match tx.execute(&insert_referral, &params).await {
            Err(e) if violates(&e, "referrals_idempotency_key_key") => {
                return Err(StoreError::DuplicateReferral { key: r.idempotency_key.to_string() })
            }
            // A concurrent transaction (another request, another daemon) inserted a live
            // referral for this step after our check: it committed, we waited on the index
            // and lost. Name the winner once we are out of this failed transaction.
            Err(e) if violates(&e, ONE_LIVE_PER_STEP) => {
                tx.rollback().await.during(OP)?;
                return Ok(Attempt::StepRace { index });
            }
            Err(e) if e.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) => {
                tx.rollback().await.during(OP)?;
                return Ok(Attempt::Deadlock);
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
        push_history(&tx, keys, id.as_str(), &change).await?;
        tx.execute(&insert_outbox, &[&id.as_str(), &now]).await.during(OP)?;
        ids.push(id);
    }
    tx.commit().await.during(OP)?;
    Ok(Attempt::Created(ids))
}

pub(super) async fn claim(
    c: &Client,
    keys: &DataKeys,
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
    load_claimed(c, keys, rows, lease_until, now).await
}

/// The items of rows just claimed (`RETURNING o.id, o.referral_id, o.attempts, o.not_before,
/// r.case_id, r.partner_id, r.idempotency_key, r.payload, r.created_at`), oldest due first,
/// each with its referral opened; a row whose referral cannot be opened is set aside
/// (unclaimed, due again later, the reason kept) so it does not stop the others.
pub(super) async fn load_claimed(
    c: &Client,
    keys: &DataKeys,
    rows: Vec<tokio_postgres::Row>,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxItem>, StoreError> {
    const OP: &str = "claiming outbox items";
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let referral_id: String = row.try_get(1).during(OP)?;
        let attempts: i32 = row.try_get(2).during(OP)?;
        let not_before: DateTime<Utc> = row.try_get(3).during(OP)?;
        let payload: String = row.try_get(7).during(OP)?;
        let place = place::referral(&referral_id);
        let outbox_id: i64 = row.try_get(0).during(OP)?;
        let referral = match open_json(keys, &payload, "referral", &referral_id, &place) {
            Ok(referral) => referral,
            // One unreadable row must not stop every other referral: it is set aside.
            Err(e @ (StoreError::Sealed { .. } | StoreError::Corrupt { .. })) => {
                let until = now + crate::referral::unreadable_wait();
                let error = crate::referral::unreadable_note(&e);
                let error = seal_text(keys, Some(&error), &place::dispatch_error(&referral_id));
                c.execute(
                    "UPDATE outbox SET lease_owner = NULL, lease_until = NULL, not_before = $2,
                         last_error = $3 WHERE id = $1",
                    &[&outbox_id, &until, &error],
                )
                .await
                .during(OP)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let item = OutboxItem {
            id: OutboxItemId(outbox_id),
            referral,
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
    keys: &DataKeys,
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
    let last_error = seal_text(keys, last_error, &place::dispatch_error(&referral_id));
    tx.execute(&s, &[&item.0, &outbox_state, &not_before, &last_error, &now]).await.during(OP)?;
    // Only a referral still in draft moves: a partner callback may have overtaken the
    // dispatcher, and that news is newer.
    if let (true, Some((state, reason, note))) = (still_draft, change) {
        let change =
            StatusChange { state, reason, note, source: StatusSource::Dispatcher, at: now };
        set_state(&tx, keys, &referral_id, &change).await?;
    }
    tx.commit().await.during(OP)?;
    Ok(true)
}
