//! PostgreSQL statements for an inbox partner's capacity.

use deadpool_postgres::GenericClient;

use super::PgResult;
use crate::error::StoreError;
use crate::inbox::{CapacityState, PartnerCapacity};

/// Makes `capacity` the partner's, replacing what was set before.
pub(super) async fn set_capacity<C: GenericClient>(
    c: &C,
    capacity: &PartnerCapacity,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO partner_capacity (partner_id, state, count, note, set_by, set_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (partner_id) DO UPDATE SET state = excluded.state, count = excluded.count,
             note = excluded.note, set_by = excluded.set_by, set_at = excluded.set_at",
        &[
            &capacity.partner_id,
            &capacity.state.as_str(),
            &capacity.count.map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
            &capacity.note,
            &capacity.set_by,
            &capacity.set_at,
        ],
    )
    .await
    .during("setting a partner's capacity")?;
    Ok(())
}

/// The partner's capacity, if its staff ever set it.
pub(super) async fn capacity<C: GenericClient>(
    c: &C,
    partner_id: &str,
) -> Result<Option<PartnerCapacity>, StoreError> {
    let row = c
        .query_opt(
            "SELECT state, count, note, set_by, set_at FROM partner_capacity
             WHERE partner_id = $1",
            &[&partner_id],
        )
        .await
        .during("reading a partner's capacity")?;
    let Some(row) = row else { return Ok(None) };
    let corrupt = |problem: &str| StoreError::Corrupt {
        what: "partner capacity",
        id: partner_id.to_string(),
        problem: problem.to_string(),
    };
    let state: String = row.get(0);
    let count: Option<i32> = row.get(1);
    Ok(Some(PartnerCapacity {
        partner_id: partner_id.to_string(),
        state: CapacityState::parse(&state).ok_or_else(|| corrupt("its state is not known"))?,
        count: count
            .map(|n| u32::try_from(n).map_err(|_| corrupt("its count is out of range")))
            .transpose()?,
        note: row.get(2),
        set_by: row.get(3),
        set_at: row.get(4),
    }))
}
