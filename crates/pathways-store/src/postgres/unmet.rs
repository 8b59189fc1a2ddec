//! PostgreSQL statements behind the statistics of unmet needs (`plan_unmet`,
//! `cases.local_authority`; see `0004_unmet.sql`), and the filling in, at connecting, of
//! those for rows written before schema version 4.

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use pathways_core::NeedCode;

use super::{PgResult, PostgresStore};
use crate::codec::{from_code, open_document, place, truncate};
use crate::error::StoreError;
use crate::stats::{area_of_document, most_first, unmet_of_document, UnmetNeedRow};

/// Cases filled in per transaction at connecting.
const OPENING_BATCH: i64 = 500;

/// Makes `needs` the unmet needs of a case's newest plan, stored at `planned_at`, in place of
/// whatever its older plan had. Runs inside the caller's transaction, which holds the case
/// row locked against other plans of the case.
pub(super) async fn replace<C: GenericClient>(
    tx: &C,
    case_id: &str,
    needs: &[NeedCode],
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
            "INSERT INTO plan_unmet (case_id, need, planned_at)
             SELECT $1::TEXT, need, $3::TIMESTAMPTZ FROM unnest($2::TEXT[]) AS need",
        )
        .await
        .during(operation)?;
    let codes: Vec<&str> = needs.iter().map(|need| need.as_str()).collect();
    tx.execute(&insert, &[&case_id, &codes, &planned_at]).await.during(operation)?;
    Ok(())
}

pub(super) async fn unmet_needs(
    c: &Client,
    organisation: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<UnmetNeedRow>, StoreError> {
    const OP: &str = "counting unmet needs";
    let s = c
        .prepare_cached(
            "SELECT u.need, COALESCE(c.local_authority, '') AS area, COUNT(*)
             FROM plan_unmet u JOIN cases c ON c.id = u.case_id
             WHERE u.planned_at >= $1 AND u.planned_at < $2
               AND ($3::TEXT IS NULL OR c.organisation = $3)
             GROUP BY u.need, area",
        )
        .await
        .during(OP)?;
    let rows = c.query(&s, &[&truncate(from), &truncate(to), &organisation]).await.during(OP)?;
    rows.iter()
        .map(|r| {
            let need: String = r.try_get(0).during(OP)?;
            let area: String = r.try_get(1).during(OP)?;
            let cases: i64 = r.try_get(2).during(OP)?;
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
/// of its newest plan, opening their sealed documents. Runs at connecting, after the keys
/// are checked; a case not yet filled in is one whose area is NULL (every case stored since
/// has one, `''` when unknown), so this finds nothing to do on every connection after the
/// first.
///
/// Several daemons may run this at once, and newer daemons may store plans meanwhile: a case
/// is filled in under its row's lock, taken by setting its area only while still unset, and
/// a plan is stored under a lock of the same row. So a daemon finding the area set leaves
/// the case alone, and one that set it reads the newest plan only once no plan of the case
/// is being stored, and holds off any other until it commits.
///
/// A document that does not open or decode (altered by hand) is not a reason to refuse to
/// serve the others: its case counts with area `''`, its plan with no unmet need, and
/// reading it answers the error as before. Cases erased before this version have neither
/// document nor plans left: they keep no area and count nothing.
pub(super) async fn fill_at_connecting(store: &PostgresStore) -> Result<(), StoreError> {
    const OP: &str = "filling in the unmet needs statistics for rows from before schema version 4";
    let keys = store.keys();
    let mut client = store.client().await?;
    loop {
        let tx = client.transaction().await.during(OP)?;
        let cases = tx
            .query(
                "SELECT id, case_json FROM cases
                 WHERE local_authority IS NULL AND erased_at IS NULL ORDER BY id LIMIT $1",
                &[&OPENING_BATCH],
            )
            .await
            .during(OP)?;
        for row in &cases {
            let id: String = row.try_get(0).during(OP)?;
            let sealed: String = row.try_get(1).during(OP)?;
            let area = open_document(&keys, &sealed, &place::case(&id))
                .map_or_else(String::new, |case| area_of_document(&case));
            let claimed = tx
                .execute(
                    "UPDATE cases SET local_authority = $2
                     WHERE id = $1 AND local_authority IS NULL AND erased_at IS NULL",
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
                let needs = sealed
                    .and_then(|sealed| open_document(&keys, &sealed, &place::plan(&id)))
                    .map_or_else(Vec::new, |record| unmet_of_document(&record));
                replace(&tx, &id, &needs, planned_at, OP).await?;
            }
        }
        tx.commit().await.during(OP)?;
        if (cases.len() as i64) < OPENING_BATCH {
            return Ok(());
        }
    }
}
