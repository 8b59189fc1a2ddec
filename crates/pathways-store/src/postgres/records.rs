#![allow(dead_code, unused_imports)]
//! PostgreSQL statements for cases, plans, the audit log, idempotency keys and webhook ids.

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use pathways_core::{ActionPlan, Case};
use serde_json::Value;

use super::{violates, PgResult};
use crate::audit::{AuditEntry, AuditFilter, AuditRecord};
use crate::codec::truncate;
use crate::error::StoreError;
use crate::idempotency::{IdempotencyOutcome, StoredResponse};
use crate::ids::{CaseId, ReferralId};
use crate::records::{StoredCase, StoredPlan};

/// Encodes a document for a JSONB column.
pub(super) fn to_value<T: serde::Serialize>(
    value: &T,
    what: &'static str,
) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::encode(what, &e))
}

/// Decodes a document from a JSONB column.
pub(super) fn from_value<T: serde::de::DeserializeOwned>(
    value: Value,
    what: &'static str,
    id: &str,
) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| StoreError::corrupt(what, id, &e))
}

pub(super) async fn insert_case(
    c: &Client,
    organisation: &str,
    case: &Case,
) -> Result<CaseId, StoreError> {
    const OP: &str = "storing a case";
    let id = CaseId::random();
    let json = to_value(case, "case")?;
    let s = c
        .prepare_cached(
            "INSERT INTO cases (id, organisation, case_json, created_at) VALUES ($1, $2, $3, $4)",
        )
        .await
        .during(OP)?;
    c.execute(&s, &[&id.as_str(), &organisation, &json, &truncate(Utc::now())]).await.during(OP)?;
    Ok(id)
}

pub(super) async fn get_case(c: &Client, id: &CaseId) -> Result<Option<StoredCase>, StoreError> {
    const OP: &str = "reading a case";
    let s = c
        .prepare_cached("SELECT organisation, case_json, created_at FROM cases WHERE id = $1")
        .await
        .during(OP)?;
    let Some(row) = c.query_opt(&s, &[&id.as_str()]).await.during(OP)? else { return Ok(None) };
    Ok(Some(StoredCase {
        id: id.clone(),
        organisation: row.try_get(0).during(OP)?,
        case: from_value(row.try_get(1).during(OP)?, "case", id.as_str())?,
        created_at: row.try_get(2).during(OP)?,
        legal_hold: None,
    }))
}

pub(super) async fn insert_plan(
    c: &mut Client,
    case_id: &CaseId,
    plan: &ActionPlan,
) -> Result<(), StoreError> {
    const OP: &str = "storing a plan";
    let json = to_value(plan, "plan")?;
    let partners: Vec<String> = Vec::new();
    let tx = c.transaction().await.during(OP)?;
    let s = tx
        .prepare_cached(
            "INSERT INTO plans (case_id, plan_json, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .await
        .during(OP)?;
    let plan_id: i64 =
        match tx.query_one(&s, &[&case_id.as_str(), &json, &truncate(Utc::now())]).await {
            Err(e) if violates(&e, "plans_case_id_fkey") => {
                return Err(StoreError::UnknownCase(case_id.clone()))
            }
            other => other.during(OP)?.try_get(0).during(OP)?,
        };
    let s = tx
        .prepare_cached("INSERT INTO plan_partners (plan_id, partner_id) VALUES ($1, $2)")
        .await
        .during(OP)?;
    for partner in &partners {
        tx.execute(&s, &[&plan_id, partner]).await.during("storing a plan's partners")?;
    }
    tx.commit().await.during(OP)
}

pub(super) async fn latest_plan(
    c: &Client,
    case_id: &CaseId,
) -> Result<Option<StoredPlan>, StoreError> {
    const OP: &str = "reading a plan";
    let s = c
        .prepare_cached(
            "SELECT plan_json, created_at FROM plans WHERE case_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .await
        .during(OP)?;
    let Some(row) = c.query_opt(&s, &[&case_id.as_str()]).await.during(OP)? else {
        return Ok(None);
    };
    Ok(Some(StoredPlan {
        case_id: case_id.clone(),
        plan: from_value(row.try_get(0).during(OP)?, "plan of case", case_id.as_str())?,
        created_at: row.try_get(1).during(OP)?,
    }))
}

pub(super) async fn plan_partner_ids(
    c: &Client,
    case_id: &CaseId,
) -> Result<Vec<String>, StoreError> {
    const OP: &str = "reading a plan's partners";
    let s = c
        .prepare_cached(
            "SELECT partner_id FROM plan_partners WHERE plan_id =
                 (SELECT MAX(id) FROM plans WHERE case_id = $1)
             ORDER BY partner_id",
        )
        .await
        .during(OP)?;
    c.query(&s, &[&case_id.as_str()])
        .await
        .during(OP)?
        .iter()
        .map(|r| r.try_get(0).during(OP))
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
            &e.action,
            &e.case_id.as_ref().map(CaseId::as_str),
            &e.referral_id.as_ref().map(ReferralId::as_str),
            &e.outcome,
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
            ],
        )
        .await
        .during(OP)?;
    rows.iter()
        .map(|r| {
            Ok(AuditRecord {
                seq: r.try_get(0).during(OP)?,
                entry: AuditEntry {
                    at: r.try_get(1).during(OP)?,
                    key_id: r.try_get(2).during(OP)?,
                    organisation: r.try_get(3).during(OP)?,
                    action: r.try_get(4).during(OP)?,
                    case_id: r.try_get::<_, Option<String>>(5).during(OP)?.map(CaseId::from_db),
                    referral_id: r
                        .try_get::<_, Option<String>>(6)
                        .during(OP)?
                        .map(ReferralId::from_db),
                    outcome: r.try_get(7).during(OP)?,
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
