//! PostgreSQL queries behind the reports: stuck referrals and pathway statistics.

use chrono::{DateTime, Utc};
use deadpool_postgres::Client;
use pathways_core::TaskState;

use super::PgResult;
use crate::codec::{from_code, to_code, truncate};
use crate::error::StoreError;
use crate::ids::{CaseId, ReferralId};
use crate::referral::StuckReferral;
use crate::stats::{StatsFact, ACCEPTING_STATES};

pub(super) async fn stuck(
    c: &Client,
    state: TaskState,
    before: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<StuckReferral>, StoreError> {
    in_state(c, state, "state_changed_at < $2", before, limit).await
}

pub(super) async fn entered(
    c: &Client,
    state: TaskState,
    since: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<StuckReferral>, StoreError> {
    in_state(c, state, "state_changed_at >= $2", since, limit).await
}

/// Referrals in `state` whose change time meets `bound` (`$2` is `at`), oldest change first.
async fn in_state(
    c: &Client,
    state: TaskState,
    bound: &str,
    at: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<StuckReferral>, StoreError> {
    const OP: &str = "finding referrals by state";
    let sql = format!(
        "SELECT id, case_id, partner_id, state_changed_at FROM referrals
         WHERE state = $1 AND {bound} ORDER BY state_changed_at, id LIMIT $3"
    );
    let s = c.prepare_cached(&sql).await.during(OP)?;
    let rows = c.query(&s, &[&to_code(&state), &at, &i64::from(limit)]).await.during(OP)?;
    rows.iter()
        .map(|r| {
            Ok(StuckReferral {
                referral_id: ReferralId::from_db(r.try_get(0).during(OP)?),
                case_id: CaseId::from_db(r.try_get(1).during(OP)?),
                partner_id: r.try_get(2).during(OP)?,
                state,
                since: r.try_get(3).during(OP)?,
            })
        })
        .collect()
}

pub(super) async fn stats_facts(
    c: &Client,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    organisation: Option<&str>,
) -> Result<Vec<StatsFact>, StoreError> {
    const OP: &str = "reading pathway statistics";
    let accepting: Vec<String> = ACCEPTING_STATES.iter().map(to_code).collect();
    let s = c
        .prepare_cached(
            "SELECT r.id, r.partner_id, n.need, r.sent_at, r.state, r.reason,
                    (SELECT MIN(h.at) FROM referral_history h WHERE h.referral_id = r.id
                        AND h.state = ANY($3)),
                    (SELECT MIN(h.at) FROM referral_history h WHERE h.referral_id = r.id
                        AND h.state = 'completed')
             FROM referrals r JOIN referral_needs n ON n.referral_id = r.id
             WHERE r.sent_at >= $1 AND r.sent_at < $2
               AND ($4::TEXT IS NULL OR r.case_id IN (SELECT id FROM cases WHERE organisation = $4))",
        )
        .await
        .during(OP)?;
    let rows = c
        .query(&s, &[&truncate(from), &truncate(to), &accepting, &organisation])
        .await
        .during(OP)?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get(0).during(OP)?;
            let reason: Option<String> = r.try_get(5).during(OP)?;
            Ok(StatsFact {
                partner_id: r.try_get(1).during(OP)?,
                need: from_code(&r.try_get::<_, String>(2).during(OP)?, "referral need", &id)?,
                sent_at: r.try_get(3).during(OP)?,
                state: from_code(&r.try_get::<_, String>(4).during(OP)?, "referral", &id)?,
                reason: reason.map(|x| from_code(&x, "referral", &id)).transpose()?,
                first_accepted_at: r.try_get(6).during(OP)?,
                first_completed_at: r.try_get(7).during(OP)?,
            })
        })
        .collect()
}
