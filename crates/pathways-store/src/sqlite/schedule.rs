//! SQLite statements for follow-up schedules and the cases due a follow-up (see
//! `0008_evidence.sql` and [`crate::schedule`]).

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::SqlResult;
use crate::codec::{from_micros, micros};
use crate::error::StoreError;
use crate::ids::CaseId;
use crate::schedule::{FollowUpDue, FollowUpSchedule};

pub(super) fn set(c: &Connection, schedule: &FollowUpSchedule) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO follow_up_schedules (organisation, after_days, set_by, set_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (organisation) DO UPDATE SET after_days = excluded.after_days,
             set_by = excluded.set_by, set_at = excluded.set_at",
        params![
            schedule.organisation,
            schedule.after_days,
            schedule.set_by,
            micros(schedule.set_at)
        ],
    )
    .during("setting a follow-up schedule")?;
    Ok(())
}

pub(super) fn get(
    c: &Connection,
    organisation: &str,
) -> Result<Option<FollowUpSchedule>, StoreError> {
    let row: Option<(i64, String, i64)> = c
        .query_row(
            "SELECT after_days, set_by, set_at FROM follow_up_schedules WHERE organisation = ?1",
            [organisation],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .during("reading a follow-up schedule")?;
    let Some((after_days, set_by, set_at)) = row else { return Ok(None) };
    Ok(Some(FollowUpSchedule {
        organisation: organisation.to_string(),
        after_days: u32::try_from(after_days).map_err(|_| StoreError::Corrupt {
            what: "follow-up schedule",
            id: organisation.to_string(),
            problem: "its days are out of range".into(),
        })?,
        set_by,
        set_at: from_micros(set_at, "follow-up schedule", organisation)?,
    }))
}

pub(super) fn due(
    c: &Connection,
    organisation: &str,
    after_days: u32,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<FollowUpDue>, StoreError> {
    if after_days == 0 {
        return Ok(Vec::new());
    }
    let ended_by = micros(now - Duration::days(i64::from(after_days)));
    let rows: Vec<(String, Option<String>, i64)> = c
        .prepare_cached(
            "WITH ended AS (
                 SELECT c.id, c.reference, MAX(r.state_changed_at) AS at,
                        SUM(r.state IN ('draft', 'requested', 'accepted', 'in-progress',
                                        'on-hold')) AS live,
                        SUM(r.state = 'completed') AS completed
                 FROM cases c JOIN referrals r ON r.case_id = c.id
                 WHERE c.organisation = ?1 AND c.erased_at IS NULL
                 GROUP BY c.id, c.reference)
             SELECT e.id, e.reference, e.at FROM ended e
             WHERE e.live = 0 AND e.completed > 0 AND e.at <= ?2
               AND NOT EXISTS (SELECT 1 FROM follow_ups f
                               WHERE f.case_id = e.id AND f.recorded_at >= e.at)
             ORDER BY e.at, e.id LIMIT ?3",
        )
        .and_then(|mut s| {
            s.query_map(params![organisation, ended_by, limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })
        .during("listing the cases due a follow-up")?;
    rows.into_iter()
        .map(|(id, reference, at)| {
            Ok(FollowUpDue {
                last_ended_at: from_micros(at, "case", &id)?,
                case_id: CaseId::from_db(id),
                reference: reference.unwrap_or_default(),
            })
        })
        .collect()
}
