//! SQLite statements behind the statistics of unmet and blocked needs (`plan_unmet`,
//! `cases.local_authority`; see `0004_unmet.sql` and `0008_evidence.sql`), and the filling in,
//! at opening, of those for rows written before schema versions 4 and 8.

use chrono::{DateTime, Utc};
use pathways_core::NeedCode;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::SqlResult;
use crate::codec::{from_code, micros, open_document, place};
use crate::error::StoreError;
use crate::seal::DataKeys;
use crate::stats::{
    area_of_document, open_needs_report, unmet_of_document, OpenNeed, OpenStatus, UnmetNeedRow,
};

/// Cases filled in per transaction at opening.
const OPENING_BATCH: usize = 500;

/// Makes `needs` what a case's newest plan, stored at `planned_at` (micros), leaves open, in
/// place of whatever its older plan did. Runs inside the caller's write.
pub(super) fn replace(
    c: &Connection,
    case_id: &str,
    needs: &[OpenNeed],
    planned_at: i64,
    operation: &'static str,
) -> Result<(), StoreError> {
    c.prepare_cached("DELETE FROM plan_unmet WHERE case_id = ?1")
        .and_then(|mut s| s.execute([case_id]))
        .during(operation)?;
    let mut insert = c
        .prepare_cached(
            "INSERT INTO plan_unmet (case_id, need, status, reason, planned_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .during(operation)?;
    for open in needs {
        insert
            .execute(params![
                case_id,
                open.need.as_str(),
                open.status.as_str(),
                open.reason,
                planned_at
            ])
            .during(operation)?;
    }
    Ok(())
}

pub(super) fn unmet_needs(
    c: &Connection,
    organisation: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<UnmetNeedRow>, StoreError> {
    const OP: &str = "counting unmet needs";
    let range = params![micros(from), micros(to), organisation];
    let totals: Vec<(String, String, String, i64)> = c
        .prepare_cached(
            "SELECT u.status, u.need, COALESCE(c.local_authority, '') AS area,
                    COUNT(DISTINCT u.case_id)
             FROM plan_unmet u JOIN cases c ON c.id = u.case_id
             WHERE u.planned_at >= ?1 AND u.planned_at < ?2
               AND (?3 IS NULL OR c.organisation = ?3)
             GROUP BY u.status, u.need, area",
        )
        .and_then(|mut s| {
            s.query_map(range, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect()
        })
        .during(OP)?;
    let reasons: Vec<(String, String, String, String, i64)> = c
        .prepare_cached(
            "SELECT u.status, u.need, COALESCE(c.local_authority, '') AS area, u.reason, COUNT(*)
             FROM plan_unmet u JOIN cases c ON c.id = u.case_id
             WHERE u.planned_at >= ?1 AND u.planned_at < ?2
               AND (?3 IS NULL OR c.organisation = ?3)
             GROUP BY u.status, u.need, area, u.reason",
        )
        .and_then(|mut s| {
            s.query_map(range, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect()
        })
        .during(OP)?;
    let line = |status: &str, need: &str, area: &str| -> Result<_, StoreError> {
        let status = OpenStatus::parse(status).ok_or_else(|| StoreError::Corrupt {
            what: "unmet need of area",
            id: area.to_string(),
            problem: format!("its status `{status}` is not known"),
        })?;
        Ok((status, from_code::<NeedCode>(need, "unmet need of area", area)?))
    };
    let totals = totals
        .into_iter()
        .map(|(status, need, area, cases)| {
            let (status, need) = line(&status, &need, &area)?;
            Ok((status, need, area, u64::try_from(cases).unwrap_or(0)))
        })
        .collect::<Result<_, StoreError>>()?;
    let reasons = reasons
        .into_iter()
        .map(|(status, need, area, reason, cases)| {
            let (status, need) = line(&status, &need, &area)?;
            Ok((status, need, area, reason, u64::try_from(cases).unwrap_or(0)))
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(open_needs_report(totals, reasons))
}

/// Fills in, for rows written before schema version 4, each case's area, and for rows
/// written before version 8 (or 4), what the case's newest plan leaves open and why, opening
/// their sealed documents. Runs at opening, on the writer connection, after the keys are
/// checked; a case not yet filled in is one whose area is NULL or whose `open_needs_kept` is
/// 0 (every case stored since has both), so this finds nothing to do on every opening after
/// the first.
///
/// A document that does not open or decode (altered by hand) is not a reason to refuse to
/// serve the others: its case keeps the area it had (`''` when it had none), its plan keeps
/// the rows it had, and reading it answers the error as before. Cases erased before these
/// versions have neither document nor plans left: they keep what they counted.
pub(super) fn fill_at_opening(conn: &mut Connection, keys: &DataKeys) -> Result<(), StoreError> {
    const OP: &str = "filling in the unmet needs statistics for rows from before schema version 8";
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).during(OP)?;
        let cases: Vec<(String, String, Option<String>)> = tx
            .prepare(
                "SELECT id, case_json, local_authority FROM cases
                 WHERE (local_authority IS NULL OR open_needs_kept = 0) AND erased_at IS NULL
                 LIMIT ?1",
            )
            .and_then(|mut s| {
                s.query_map([OPENING_BATCH as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .during(OP)?;
        for (id, sealed, area) in &cases {
            let area = match open_document(keys, sealed, &place::case(id)) {
                Some(case) => area_of_document(&case),
                None => area.clone().unwrap_or_default(),
            };
            tx.execute(
                "UPDATE cases SET local_authority = ?2, open_needs_kept = 1 WHERE id = ?1",
                params![id, area],
            )
            .during(OP)?;
            let newest: Option<(Option<String>, i64)> = tx
                .prepare_cached(
                    "SELECT plan_json, created_at FROM plans WHERE case_id = ?1
                     ORDER BY id DESC LIMIT 1",
                )
                .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .during(OP)?;
            let opened = newest.and_then(|(sealed, planned_at)| {
                let record = open_document(keys, &sealed?, &place::plan(id))?;
                Some((unmet_of_document(&record), planned_at))
            });
            if let Some((needs, planned_at)) = opened {
                replace(&tx, id, &needs, planned_at, OP)?;
            }
        }
        tx.commit().during(OP)?;
        if cases.len() < OPENING_BATCH {
            return Ok(());
        }
    }
}
