//! SQLite queries behind the console's case list, and the filling in, at opening, of the
//! plain columns they read for rows written before schema version 3.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, TransactionBehavior};

use super::SqlResult;
use crate::accounts::{count, list_columns, plan_version, AttentionReferral, CaseSummary};
use crate::codec::{from_code, from_micros, micros, open_document, place};
use crate::error::StoreError;
use crate::ids::{CaseId, ReferralId};
use crate::seal::DataKeys;

/// Rows filled in per transaction at opening.
const OPENING_BATCH: usize = 500;

/// The summary columns, for a `cases c`; the live and attention states spelt as the
/// `referrals_one_live_per_step` index and `crate::referral::LIVE_STATES` spell them.
const SUMMARY_COLUMNS: &str = "c.id, c.reference, c.created_at, c.need_count,
    (SELECT p.version FROM plans p WHERE p.case_id = c.id ORDER BY p.id DESC LIMIT 1),
    (SELECT COUNT(*) FROM referrals r WHERE r.case_id = c.id
        AND r.state IN ('draft', 'requested', 'accepted', 'in-progress', 'on-hold')),
    (SELECT COUNT(*) FROM referrals r WHERE r.case_id = c.id
        AND r.state IN ('rejected', 'failed'))";

pub(super) fn case_summaries(
    c: &Connection,
    organisation: &str,
    reference: Option<&str>,
    limit: u32,
) -> Result<Vec<CaseSummary>, StoreError> {
    type Row = (String, Option<String>, i64, Option<i64>, Option<i64>, i64, i64);
    let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Row> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
    };
    // Two statements rather than `?2 IS NULL OR …`, which would keep SQLite from using
    // either index.
    let rows: Vec<Row> = match reference {
        None => c
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM cases c
                 WHERE c.organisation = ?1 AND c.erased_at IS NULL
                 ORDER BY c.created_at DESC, c.id DESC LIMIT ?2"
            ))
            .and_then(|mut s| s.query_map(params![organisation, limit], read)?.collect()),
        Some(reference) => c
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM cases c
                 WHERE c.organisation = ?1 AND lower(c.reference) = lower(?2)
                   AND c.erased_at IS NULL
                 ORDER BY c.created_at DESC, c.id DESC LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(params![organisation, reference.trim(), limit], read)?.collect()
            }),
    }
    .during("listing cases")?;
    rows.into_iter()
        .map(|(id, reference, created_at, needs, version, live, attention)| {
            Ok(CaseSummary {
                reference: reference.unwrap_or_default(),
                created_at: from_micros(created_at, "case", &id)?,
                needs: count(needs.unwrap_or(0)),
                plan_version: version.filter(|v| *v > 0).map(count),
                referrals_live: count(live),
                referrals_attention: count(attention),
                id: CaseId::from_db(id),
            })
        })
        .collect()
}

pub(super) fn needing_attention(
    c: &Connection,
    organisation: &str,
    older_than: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<AttentionReferral>, StoreError> {
    type Row = (String, String, Option<String>, String, String, i64);
    let rows: Vec<Row> = c
        .prepare_cached(
            "SELECT r.id, r.case_id, c.reference, r.partner_id, r.state, r.state_changed_at
             FROM referrals r JOIN cases c ON c.id = r.case_id
             WHERE c.organisation = ?1 AND c.erased_at IS NULL
               AND (r.state IN ('rejected', 'failed')
                    OR (r.state = 'requested' AND r.state_changed_at < ?2))
             ORDER BY r.state_changed_at DESC, r.id DESC LIMIT ?3",
        )
        .and_then(|mut s| {
            s.query_map(params![organisation, micros(older_than), limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })?
            .collect()
        })
        .during("finding referrals needing attention")?;
    rows.into_iter()
        .map(|(id, case_id, reference, partner_id, state, since)| {
            Ok(AttentionReferral {
                state: from_code(&state, "referral", &id)?,
                since: from_micros(since, "referral", &id)?,
                referral_id: ReferralId::from_db(id),
                case_id: CaseId::from_db(case_id),
                case_reference: reference.unwrap_or_default(),
                partner_id,
            })
        })
        .collect()
}

/// Fills in the case list's plain columns of rows written before schema version 3 (a case's
/// reference and number of needs, a plan's version), opening their sealed documents. Runs at
/// opening, on the writer connection, after the keys are checked; finds nothing to do on
/// every opening after the first.
///
/// A document that does not open or decode (altered by hand) is not a reason to refuse to
/// serve the others: its case lists with an empty reference and no needs, its plan as none,
/// and reading it answers the error as before.
pub(super) fn fill_at_opening(conn: &mut Connection, keys: &DataKeys) -> Result<(), StoreError> {
    const OP: &str = "filling in the case list for rows from before schema version 3";
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).during(OP)?;
        let cases: Vec<(String, String)> = tx
            .prepare(
                "SELECT id, case_json FROM cases
                 WHERE reference IS NULL AND erased_at IS NULL LIMIT ?1",
            )
            .and_then(|mut s| {
                s.query_map([OPENING_BATCH as i64], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
            })
            .during(OP)?;
        for (id, sealed) in &cases {
            let (reference, needs) = open_document(keys, sealed, &place::case(id))
                .map_or_else(|| (String::new(), 0), |case| list_columns(&case));
            tx.execute(
                "UPDATE cases SET reference = ?2, need_count = ?3 WHERE id = ?1",
                params![id, reference, needs],
            )
            .during(OP)?;
        }
        let plans: Vec<(i64, String, Option<String>)> = tx
            .prepare("SELECT id, case_id, plan_json FROM plans WHERE version IS NULL LIMIT ?1")
            .and_then(|mut s| {
                s.query_map([OPENING_BATCH as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .during(OP)?;
        for (id, case_id, sealed) in &plans {
            let version = sealed
                .as_deref()
                .and_then(|sealed| open_document(keys, sealed, &place::plan(case_id)))
                .map_or(0, |record| plan_version(&record));
            tx.execute("UPDATE plans SET version = ?2 WHERE id = ?1", params![id, version])
                .during(OP)?;
        }
        tx.commit().during(OP)?;
        if cases.len() < OPENING_BATCH && plans.len() < OPENING_BATCH {
            return Ok(());
        }
    }
}
