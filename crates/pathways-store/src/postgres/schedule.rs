//! PostgreSQL statements for follow-up schedules and the cases due a follow-up (see
//! `0008_evidence.sql` and [`crate::schedule`]).

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::GenericClient;

use super::PgResult;
use crate::codec::truncate;
use crate::error::StoreError;
use crate::ids::CaseId;
use crate::schedule::{FollowUpDue, FollowUpSchedule};

pub(super) async fn set<C: GenericClient>(
    c: &C,
    schedule: &FollowUpSchedule,
) -> Result<(), StoreError> {
    let days = i32::try_from(schedule.after_days).unwrap_or(i32::MAX);
    c.execute(
        "INSERT INTO follow_up_schedules (organisation, after_days, set_by, set_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (organisation) DO UPDATE SET after_days = excluded.after_days,
             set_by = excluded.set_by, set_at = excluded.set_at",
        &[&schedule.organisation, &days, &schedule.set_by, &truncate(schedule.set_at)],
    )
    .await
    .during("setting a follow-up schedule")?;
    Ok(())
}

pub(super) async fn get<C: GenericClient>(
    c: &C,
    organisation: &str,
) -> Result<Option<FollowUpSchedule>, StoreError> {
    const OP: &str = "reading a follow-up schedule";
    let row = c
        .query_opt(
            "SELECT after_days, set_by, set_at FROM follow_up_schedules WHERE organisation = $1",
            &[&organisation],
        )
        .await
        .during(OP)?;
    let Some(row) = row else { return Ok(None) };
    let after_days: i32 = row.try_get(0).during(OP)?;
    Ok(Some(FollowUpSchedule {
        organisation: organisation.to_string(),
        after_days: u32::try_from(after_days).map_err(|_| StoreError::Corrupt {
            what: "follow-up schedule",
            id: organisation.to_string(),
            problem: "its days are out of range".into(),
        })?,
        set_by: row.try_get(1).during(OP)?,
        set_at: row.try_get(2).during(OP)?,
    }))
}

pub(super) async fn due<C: GenericClient>(
    c: &C,
    organisation: &str,
    after_days: u32,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<FollowUpDue>, StoreError> {
    const OP: &str = "listing the cases due a follow-up";
    if after_days == 0 {
        return Ok(Vec::new());
    }
    let ended_by = truncate(now - Duration::days(i64::from(after_days)));
    let rows = c
        .query(
            "WITH ended AS (
                 SELECT c.id, c.reference, MAX(r.state_changed_at) AS at,
                        COUNT(*) FILTER (WHERE r.state IN ('draft', 'requested', 'accepted',
                                                           'in-progress', 'on-hold')) AS live,
                        COUNT(*) FILTER (WHERE r.state = 'completed') AS completed
                 FROM cases c JOIN referrals r ON r.case_id = c.id
                 WHERE c.organisation = $1 AND c.erased_at IS NULL
                 GROUP BY c.id, c.reference)
             SELECT e.id, e.reference, e.at FROM ended e
             WHERE e.live = 0 AND e.completed > 0 AND e.at <= $2
               AND NOT EXISTS (SELECT 1 FROM follow_ups f
                               WHERE f.case_id = e.id AND f.recorded_at >= e.at)
             ORDER BY e.at, e.id LIMIT $3",
            &[&organisation, &ended_by, &i64::from(limit)],
        )
        .await
        .during(OP)?;
    rows.iter()
        .map(|r| {
            let reference: Option<String> = r.try_get(1).during(OP)?;
            Ok(FollowUpDue {
                case_id: CaseId::from_db(r.try_get(0).during(OP)?),
                reference: reference.unwrap_or_default(),
                last_ended_at: r.try_get(2).during(OP)?,
            })
        })
        .collect()
}
