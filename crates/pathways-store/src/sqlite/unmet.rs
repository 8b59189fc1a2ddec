//! SQLite statements behind the statistics of unmet needs (`plan_unmet`, `cases.local_authority`;
//! see `0004_unmet.sql`), and the filling in, at opening, of those for rows written before
//! schema version 4.

use chrono::{DateTime, Utc};
use pathways_core::NeedCode;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::SqlResult;
use crate::codec::{from_code, micros, open_document, place};
use crate::error::StoreError;
use crate::seal::DataKeys;
use crate::stats::{area_of_document, most_first, unmet_of_document, UnmetNeedRow};

/// Cases filled in per transaction at opening.
const OPENING_BATCH: usize = 500;

/// Makes `needs` the unmet needs of a case's newest plan, stored at `planned_at` (micros),
/// in place of whatever its older plan had. Runs inside the caller's write.
pub(super) fn replace(
    c: &Connection,
    case_id: &str,
    needs: &[NeedCode],
    planned_at: i64,
    operation: &'static str,
) -> Result<(), StoreError> {
    c.prepare_cached("DELETE FROM plan_unmet WHERE case_id = ?1")
        .and_then(|mut s| s.execute([case_id]))
        .during(operation)?;
    let mut insert = c
        .prepare_cached("INSERT INTO plan_unmet (case_id, need, planned_at) VALUES (?1, ?2, ?3)")
        .during(operation)?;
    for need in needs {
        insert.execute(params![case_id, need.as_str(), planned_at]).during(operation)?;
    }
    Ok(())
}

pub(super) fn unmet_needs(
    c: &Connection,
    organisation: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<UnmetNeedRow>, StoreError> {
    let rows: Vec<(String, String, i64)> = c
        .prepare_cached(
            "SELECT u.need, COALESCE(c.local_authority, '') AS area, COUNT(*)
             FROM plan_unmet u JOIN cases c ON c.id = u.case_id
             WHERE u.planned_at >= ?1 AND u.planned_at < ?2
               AND (?3 IS NULL OR c.organisation = ?3)
             GROUP BY u.need, area",
        )
        .and_then(|mut s| {
            s.query_map(params![micros(from), micros(to), organisation], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })
        .during("counting unmet needs")?;
    rows.into_iter()
        .map(|(need, area, cases)| {
            Ok(UnmetNeedRow {
                need: from_code(&need, "unmet need of area", &area)?,
                cases: u64::try_from(cases).unwrap_or(0),
                area,
            })
        })
        .collect::<Result<_, _>>()
        .map(most_first)
}

/// Fills in, for rows written before schema version 4, each case's area and the unmet needs
/// of its newest plan, opening their sealed documents. Runs at opening, on the writer
/// connection, after the keys are checked; a case not yet filled in is one whose area is
/// NULL (every case stored since has one, `''` when unknown), so this finds nothing to do on
/// every opening after the first.
///
/// A document that does not open or decode (altered by hand) is not a reason to refuse to
/// serve the others: its case counts with area `''`, its plan with no unmet need, and
/// reading it answers the error as before. Cases erased before this version have neither
/// document nor plans left: they keep no area and count nothing.
pub(super) fn fill_at_opening(conn: &mut Connection, keys: &DataKeys) -> Result<(), StoreError> {
    const OP: &str = "filling in the unmet needs statistics for rows from before schema version 4";
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).during(OP)?;
        let cases: Vec<(String, String)> = tx
            .prepare(
                "SELECT id, case_json FROM cases
                 WHERE local_authority IS NULL AND erased_at IS NULL LIMIT ?1",
            )
            .and_then(|mut s| {
                s.query_map([OPENING_BATCH as i64], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
            })
            .during(OP)?;
        for (id, sealed) in &cases {
            let area = open_document(keys, sealed, &place::case(id))
                .map_or_else(String::new, |case| area_of_document(&case));
            tx.execute("UPDATE cases SET local_authority = ?2 WHERE id = ?1", params![id, area])
                .during(OP)?;
            let newest: Option<(Option<String>, i64)> = tx
                .prepare_cached(
                    "SELECT plan_json, created_at FROM plans WHERE case_id = ?1
                     ORDER BY id DESC LIMIT 1",
                )
                .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .during(OP)?;
            if let Some((sealed, planned_at)) = newest {
                let needs = sealed
                    .and_then(|sealed| open_document(keys, &sealed, &place::plan(id)))
                    .map_or_else(Vec::new, |record| unmet_of_document(&record));
                replace(&tx, id, &needs, planned_at, OP)?;
            }
        }
        tx.commit().during(OP)?;
        if cases.len() < OPENING_BATCH {
            return Ok(());
        }
    }
}
