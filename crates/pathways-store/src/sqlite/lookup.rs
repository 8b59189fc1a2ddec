//! SQLite lookups of referrals by the names other systems know them by, and the outbox depth.

use rusqlite::{params, Connection, OptionalExtension};

use super::SqlResult;
use crate::error::StoreError;
use crate::ids::ReferralId;

/// The referral with this idempotency key.
pub(super) fn by_key(c: &Connection, key: &str) -> Result<Option<ReferralId>, StoreError> {
    c.query_row("SELECT id FROM referrals WHERE idempotency_key = ?1", params![key], |r| r.get(0))
        .optional()
        .during("finding a referral by its key")
        .map(|id: Option<String>| id.map(ReferralId::from_db))
}

/// The referral `partner_id` acknowledged with `reference`.
pub(super) fn by_partner_reference(
    c: &Connection,
    partner_id: &str,
    reference: &str,
) -> Result<Option<ReferralId>, StoreError> {
    c.query_row(
        "SELECT id FROM referrals WHERE partner_id = ?1 AND partner_reference = ?2
         ORDER BY created_at LIMIT 1",
        params![partner_id, reference],
        |r| r.get(0),
    )
    .optional()
    .during("finding a referral by the partner's reference")
    .map(|id: Option<String>| id.map(ReferralId::from_db))
}

/// The referrals delivered to `partner_id`, newest first, of cases not erased.
pub(super) fn sent_to(
    c: &Connection,
    partner_id: &str,
    limit: u32,
) -> Result<Vec<ReferralId>, StoreError> {
    let mut statement = c
        .prepare_cached(
            "SELECT r.id FROM referrals r JOIN cases k ON k.id = r.case_id
             WHERE r.partner_id = ?1 AND r.sent_at IS NOT NULL AND k.erased_at IS NULL
             ORDER BY r.sent_at DESC LIMIT ?2",
        )
        .during("listing the referrals sent to a partner")?;
    let ids = statement
        .query_map(params![partner_id, limit], |r| r.get::<_, String>(0))
        .during("listing the referrals sent to a partner")?
        .collect::<Result<Vec<String>, _>>()
        .during("listing the referrals sent to a partner")?;
    Ok(ids.into_iter().map(ReferralId::from_db).collect())
}

/// Pending outbox rows.
pub(super) fn outbox_depth(c: &Connection) -> Result<u64, StoreError> {
    c.query_row("SELECT COUNT(*) FROM outbox WHERE state = 'pending'", [], |r| r.get::<_, i64>(0))
        .during("counting the outbox")
        .map(|n| u64::try_from(n).unwrap_or(0))
}
