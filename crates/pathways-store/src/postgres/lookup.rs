//! PostgreSQL lookups of referrals by the names other systems know them by, and the outbox
//! depth.

use deadpool_postgres::GenericClient;

use super::PgResult;
use crate::error::StoreError;
use crate::ids::ReferralId;

/// The referral with this idempotency key.
pub(super) async fn by_key<C: GenericClient>(
    c: &C,
    key: &str,
) -> Result<Option<ReferralId>, StoreError> {
    let row = c
        .query_opt("SELECT id FROM referrals WHERE idempotency_key = $1", &[&key])
        .await
        .during("finding a referral by its key")?;
    Ok(row.map(|r| ReferralId::from_db(r.get(0))))
}

/// The referral `partner_id` acknowledged with `reference`.
pub(super) async fn by_partner_reference<C: GenericClient>(
    c: &C,
    partner_id: &str,
    reference: &str,
) -> Result<Option<ReferralId>, StoreError> {
    let row = c
        .query_opt(
            "SELECT id FROM referrals WHERE partner_id = $1 AND partner_reference = $2
             ORDER BY created_at LIMIT 1",
            &[&partner_id, &reference],
        )
        .await
        .during("finding a referral by the partner's reference")?;
    Ok(row.map(|r| ReferralId::from_db(r.get(0))))
}

/// The referrals delivered to `partner_id`, newest first, of cases not erased.
pub(super) async fn sent_to<C: GenericClient>(
    c: &C,
    partner_id: &str,
    limit: u32,
) -> Result<Vec<ReferralId>, StoreError> {
    let rows = c
        .query(
            "SELECT r.id FROM referrals r JOIN cases k ON k.id = r.case_id
             WHERE r.partner_id = $1 AND r.sent_at IS NOT NULL AND k.erased_at IS NULL
             ORDER BY r.sent_at DESC LIMIT $2",
            &[&partner_id, &i64::from(limit)],
        )
        .await
        .during("listing the referrals sent to a partner")?;
    Ok(rows.into_iter().map(|r| ReferralId::from_db(r.get(0))).collect())
}

/// Pending outbox rows.
pub(super) async fn outbox_depth<C: GenericClient>(c: &C) -> Result<u64, StoreError> {
    let row = c
        .query_one("SELECT COUNT(*) FROM outbox WHERE state = 'pending'", &[])
        .await
        .during("counting the outbox")?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}
