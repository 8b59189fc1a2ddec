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

/// Pending outbox rows.
pub(super) fn outbox_depth(c: &Connection) -> Result<u64, StoreError> {
    c.query_row("SELECT COUNT(*) FROM outbox WHERE state = 'pending'", [], |r| r.get::<_, i64>(0))
        .during("counting the outbox")
        .map(|n| u64::try_from(n).unwrap_or(0))
}
