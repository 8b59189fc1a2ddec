//! SQLite statements for an inbox partner's capacity.

use rusqlite::{params, Connection, OptionalExtension};

use super::SqlResult;
use crate::codec::{from_micros, micros};
use crate::error::StoreError;
use crate::inbox::{CapacityState, PartnerCapacity};

/// Makes `capacity` the partner's, replacing what was set before.
pub(super) fn set_capacity(c: &Connection, capacity: &PartnerCapacity) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO partner_capacity (partner_id, state, count, note, set_by, set_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (partner_id) DO UPDATE SET state = excluded.state, count = excluded.count,
             note = excluded.note, set_by = excluded.set_by, set_at = excluded.set_at",
        params![
            capacity.partner_id,
            capacity.state.as_str(),
            capacity.count.map(i64::from),
            capacity.note,
            capacity.set_by,
            micros(capacity.set_at),
        ],
    )
    .during("setting a partner's capacity")?;
    Ok(())
}

/// The partner's capacity, if its staff ever set it.
pub(super) fn capacity(
    c: &Connection,
    partner_id: &str,
) -> Result<Option<PartnerCapacity>, StoreError> {
    const OP: &str = "reading a partner's capacity";
    type Row = (String, Option<i64>, Option<String>, String, i64);
    let row: Option<Row> = c
        .query_row(
            "SELECT state, count, note, set_by, set_at FROM partner_capacity
             WHERE partner_id = ?1",
            params![partner_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()
        .during(OP)?;
    let Some((state, count, note, set_by, set_at)) = row else { return Ok(None) };
    let corrupt = |problem: &str| StoreError::Corrupt {
        what: "partner capacity",
        id: partner_id.to_string(),
        problem: problem.to_string(),
    };
    Ok(Some(PartnerCapacity {
        partner_id: partner_id.to_string(),
        state: CapacityState::parse(&state).ok_or_else(|| corrupt("its state is not known"))?,
        count: count
            .map(|n| u32::try_from(n).map_err(|_| corrupt("its count is out of range")))
            .transpose()?,
        note,
        set_by,
        set_at: from_micros(set_at, "partner capacity", partner_id)?,
    }))
}
