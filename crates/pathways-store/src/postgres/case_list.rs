//! PostgreSQL queries behind the console's case list, and the filling in, at connecting, of
//! the plain columns they read for rows written before schema version 3.

use chrono::{DateTime, Utc};
use deadpool_postgres::Client;

use super::{PgResult, PostgresStore};
use crate::accounts::{count, list_columns, plan_version, AttentionReferral, CaseSummary};
use crate::codec::{from_code, open_document, place, truncate};
use crate::error::StoreError;
use crate::ids::{CaseId, ReferralId};

/// Rows filled in per transaction at connecting.
const OPENING_BATCH: i64 = 500;

/// The summary columns, for a `cases c`; the live and attention states spelt as the
/// `referrals_one_live_per_step` index and `crate::referral::LIVE_STATES` spell them.
const SUMMARY_COLUMNS: &str = "c.id, c.reference, c.created_at, c.need_count,
    (SELECT p.version FROM plans p WHERE p.case_id = c.id ORDER BY p.id DESC LIMIT 1),
    (SELECT COUNT(*) FROM referrals r WHERE r.case_id = c.id
        AND r.state IN ('draft', 'requested', 'accepted', 'in-progress', 'on-hold')),
    (SELECT COUNT(*) FROM referrals r WHERE r.case_id = c.id
        AND r.state IN ('rejected', 'failed'))";

pub(super) async fn case_summaries(
    c: &Client,
    organisation: &str,
    reference: Option<&str>,
    limit: u32,
) -> Result<Vec<CaseSummary>, StoreError> {
    const OP: &str = "listing cases";
    let limit = i64::from(limit);
    // Two statements rather than `$2 IS NULL OR …`, so that each has a plan using its index.
    let rows = match reference {
        None => {
            let s = c
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLUMNS} FROM cases c
                     WHERE c.organisation = $1 AND c.erased_at IS NULL
                     ORDER BY c.created_at DESC, c.id DESC LIMIT $2"
                ))
                .await
                .during(OP)?;
            c.query(&s, &[&organisation, &limit]).await.during(OP)?
        }
        Some(reference) => {
            let s = c
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLUMNS} FROM cases c
                     WHERE c.organisation = $1 AND lower(c.reference) = lower($2)
                       AND c.erased_at IS NULL
                     ORDER BY c.created_at DESC, c.id DESC LIMIT $3"
                ))
                .await
                .during(OP)?;
            c.query(&s, &[&organisation, &reference.trim(), &limit]).await.during(OP)?
        }
    };
    rows.iter()
        .map(|r| {
            let needs: Option<i32> = r.try_get(3).during(OP)?;
            let version: Option<i32> = r.try_get(4).during(OP)?;
            Ok(CaseSummary {
                id: CaseId::from_db(r.try_get(0).during(OP)?),
                reference: r.try_get::<_, Option<String>>(1).during(OP)?.unwrap_or_default(),
                created_at: r.try_get(2).during(OP)?,
                needs: count(needs.unwrap_or(0).into()),
                plan_version: version.filter(|v| *v > 0).map(|v| count(v.into())),
                referrals_live: count(r.try_get(5).during(OP)?),
                referrals_attention: count(r.try_get(6).during(OP)?),
            })
        })
        .collect()
}

pub(super) async fn needing_attention(
    c: &Client,
    organisation: &str,
    older_than: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<AttentionReferral>, StoreError> {
    const OP: &str = "finding referrals needing attention";
    let s = c
        .prepare_cached(
            "SELECT r.id, r.case_id, c.reference, r.partner_id, r.state, r.state_changed_at
             FROM referrals r JOIN cases c ON c.id = r.case_id
             WHERE c.organisation = $1 AND c.erased_at IS NULL
               AND (r.state IN ('rejected', 'failed')
                    OR (r.state = 'requested' AND r.state_changed_at < $2))
             ORDER BY r.state_changed_at DESC, r.id DESC LIMIT $3",
        )
        .await
        .during(OP)?;
    let rows =
        c.query(&s, &[&organisation, &truncate(older_than), &i64::from(limit)]).await.during(OP)?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get(0).during(OP)?;
            let state: String = r.try_get(4).during(OP)?;
            Ok(AttentionReferral {
                state: from_code(&state, "referral", &id)?,
                since: r.try_get(5).during(OP)?,
                case_id: CaseId::from_db(r.try_get(1).during(OP)?),
                case_reference: r.try_get::<_, Option<String>>(2).during(OP)?.unwrap_or_default(),
                partner_id: r.try_get(3).during(OP)?,
                referral_id: ReferralId::from_db(id),
            })
        })
        .collect()
}

/// Fills in the case list's plain columns of rows written before schema version 3 (a case's
/// reference and number of needs, a plan's version), opening their sealed documents. Runs at
/// connecting, after the keys are checked; finds nothing to do on every connection after the
/// first. Several daemons connecting at once may each take a batch: each row is written only
/// while still unfilled, and filling it is the same whoever does it.
///
/// A document that does not open or decode (altered by hand) is not a reason to refuse to
/// serve the others: its case lists with an empty reference and no needs, its plan as none,
/// and reading it answers the error as before.
pub(super) async fn fill_at_connecting(store: &PostgresStore) -> Result<(), StoreError> {
    const OP: &str = "filling in the case list for rows from before schema version 3";
    let keys = store.keys();
    let mut client = store.client().await?;
    loop {
        let tx = client.transaction().await.during(OP)?;
        let cases = tx
            .query(
                "SELECT id, case_json FROM cases
                 WHERE reference IS NULL AND erased_at IS NULL ORDER BY id LIMIT $1",
                &[&OPENING_BATCH],
            )
            .await
            .during(OP)?;
        for row in &cases {
            let id: String = row.try_get(0).during(OP)?;
            let sealed: String = row.try_get(1).during(OP)?;
            let (reference, needs) = open_document(&keys, &sealed, &place::case(&id))
                .map_or_else(|| (String::new(), 0), |case| list_columns(&case));
            let needs = i32::try_from(needs).unwrap_or(i32::MAX);
            tx.execute(
                "UPDATE cases SET reference = $2, need_count = $3
                 WHERE id = $1 AND reference IS NULL",
                &[&id, &reference, &needs],
            )
            .await
            .during(OP)?;
        }
        let plans = tx
            .query(
                "SELECT id, case_id, plan_json FROM plans WHERE version IS NULL ORDER BY id LIMIT $1",
                &[&OPENING_BATCH],
            )
            .await
            .during(OP)?;
        for row in &plans {
            let id: i64 = row.try_get(0).during(OP)?;
            let case_id: String = row.try_get(1).during(OP)?;
            let sealed: Option<String> = row.try_get(2).during(OP)?;
            let version = sealed
                .and_then(|sealed| open_document(&keys, &sealed, &place::plan(&case_id)))
                .map_or(0, |record| plan_version(&record));
            let version = i32::try_from(version).unwrap_or(0);
            tx.execute(
                "UPDATE plans SET version = $2 WHERE id = $1 AND version IS NULL",
                &[&id, &version],
            )
            .await
            .during(OP)?;
        }
        tx.commit().await.during(OP)?;
        if (cases.len() as i64) < OPENING_BATCH && (plans.len() as i64) < OPENING_BATCH {
            return Ok(());
        }
    }
}
