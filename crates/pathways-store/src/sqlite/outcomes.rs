//! SQLite statements for follow-ups with clients (sealed records; see migration 6).

use chrono::{DateTime, Utc};
use pathways_core::FollowUp;
use rusqlite::{params, Connection};

use super::SqlResult;
use crate::codec::{micros, open_json, place, seal_json};
use crate::error::StoreError;
use crate::ids::CaseId;
use crate::seal::DataKeys;

pub(super) fn insert(
    c: &Connection,
    keys: &DataKeys,
    case_id: &CaseId,
    follow_up: &FollowUp,
) -> Result<bool, StoreError> {
    const OP: &str = "recording a follow-up";
    let live: bool = c
        .prepare_cached("SELECT COUNT(*) FROM cases WHERE id = ?1 AND erased_at IS NULL")
        .and_then(|mut s| s.query_row([case_id.as_str()], |r| r.get::<_, i64>(0)))
        .during(OP)?
        > 0;
    if !live {
        return Ok(false);
    }
    let key = case_id.as_str();
    let record = seal_json(keys, follow_up, "follow-up", &place::follow_up(key))?;
    c.prepare_cached("INSERT INTO follow_ups (case_id, recorded_at, record) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![key, micros(follow_up.recorded_at), record]))
        .during(OP)?;
    Ok(true)
}

pub(super) fn of_case(
    c: &Connection,
    keys: &DataKeys,
    case_id: &CaseId,
) -> Result<Vec<FollowUp>, StoreError> {
    let key = case_id.as_str();
    let rows: Vec<String> = c
        .prepare_cached("SELECT record FROM follow_ups WHERE case_id = ?1 ORDER BY recorded_at, id")
        .and_then(|mut s| s.query_map([key], |r| r.get(0))?.collect())
        .during("reading a case's follow-ups")?;
    rows.iter().map(|r| open_json(keys, r, "follow-up", key, &place::follow_up(key))).collect()
}

pub(super) fn between(
    c: &Connection,
    keys: &DataKeys,
    organisation: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<(CaseId, FollowUp)>, StoreError> {
    let rows: Vec<(String, String)> = c
        .prepare_cached(
            "SELECT f.case_id, f.record FROM follow_ups f JOIN cases c ON c.id = f.case_id
             WHERE f.recorded_at >= ?1 AND f.recorded_at < ?2
               AND (?3 IS NULL OR c.organisation = ?3)
             ORDER BY f.recorded_at, f.id LIMIT ?4",
        )
        .and_then(|mut s| {
            s.query_map(params![micros(from), micros(to), organisation, limit], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect()
        })
        .during("reading follow-ups")?;
    rows.into_iter()
        .map(|(case, record)| {
            let follow_up = open_json(keys, &record, "follow-up", &case, &place::follow_up(&case))?;
            Ok((CaseId::from_db(case), follow_up))
        })
        .collect()
}
