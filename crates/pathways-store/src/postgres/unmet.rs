//! PostgreSQL statements behind the statistics of unmet and blocked needs (`plan_unmet`,
//! `cases.local_authority`; see `0004_unmet.sql` and `0008_evidence.sql`), and the filling
//! in, at connecting, of those for rows written before schema versions 4 and 8.

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use pathways_core::NeedCode;

use super::{PgResult, PostgresStore};
use crate::codec::{from_code, open_document, place, truncate};
use crate::error::StoreError;
use crate::stats::{
    area_of_document, open_needs_report, unmet_of_document, OpenNeed, OpenStatus, UnmetNeedRow,
};

/// Cases filled in per transaction at connecting.
const OPENING_BATCH: i64 = 500;

/// Makes `needs` what a case's newest plan, stored at `planned_at`, leaves open, in place of
/// whatever its older plan did. Runs inside the caller's transaction, which holds the case
/// row locked against other plans of the case.
pub(super) async fn replace<C: GenericClient>(
    tx: &C,
    case_id: &str,
    needs: &[OpenNeed],
    planned_at: DateTime<Utc>,
    operation: &'static str,
) -> Result<(), StoreError> {
    let delete =
        tx.prepare_cached("DELETE FROM plan_unmet WHERE case_id = $1").await.during(operation)?;
    tx.execute(&delete, &[&case_id]).await.during(operation)?;
    if needs.is_empty() {
        return Ok(());
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO plan_unmet (case_id, need, status, reason, planned_at)
             SELECT $1::TEXT, need, status, reason, $5::TIMESTAMPTZ
             FROM unnest($2::TEXT[], $3::TEXT[], $4::TEXT[]) AS o (need, status, reason)",
        )
        .await
        .during(operation)?;
    let codes: Vec<&str> = needs.iter().map(|open| open.need.as_str()).collect();
    let statuses: Vec<&str> = needs.iter().map(|open| open.status.as_str()).collect();
    let reasons: Vec<&str> = needs.iter().map(|open| open.reason.as_str()).collect();
    tx.execute(&insert, &[&case_id, &codes, &statuses, &reasons, &planned_at])
        .await
        .during(operation)?;
    Ok(())
}

pub(super) async fn unmet_needs(
    c: &Client,
    organisation: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<UnmetNeedRow>, StoreError> {
    const OP: &str = "counting unmet needs";
    let range: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&truncate(from), &truncate(to), &organisation];
    let totals = c
        .prepare_cached(
            "SELECT u.status, u.need, COALESCE(c.local_authority, '') AS area,
                    COUNT(DISTINCT u.case_id)
             FROM plan_unmet u JOIN cases c ON c.id = u.case_id
             WHERE u.planned_at >= $1 AND u.planned_at < $2
               AND ($3::TEXT IS NULL OR c.organisation = $3)
             GROUP BY u.status, u.need, area",
        )
        .await
        .during(OP)?;
    let totals = c.query(&totals, &range).await.during(OP)?;
    let reasons = c
        .prepare_cached(
            "SELECT u.status, u.need, COALESCE(c.local_authority, '') AS area, u.reason, COUNT(*)
             FROM plan_unmet u JOIN cases c ON c.id = u.case_id
             WHERE u.planned_at >= $1 AND u.planned_at < $2
               AND ($3::TEXT IS NULL OR c.organisation = $3)
             GROUP BY u.status, u.need, area, u.reason",
        )
        .await
        .during(OP)?;
    let reasons = c.query(&reasons, &range).await.during(OP)?;
    let line = |r: &tokio_postgres::Row| -> Result<(OpenStatus, NeedCode, String), StoreError> {
        let status: String = r.try_get(0).during(OP)?;
        let need: String = r.try_get(1).during(OP)?;
        let area: String = r.try_get(2).during(OP)?;
        let status = OpenStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            what: "unmet need of area",
            id: area.clone(),
            problem: format!("its status `{status}` is not known"),
        })?;
        Ok((status, from_code(&need, "unmet need of area", &area)?, area))
    };
    let totals = totals
        .iter()
        .map(|r| {
            let (status, need, area) = line(r)?;
            let cases: i64 = r.try_get(3).during(OP)?;
            Ok((status, need, area, u64::try_from(cases).unwrap_or(0)))
        })
        .collect::<Result<_, StoreError>>()?;
    let reasons = reasons
        .iter()
        .map(|r| {
            let (status, need, area) = line(r)?;
            let reason: String = r.try_get(3).during(OP)?;
            let cases: i64 = r.try_get(4).during(OP)?;
            Ok((status, need, area, reason, u64::try_from(cases).unwrap_or(0)))
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(open_needs_report(totals, reasons))
}

/// Fills in, for rows written before schema version 4, each case's area, and for rows
/// written before version 8 (or 4), what the case's newest plan leaves open and why, opening
/// their sealed documents. Runs at connecting, after the keys are checked; a case not yet
/// filled in is one whose area is NULL or whose `open_needs_kept` is false (every case stored
/// since has both), so this finds nothing to do on every connection after the first.
///
/// Several daemons may run this at once, and newer daemons may store plans meanwhile: a case
/// is filled in under its row's lock, taken by marking it filled only while still unfilled,
/// and a plan is stored under a lock of the same row. So a daemon finding it filled leaves
/// the case alone, and one that marked it reads the newest plan only once no plan of the case
/// is being stored, and holds off any other until it commits.
///
/// A document that does not open or decode (altered by hand) is not a reason to refuse to
/// serve the others: its case keeps the area it had (`''` when it had none), its plan keeps
/// the rows it had, and reading it answers the error as before. Cases erased before these
/// versions have neither document nor plans left: they keep what they counted.
pub(super) async fn fill_at_connecting(store: &PostgresStore) -> Result<(), StoreError> {
    const OP: &str = "filling in the unmet needs statistics for rows from before schema version 8";
    let keys = store.keys();
    let mut client = store.client().await?;
    loop {
        let tx = client.transaction().await.during(OP)?;
        let cases = tx
            .query(
                "SELECT id, case_json, local_authority FROM cases
                 WHERE (local_authority IS NULL OR NOT open_needs_kept) AND erased_at IS NULL
                 ORDER BY id LIMIT $1",
                &[&OPENING_BATCH],
            )
            .await
            .during(OP)?;
        for row in &cases {
            let id: String = row.try_get(0).during(OP)?;
            let sealed: String = row.try_get(1).during(OP)?;
            let area: Option<String> = row.try_get(2).during(OP)?;
            let area = match open_document(&keys, &sealed, &place::case(&id)) {
                Some(case) => area_of_document(&case),
                None => area.unwrap_or_default(),
            };
            let claimed = tx
                .execute(
                    "UPDATE cases SET local_authority = $2, open_needs_kept = TRUE
                     WHERE id = $1 AND (local_authority IS NULL OR NOT open_needs_kept)
                       AND erased_at IS NULL",
                    &[&id, &area],
                )
                .await
                .during(OP)?;
            if claimed == 0 {
                // Filled in by another daemon, or erased, meanwhile.
                continue;
            }
            let newest = tx
                .query_opt(
                    "SELECT plan_json, created_at FROM plans WHERE case_id = $1
                     ORDER BY id DESC LIMIT 1",
                    &[&id],
                )
                .await
                .during(OP)?;
            if let Some(plan) = newest {
                let sealed: Option<String> = plan.try_get(0).during(OP)?;
                let planned_at: DateTime<Utc> = plan.try_get(1).during(OP)?;
                let opened = sealed
                    .and_then(|sealed| open_document(&keys, &sealed, &place::plan(&id)))
                    .map(|record| unmet_of_document(&record));
                if let Some(needs) = opened {
                    replace(&tx, &id, &needs, planned_at, OP).await?;
                }
            }
        }
        tx.commit().await.during(OP)?;
        if (cases.len() as i64) < OPENING_BATCH {
            return Ok(());
        }
    }
}
