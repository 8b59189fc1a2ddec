//! PostgreSQL statements for cases, plans, the audit log, idempotency keys and webhook ids.

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};

use super::{violates, PgResult};
use crate::audit::{stored_action, stored_outcome, AuditEntry, AuditFilter, AuditRecord};
use crate::codec::{open_json, open_text, place, truncate};
use crate::erasure::LegalHold;
use crate::error::StoreError;
use crate::idempotency::{IdempotencyOutcome, StoredResponse};
use crate::ids::{CaseId, ReferralId};
use crate::records::{PlanRecord, StoredCase, StoredPlan};
use crate::seal::DataKeys;

/// Stores a case: its sealed document, the case list's plain columns (`reference`,
/// `need_count`; see `0003_console.sql`) and its area for the statistics (`local_authority`;
/// see `0004_unmet.sql`).
pub(super) async fn insert_case(
    c: &Client,
    id: &CaseId,
    organisation: &str,
    sealed: &str,
    (reference, needs, area): &(String, i64, String),
) -> Result<(), StoreError> {
    const OP: &str = "storing a case";
    let s = c
        .prepare_cached(
            "INSERT INTO cases (id, organisation, case_json, created_at, reference, need_count,
                                local_authority)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await
        .during(OP)?;
    let needs = i32::try_from(*needs).unwrap_or(i32::MAX);
    c.execute(
        &s,
        &[&id.as_str(), &organisation, &sealed, &truncate(Utc::now()), reference, &needs, area],
    )
    .await
    .during(OP)?;
    Ok(())
}

pub(super) async fn get_case<C: GenericClient>(
    c: &C,
    keys: &DataKeys,
    id: &CaseId,
) -> Result<Option<StoredCase>, StoreError> {
    const OP: &str = "reading a case";
    let s = c
        .prepare_cached(
            "SELECT organisation, case_json, created_at, legal_hold_reason, legal_hold_by,
                    legal_hold_at, consent_history
             FROM cases WHERE id = $1 AND erased_at IS NULL",
        )
        .await
        .during(OP)?;
    let Some(row) = c.query_opt(&s, &[&id.as_str()]).await.during(OP)? else { return Ok(None) };
    let key = id.as_str();
    let sealed: String = row.try_get(1).during(OP)?;
    let hold_reason: Option<String> = row.try_get(3).during(OP)?;
    let hold_by: Option<String> = row.try_get(4).during(OP)?;
    let hold_at: Option<DateTime<Utc>> = row.try_get(5).during(OP)?;
    let legal_hold = match (hold_reason, hold_by, hold_at) {
        (Some(reason), Some(set_by), Some(set_at)) => Some(LegalHold {
            reason: open_text(keys, Some(reason), "legal hold", key, &place::hold(key))?
                .unwrap_or_default(),
            set_by,
            set_at,
        }),
        _ => None,
    };
    Ok(Some(StoredCase {
        id: id.clone(),
        organisation: row.try_get(0).during(OP)?,
        case: open_json(keys, &sealed, "case", key, &place::case(key))?,
        created_at: row.try_get(2).during(OP)?,
        legal_hold,
        consent_history: match row.try_get::<_, Option<String>>(6).during(OP)? {
            None => Vec::new(),
            Some(sealed) => open_json(keys, &sealed, "case", key, &place::consent_history(key))?,
        },
    }))
}

/// Locks a case that is not erased against erasure until the caller's transaction ends, so
/// that nothing with personal data is added to a case while it is being erased; `false` when
/// there is no such case. An erasure holds the row `FOR UPDATE`, so this waits for it and
/// then sees the case erased.
pub(super) async fn lock_live_case<C: GenericClient>(
    tx: &C,
    case_id: &CaseId,
    operation: &'static str,
) -> Result<bool, StoreError> {
    let s = tx
        .prepare_cached("SELECT 1 FROM cases WHERE id = $1 AND erased_at IS NULL FOR SHARE")
        .await
        .during(operation)?;
    Ok(tx.query_opt(&s, &[&case_id.as_str()]).await.during(operation)?.is_some())
}

/// Locks a case that is not erased, as [`lock_live_case`] does, and against other plans
/// being stored for it too (`FOR NO KEY UPDATE`), until the caller's transaction ends; `false`
/// when there is no such case. The plans of one case are so stored one at a time: the newest
/// (highest id) is the last committed, and its unmet needs are the ones the statistics keep.
/// Referrals being created for the case wait for the plan, and it for them, a moment; other
/// cases are not held up.
async fn lock_live_case_for_a_plan<C: GenericClient>(
    tx: &C,
    case_id: &CaseId,
    operation: &'static str,
) -> Result<bool, StoreError> {
    let s = tx
        .prepare_cached("SELECT 1 FROM cases WHERE id = $1 AND erased_at IS NULL FOR NO KEY UPDATE")
        .await
        .during(operation)?;
    Ok(tx.query_opt(&s, &[&case_id.as_str()]).await.during(operation)?.is_some())
}

/// Stores a plan: its sealed record, its version in the plain (case list) column, and the
/// needs it leaves open (unmet or blocked) in place of the case's older plan's (statistics), in one transaction.
pub(super) async fn insert_plan(
    c: &mut Client,
    case_id: &CaseId,
    sealed: &str,
    version: u32,
    unmet: &[crate::stats::OpenNeed],
) -> Result<(), StoreError> {
    const OP: &str = "storing a plan";
    let tx = c.transaction().await.during(OP)?;
    if !lock_live_case_for_a_plan(&tx, case_id, OP).await? {
        return Err(StoreError::UnknownCase(case_id.clone()));
    }
    let s = tx
        .prepare_cached(
            "INSERT INTO plans (case_id, plan_json, created_at, version) VALUES ($1, $2, $3, $4)",
        )
        .await
        .during(OP)?;
    let (version, now) = (i32::try_from(version).unwrap_or(i32::MAX), truncate(Utc::now()));
    match tx.execute(&s, &[&case_id.as_str(), &sealed, &now, &version]).await {
        Err(e) if violates(&e, "plans_case_id_fkey") => {
            return Err(StoreError::UnknownCase(case_id.clone()))
        }
        other => other.during(OP)?,
    };
    super::unmet::replace(&tx, case_id.as_str(), unmet, now, OP).await?;
    tx.commit().await.during(OP)
}

/// The plans of a case, oldest first; only the newest when `newest_only`.
pub(super) async fn plans(
    c: &Client,
    keys: &DataKeys,
    case_id: &CaseId,
    newest_only: bool,
) -> Result<Vec<StoredPlan>, StoreError> {
    const OP: &str = "reading plans";
    let sql = if newest_only {
        "SELECT plan_json, created_at FROM plans WHERE case_id = $1 ORDER BY id DESC LIMIT 1"
    } else {
        "SELECT plan_json, created_at FROM plans WHERE case_id = $1 ORDER BY id"
    };
    let s = c.prepare_cached(sql).await.during(OP)?;
    let key = case_id.as_str();
    c.query(&s, &[&key])
        .await
        .during(OP)?
        .iter()
        .map(|row| {
            let sealed: String = row.try_get(0).during(OP)?;
            let value = open_json(keys, &sealed, "plan of case", key, &place::plan(key))?;
            PlanRecord::open(case_id, value, row.try_get(1).during(OP)?)
        })
        .filter_map(Result::transpose)
        .collect()
}

pub(super) async fn append_audit(c: &Client, e: &AuditEntry) -> Result<(), StoreError> {
    const OP: &str = "appending to the audit log";
    let s = c
        .prepare_cached(
            "INSERT INTO audit_log (at, key_id, organisation, action, case_id, referral_id, outcome)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await
        .during(OP)?;
    c.execute(
        &s,
        &[
            &truncate(e.at),
            &e.key_id,
            &e.organisation,
            &e.action.as_str(),
            &e.case_id.as_ref().map(CaseId::as_str),
            &e.referral_id.as_ref().map(ReferralId::as_str),
            &e.outcome.as_str(),
        ],
    )
    .await
    .during(OP)?;
    Ok(())
}

pub(super) async fn audit_entries(
    c: &Client,
    f: &AuditFilter,
) -> Result<Vec<AuditRecord>, StoreError> {
    const OP: &str = "reading the audit log";
    let s = c
        .prepare_cached(
            "SELECT seq, at, key_id, organisation, action, case_id, referral_id, outcome
             FROM audit_log
             WHERE ($1::TEXT IS NULL OR organisation = $1) AND ($2::TEXT IS NULL OR case_id = $2)
               AND ($3::TEXT IS NULL OR referral_id = $3) AND seq > $4
               AND ($6::TIMESTAMPTZ IS NULL OR at >= $6) AND ($7::TIMESTAMPTZ IS NULL OR at < $7)
             ORDER BY seq LIMIT $5",
        )
        .await
        .during(OP)?;
    let rows = c
        .query(
            &s,
            &[
                &f.organisation,
                &f.case_id.as_ref().map(CaseId::as_str),
                &f.referral_id.as_ref().map(ReferralId::as_str),
                &f.after_seq.unwrap_or(0),
                &i64::from(f.limit),
                &f.from.map(truncate),
                &f.to.map(truncate),
            ],
        )
        .await
        .during(OP)?;
    rows.iter()
        .map(|r| {
            let seq = r.try_get(0).during(OP)?;
            Ok(AuditRecord {
                seq,
                entry: AuditEntry {
                    at: r.try_get(1).during(OP)?,
                    key_id: r.try_get(2).during(OP)?,
                    organisation: r.try_get(3).during(OP)?,
                    action: stored_action(r.try_get(4).during(OP)?, seq)?,
                    case_id: r.try_get::<_, Option<String>>(5).during(OP)?.map(CaseId::from_db),
                    referral_id: r
                        .try_get::<_, Option<String>>(6)
                        .during(OP)?
                        .map(ReferralId::from_db),
                    outcome: stored_outcome(r.try_get(7).during(OP)?, seq)?,
                },
            })
        })
        .collect()
}

/// A staleness longer than this (a century) means "never".
const MAX_STALE_SECS: f64 = 3.2e9;

pub(super) async fn begin_idempotent(
    c: &Client,
    scope: &str,
    key: &str,
    fingerprint: &str,
    stale_after: std::time::Duration,
) -> Result<IdempotencyOutcome, StoreError> {
    const OP: &str = "beginning an idempotent request";
    // Claims are stamped and judged stale by the database's clock, not the daemons': several
    // daemons share this table, and their clocks may disagree.
    let stale_secs = stale_after.as_secs_f64().min(MAX_STALE_SECS);
    let take_over = c
        .prepare_cached(
            "UPDATE idempotency_keys SET started_at = date_trunc('microseconds', now())
             WHERE scope = $1 AND key = $2 AND started_at = $3 AND completed_at IS NULL
               AND started_at < now() - make_interval(secs => $4)",
        )
        .await
        .during(OP)?;
    let insert = c
        .prepare_cached(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, started_at)
             VALUES ($1, $2, $3, date_trunc('microseconds', now()))
             ON CONFLICT (scope, key) DO NOTHING RETURNING 1",
        )
        .await
        .during(OP)?;
    let select = c
        .prepare_cached(
            "SELECT fingerprint, started_at, completed_at, status, body
             FROM idempotency_keys WHERE scope = $1 AND key = $2",
        )
        .await
        .during(OP)?;
    // The insert waits for a concurrent insert of the same key to commit and then does
    // nothing, so exactly one caller sees a row come back. If the winner abandons the key
    // between our insert and our read, the read finds nothing: try again.
    for _ in 0..3 {
        if c.query_opt(&insert, &[&scope, &key, &fingerprint]).await.during(OP)?.is_some() {
            return Ok(IdempotencyOutcome::Started);
        }
        let Some(row) = c.query_opt(&select, &[&scope, &key]).await.during(OP)? else { continue };
        let stored: String = row.try_get(0).during(OP)?;
        if stored != fingerprint {
            return Ok(IdempotencyOutcome::Mismatch);
        }
        let completed: Option<DateTime<Utc>> = row.try_get(2).during(OP)?;
        return Ok(match completed {
            Some(_) => IdempotencyOutcome::Completed(StoredResponse {
                status: row
                    .try_get::<_, Option<i32>>(3)
                    .during(OP)?
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(200),
                body: row.try_get::<_, Option<Vec<u8>>>(4).during(OP)?.unwrap_or_default(),
            }),
            None => {
                let since: DateTime<Utc> = row.try_get(1).during(OP)?;
                // Compare-and-swap on the claim's start, if it is stale: of concurrent takers
                // the first to update wins; the others find a fresh claim, in flight.
                let updated =
                    c.execute(&take_over, &[&scope, &key, &since, &stale_secs]).await.during(OP)?;
                if updated == 1 {
                    IdempotencyOutcome::TakenOver { since }
                } else {
                    IdempotencyOutcome::InFlight { since }
                }
            }
        });
    }
    // Three abandon races in a row: report it as in flight, the client will retry.
    Ok(IdempotencyOutcome::InFlight { since: truncate(Utc::now()) })
}

pub(super) async fn complete_idempotent(
    c: &Client,
    scope: &str,
    key: &str,
    response: &StoredResponse,
) -> Result<(), StoreError> {
    const OP: &str = "completing an idempotent request";
    let s = c
        .prepare_cached(
            "UPDATE idempotency_keys SET completed_at = $3, status = $4, body = $5
             WHERE scope = $1 AND key = $2 AND completed_at IS NULL",
        )
        .await
        .during(OP)?;
    let status = i32::from(response.status);
    let updated = c
        .execute(&s, &[&scope, &key, &truncate(Utc::now()), &status, &response.body])
        .await
        .during(OP)?;
    if updated == 0 {
        return Err(StoreError::IdempotencyNotInFlight { scope: scope.into(), key: key.into() });
    }
    Ok(())
}

pub(super) async fn abandon_idempotent(
    c: &Client,
    scope: &str,
    key: &str,
) -> Result<(), StoreError> {
    const OP: &str = "abandoning an idempotent request";
    let s = c
        .prepare_cached(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND completed_at IS NULL",
        )
        .await
        .during(OP)?;
    c.execute(&s, &[&scope, &key]).await.during(OP)?;
    Ok(())
}

pub(super) async fn seen_webhook<C: GenericClient>(
    c: &C,
    partner_id: &str,
    webhook_id: &str,
) -> Result<bool, StoreError> {
    const OP: &str = "remembering a webhook id";
    let s = c
        .prepare_cached(
            "INSERT INTO webhook_receipts (partner_id, webhook_id, received_at) VALUES ($1, $2, $3)
             ON CONFLICT (partner_id, webhook_id) DO NOTHING",
        )
        .await
        .during(OP)?;
    let inserted =
        c.execute(&s, &[&partner_id, &webhook_id, &truncate(Utc::now())]).await.during(OP)?;
    Ok(inserted == 0)
}

/// Makes `consent` the case's consent, keeping the one it replaces in the case's history;
/// `None` for an unknown or erased case. The case's row is locked first, so two changes of
/// consent (or a change and an erasure) are serialised and neither is lost.
pub(super) async fn replace_consent(
    c: &mut deadpool_postgres::Client,
    keys: &DataKeys,
    id: &CaseId,
    consent: &pathways_core::Consent,
) -> Result<Option<StoredCase>, StoreError> {
    const OP: &str = "changing a case's consent";
    let tx = c.transaction().await.during(OP)?;
    let lock = "SELECT 1 FROM cases WHERE id = $1 AND erased_at IS NULL FOR NO KEY UPDATE";
    if tx.query_opt(lock, &[&id.as_str()]).await.during(OP)?.is_none() {
        return Ok(None);
    }
    let Some(mut stored) = get_case(&tx, keys, id).await? else { return Ok(None) };
    let key = id.as_str();
    let previous = std::mem::replace(&mut stored.case.consent, consent.clone());
    stored.consent_history.push(previous);
    let case_json = crate::codec::seal_json(keys, &stored.case, "case", &place::case(key))?;
    let history = crate::codec::seal_json(
        keys,
        &stored.consent_history,
        "case",
        &place::consent_history(key),
    )?;
    tx.execute(
        "UPDATE cases SET case_json = $2, consent_history = $3 WHERE id = $1",
        &[&key, &case_json, &history],
    )
    .await
    .during(OP)?;
    tx.commit().await.during(OP)?;
    Ok(Some(stored))
}
