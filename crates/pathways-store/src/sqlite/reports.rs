//! SQLite queries behind the reports: stuck referrals and pathway statistics.

use chrono::{DateTime, Utc};
use pathways_core::TaskState;
use rusqlite::{params, Connection};

use super::SqlResult;
use crate::codec::{from_code, from_micros, micros, to_code};
use crate::error::StoreError;
use crate::ids::{CaseId, ReferralId};
use crate::referral::StuckReferral;
use crate::stats::{StatsFact, ACCEPTING_STATES};

pub(super) fn stuck(
    c: &Connection,
    state: TaskState,
    before: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<StuckReferral>, StoreError> {
    in_state(c, state, "state_changed_at < ?2", before, limit)
}

pub(super) fn entered(
    c: &Connection,
    state: TaskState,
    since: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<StuckReferral>, StoreError> {
    in_state(c, state, "state_changed_at >= ?2", since, limit)
}

/// Referrals in `state` whose change time meets `bound` (`?2` is `at`), oldest change first.
fn in_state(
    c: &Connection,
    state: TaskState,
    bound: &str,
    at: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<StuckReferral>, StoreError> {
    let sql = format!(
        "SELECT id, case_id, partner_id, state_changed_at FROM referrals
         WHERE state = ?1 AND {bound} ORDER BY state_changed_at, id LIMIT ?3"
    );
    let rows: Vec<(String, String, String, i64)> = c
        .prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_map(params![to_code(&state), micros(at), limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect()
        })
        .during("finding referrals by state")?;
    rows.into_iter()
        .map(|(id, case_id, partner_id, since)| {
            Ok(StuckReferral {
                since: from_micros(since, "referral", &id)?,
                referral_id: ReferralId::from_db(id),
                case_id: CaseId::from_db(case_id),
                partner_id,
                state,
            })
        })
        .collect()
}

pub(super) fn stats_facts(
    c: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    organisation: Option<&str>,
) -> Result<Vec<StatsFact>, StoreError> {
    let accepting: Vec<String> = ACCEPTING_STATES.iter().map(to_code).collect();
    type Row = (String, String, String, i64, String, Option<String>, Option<i64>, Option<i64>);
    let rows: Vec<Row> = c
        .prepare_cached(
            "SELECT r.id, r.partner_id, n.need, r.sent_at, r.state, r.reason,
                    (SELECT MIN(h.at) FROM referral_history h WHERE h.referral_id = r.id
                        AND h.state IN (?3, ?4, ?5, ?6)),
                    (SELECT MIN(h.at) FROM referral_history h WHERE h.referral_id = r.id
                        AND h.state = 'completed')
             FROM referrals r JOIN referral_needs n ON n.referral_id = r.id
             WHERE r.sent_at >= ?1 AND r.sent_at < ?2
               AND (?7 IS NULL OR r.case_id IN (SELECT id FROM cases WHERE organisation = ?7))",
        )
        .and_then(|mut s| {
            s.query_map(
                params![
                    micros(from),
                    micros(to),
                    accepting[0],
                    accepting[1],
                    accepting[2],
                    accepting[3],
                    organisation,
                ],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                },
            )?
            .collect()
        })
        .during("reading pathway statistics")?;
    rows.into_iter()
        .map(|(id, partner_id, need, sent, state, reason, accepted, completed)| {
            let at =
                |t: Option<i64>| t.map(|t| from_micros(t, "referral history", &id)).transpose();
            Ok(StatsFact {
                partner_id,
                need: from_code(&need, "referral need", &id)?,
                sent_at: from_micros(sent, "referral", &id)?,
                state: from_code(&state, "referral", &id)?,
                reason: reason.map(|r| from_code(&r, "referral", &id)).transpose()?,
                first_accepted_at: at(accepted)?,
                first_completed_at: at(completed)?,
            })
        })
        .collect()
}
