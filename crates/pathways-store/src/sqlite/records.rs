//! SQLite statements for cases, plans, the audit log, idempotency keys and webhook ids.

use rusqlite::{params, Connection, OptionalExtension};

use super::{is_constraint, SqlResult};
use crate::audit::{stored_action, stored_outcome, AuditEntry, AuditFilter, AuditRecord};
use crate::codec::{from_micros, micros, open_json, open_text, place};
use crate::erasure::LegalHold;
use crate::error::StoreError;
use crate::idempotency::{IdempotencyOutcome, StoredResponse};
use crate::ids::{CaseId, ReferralId};
use crate::records::{PlanRecord, StoredCase, StoredPlan};
use crate::seal::DataKeys;

/// Stores a case: its sealed document, the case list's plain columns (`reference`,
/// `need_count`; see `0003_console.sql`) and its area for the statistics (`local_authority`;
/// see `0004_unmet.sql`).
pub(super) fn insert_case(
    c: &Connection,
    id: &CaseId,
    organisation: &str,
    sealed: &str,
    (reference, needs, area): &(String, i64, String),
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO cases (id, organisation, case_json, created_at, reference, need_count,
                            local_authority)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id.as_str(),
            organisation,
            sealed,
            micros(chrono::Utc::now()),
            reference,
            needs,
            area
        ])
    })
    .during("storing a case")?;
    Ok(())
}

pub(super) fn get_case(
    c: &Connection,
    keys: &DataKeys,
    id: &CaseId,
) -> Result<Option<StoredCase>, StoreError> {
    type Row = (String, String, i64, Option<String>, Option<String>, Option<i64>, Option<String>);
    let row: Option<Row> = c
        .prepare_cached(
            "SELECT organisation, case_json, created_at, legal_hold_reason, legal_hold_by,
                    legal_hold_at, consent_history
             FROM cases WHERE id = ?1 AND erased_at IS NULL",
        )
        .and_then(|mut s| {
            s.query_row([id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
            })
            .optional()
        })
        .during("reading a case")?;
    let Some((organisation, sealed, created_at, hold_reason, hold_by, hold_at, history)) = row
    else {
        return Ok(None);
    };
    let key = id.as_str();
    let legal_hold = match (hold_reason, hold_by, hold_at) {
        (Some(reason), Some(set_by), Some(at)) => Some(LegalHold {
            reason: open_text(keys, Some(reason), "legal hold", key, &place::hold(key))?
                .unwrap_or_default(),
            set_by,
            set_at: from_micros(at, "legal hold", key)?,
        }),
        _ => None,
    };
    Ok(Some(StoredCase {
        id: id.clone(),
        organisation,
        case: open_json(keys, &sealed, "case", key, &place::case(key))?,
        created_at: from_micros(created_at, "case", key)?,
        legal_hold,
        consent_history: match history {
            None => Vec::new(),
            Some(sealed) => open_json(keys, &sealed, "case", key, &place::consent_history(key))?,
        },
    }))
}

/// Stores a plan: its sealed record, its version in the plain (case list) column, and the
/// needs it leaves open (unmet or blocked) in place of the case's older plan's (statistics). One write, so one savepoint:
/// all of it or none.
pub(super) fn insert_plan(
    c: &Connection,
    case_id: &CaseId,
    sealed: &str,
    version: u32,
    unmet: &[crate::stats::OpenNeed],
) -> Result<(), StoreError> {
    let now = micros(chrono::Utc::now());
    let inserted = c
        .prepare_cached(
            "INSERT INTO plans (case_id, plan_json, created_at, version)
             SELECT ?1, ?2, ?3, ?4
             WHERE EXISTS (SELECT 1 FROM cases WHERE id = ?1 AND erased_at IS NULL)",
        )
        .and_then(|mut s| s.execute(params![case_id.as_str(), sealed, now, version]));
    match inserted {
        Ok(0) => Err(StoreError::UnknownCase(case_id.clone())),
        Err(e) if is_constraint(&e, "FOREIGN KEY") => Err(StoreError::UnknownCase(case_id.clone())),
        other => {
            other.during("storing a plan")?;
            super::unmet::replace(c, case_id.as_str(), unmet, now, "storing a plan")
        }
    }
}

/// The plans of a case, oldest first; only the newest when `newest_only`.
pub(super) fn plans(
    c: &Connection,
    keys: &DataKeys,
    case_id: &CaseId,
    newest_only: bool,
) -> Result<Vec<StoredPlan>, StoreError> {
    let sql = if newest_only {
        "SELECT plan_json, created_at FROM
             (SELECT id, plan_json, created_at FROM plans WHERE case_id = ?1
              ORDER BY id DESC LIMIT 1)"
    } else {
        "SELECT plan_json, created_at FROM plans WHERE case_id = ?1 ORDER BY id"
    };
    let rows: Vec<(String, i64)> = c
        .prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map([case_id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
        })
        .during("reading plans")?;
    let key = case_id.as_str();
    rows.into_iter()
        .map(|(sealed, created_at)| {
            let value = open_json(keys, &sealed, "plan of case", key, &place::plan(key))?;
            PlanRecord::open(case_id, value, from_micros(created_at, "plan of case", key)?)
        })
        .filter_map(Result::transpose)
        .collect()
}

pub(super) fn append_audit(c: &Connection, e: &AuditEntry) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO audit_log (at, key_id, organisation, action, case_id, referral_id, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            micros(e.at),
            e.key_id,
            e.organisation,
            e.action.as_str(),
            e.case_id.as_ref().map(CaseId::as_str),
            e.referral_id.as_ref().map(ReferralId::as_str),
            e.outcome.as_str(),
        ])
    })
    .during("appending to the audit log")?;
    Ok(())
}

pub(super) fn audit_entries(
    c: &Connection,
    f: &AuditFilter,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut s = c
        .prepare_cached(
            "SELECT seq, at, key_id, organisation, action, case_id, referral_id, outcome
             FROM audit_log
             WHERE (?1 IS NULL OR organisation = ?1) AND (?2 IS NULL OR case_id = ?2)
               AND (?3 IS NULL OR referral_id = ?3) AND seq > ?4
               AND (?6 IS NULL OR at >= ?6) AND (?7 IS NULL OR at < ?7)
             ORDER BY seq LIMIT ?5",
        )
        .during("reading the audit log")?;
    let rows = s
        .query_map(
            params![
                f.organisation,
                f.case_id.as_ref().map(CaseId::as_str),
                f.referral_id.as_ref().map(ReferralId::as_str),
                f.after_seq.unwrap_or(0),
                f.limit,
                f.from.map(micros),
                f.to.map(micros),
            ],
            |r| {
                Ok(AuditRow {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    key_id: r.get(2)?,
                    organisation: r.get(3)?,
                    action: r.get(4)?,
                    case_id: r.get::<_, Option<String>>(5)?.map(CaseId::from_db),
                    referral_id: r.get::<_, Option<String>>(6)?.map(ReferralId::from_db),
                    outcome: r.get(7)?,
                })
            },
        )
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .during("reading the audit log")?;
    rows.into_iter()
        .map(|row| {
            let seq = row.seq;
            let entry = AuditEntry {
                at: from_micros(row.at, "audit entry", &seq.to_string())?,
                key_id: row.key_id,
                organisation: row.organisation,
                action: stored_action(&row.action, seq)?,
                case_id: row.case_id,
                referral_id: row.referral_id,
                outcome: stored_outcome(&row.outcome, seq)?,
            };
            Ok(AuditRecord { seq, entry })
        })
        .collect()
}

/// An audit row as SQLite holds it, decoded outside the driver's closure so that a bad
/// value is a [`StoreError`] naming the row.
struct AuditRow {
    seq: i64,
    at: i64,
    key_id: String,
    organisation: String,
    action: String,
    case_id: Option<CaseId>,
    referral_id: Option<ReferralId>,
    outcome: String,
}

pub(super) fn begin_idempotent(
    c: &Connection,
    scope: &str,
    key: &str,
    fingerprint: &str,
    stale_after: std::time::Duration,
) -> Result<IdempotencyOutcome, StoreError> {
    const OP: &str = "beginning an idempotent request";
    let inserted = c
        .prepare_cached(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, started_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (scope, key) DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![scope, key, fingerprint, micros(chrono::Utc::now())]))
        .during(OP)?;
    let outcome = if inserted == 1 {
        IdempotencyOutcome::Started
    } else {
        let (stored, started_at, completed, status, body) = c
            .prepare_cached(
                "SELECT fingerprint, started_at, completed_at, status, body
                 FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![scope, key], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<u16>>(3)?,
                        r.get::<_, Option<Vec<u8>>>(4)?,
                    ))
                })
            })
            .during(OP)?;
        if stored != fingerprint {
            IdempotencyOutcome::Mismatch
        } else if completed.is_some() {
            let response =
                StoredResponse { status: status.unwrap_or(200), body: body.unwrap_or_default() };
            IdempotencyOutcome::Completed(response)
        } else {
            let since = from_micros(started_at, "idempotency key", key)?;
            // One daemon per SQLite file: its own clock stamped the claim and judges it.
            let stale_after =
                chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
            let stale = chrono::Utc::now().signed_duration_since(since) > stale_after;
            if stale {
                // The writer runs one write at a time, so no one else can take it meanwhile.
                c.prepare_cached(
                    "UPDATE idempotency_keys SET started_at = ?3 WHERE scope = ?1 AND key = ?2",
                )
                .and_then(|mut s| s.execute(params![scope, key, micros(chrono::Utc::now())]))
                .during(OP)?;
                IdempotencyOutcome::TakenOver { since }
            } else {
                IdempotencyOutcome::InFlight { since }
            }
        }
    };
    Ok(outcome)
}

pub(super) fn complete_idempotent(
    c: &Connection,
    scope: &str,
    key: &str,
    response: &StoredResponse,
) -> Result<(), StoreError> {
    let updated = c
        .prepare_cached(
            "UPDATE idempotency_keys SET completed_at = ?3, status = ?4, body = ?5
             WHERE scope = ?1 AND key = ?2 AND completed_at IS NULL",
        )
        .and_then(|mut s| {
            s.execute(params![
                scope,
                key,
                micros(chrono::Utc::now()),
                response.status,
                response.body
            ])
        })
        .during("completing an idempotent request")?;
    if updated == 0 {
        return Err(StoreError::IdempotencyNotInFlight { scope: scope.into(), key: key.into() });
    }
    Ok(())
}

pub(super) fn abandon_idempotent(c: &Connection, scope: &str, key: &str) -> Result<(), StoreError> {
    c.prepare_cached(
        "DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2 AND completed_at IS NULL",
    )
    .and_then(|mut s| s.execute(params![scope, key]))
    .during("abandoning an idempotent request")?;
    Ok(())
}

pub(super) fn seen_webhook(
    c: &Connection,
    partner_id: &str,
    webhook_id: &str,
) -> Result<bool, StoreError> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO webhook_receipts (partner_id, webhook_id, received_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (partner_id, webhook_id) DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![partner_id, webhook_id, micros(chrono::Utc::now())]))
        .during("remembering a webhook id")?;
    Ok(inserted == 0)
}

/// Makes `consent` the case's consent, keeping the one it replaces in the case's history;
/// `None` for an unknown or erased case.
pub(super) fn replace_consent(
    c: &Connection,
    keys: &DataKeys,
    id: &CaseId,
    consent: &pathways_core::Consent,
) -> Result<Option<StoredCase>, StoreError> {
    const OP: &str = "changing a case's consent";
    let Some(mut stored) = get_case(c, keys, id)? else { return Ok(None) };
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
    c.prepare_cached("UPDATE cases SET case_json = ?2, consent_history = ?3 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![key, case_json, history]))
        .during(OP)?;
    Ok(Some(stored))
}
