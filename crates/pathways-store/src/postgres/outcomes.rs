//! PostgreSQL statements for follow-ups with clients (sealed records; see migration 6).

use chrono::{DateTime, Utc};
use deadpool_postgres::Client;
use pathways_core::FollowUp;

use super::PgResult;
use crate::codec::{open_json, place, seal_json, truncate};
use crate::error::StoreError;
use crate::ids::CaseId;
use crate::seal::DataKeys;

pub(super) async fn insert(
    c: &mut Client,
    keys: &DataKeys,
    case_id: &CaseId,
    follow_up: &FollowUp,
) -> Result<bool, StoreError> {
    const OP: &str = "recording a follow-up";
    let key = case_id.as_str();
    let tx = c.transaction().await.during(OP)?;
    // Locked against an erasure running at the same moment, which would otherwise miss it.
    if !super::records::lock_live_case(&tx, case_id, OP).await? {
        return Ok(false);
    }
    let record = seal_json(keys, follow_up, "follow-up", &place::follow_up(key))?;
    tx.execute(
        "INSERT INTO follow_ups (case_id, recorded_at, record) VALUES ($1, $2, $3)",
        &[&key, &truncate(follow_up.recorded_at), &record],
    )
    .await
    .during(OP)?;
    tx.commit().await.during(OP)?;
    Ok(true)
}

pub(super) async fn of_case(
    c: &Client,
    keys: &DataKeys,
    case_id: &CaseId,
) -> Result<Vec<FollowUp>, StoreError> {
    const OP: &str = "reading a case's follow-ups";
    let key = case_id.as_str();
    let rows = c
        .query("SELECT record FROM follow_ups WHERE case_id = $1 ORDER BY recorded_at, id", &[&key])
        .await
        .during(OP)?;
    rows.iter()
        .map(|r| {
            let record: String = r.try_get(0).during(OP)?;
            open_json(keys, &record, "follow-up", key, &place::follow_up(key))
        })
        .collect()
}

pub(super) async fn between(
    c: &Client,
    keys: &DataKeys,
    organisation: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<(CaseId, FollowUp)>, StoreError> {
    const OP: &str = "reading follow-ups";
    let rows = c
        .query(
            "SELECT f.case_id, f.record FROM follow_ups f JOIN cases c ON c.id = f.case_id
             WHERE f.recorded_at >= $1 AND f.recorded_at < $2
               AND ($3::TEXT IS NULL OR c.organisation = $3)
             ORDER BY f.recorded_at, f.id LIMIT $4",
            &[&from, &to, &organisation, &i64::from(limit)],
        )
        .await
        .during(OP)?;
    rows.iter()
        .map(|r| {
            let case: String = r.try_get(0).during(OP)?;
            let record: String = r.try_get(1).during(OP)?;
            let follow_up = open_json(keys, &record, "follow-up", &case, &place::follow_up(&case))?;
            Ok((CaseId::from_db(case), follow_up))
        })
        .collect()
}
