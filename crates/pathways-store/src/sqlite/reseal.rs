//! SQLite's side of re-sealing (see [`crate::reseal`]): one batch per write job, so readers
//! and the daemon's own writes carry on between batches.

use rusqlite::types::Value;
use rusqlite::{params, Connection};

use super::{SqlResult, SqliteStore};
use crate::erasure::ResealProgress;
use crate::error::StoreError;
use crate::reseal::SEALED_COLUMNS;
use crate::seal::{DataKeys, PREFIX};

/// Re-seals up to `batch` values not sealed under the current key (`plain_only`: only values
/// not sealed at all).
pub(super) async fn run(
    store: &SqliteStore,
    batch: u32,
    plain_only: bool,
) -> Result<ResealProgress, StoreError> {
    let keys = store.keys();
    store.write(move |c| pass(c, &keys, batch, plain_only)).await
}

/// The pass at opening: values written before sealing.
pub(super) async fn plain_only(
    store: &SqliteStore,
    batch: u32,
) -> Result<ResealProgress, StoreError> {
    run(store, batch, true).await
}

fn pass(
    c: &Connection,
    keys: &DataKeys,
    batch: u32,
    plain_only: bool,
) -> Result<ResealProgress, StoreError> {
    const OP: &str = "re-sealing stored values";
    let prefix = if plain_only { PREFIX.to_string() } else { keys.current_prefix() };
    let mut progress = ResealProgress::default();
    let mut left = u64::from(batch);
    for column in SEALED_COLUMNS {
        let stale = format!(
            "{holds} AND substr({value}, 1, {len}) <> ?1",
            holds = column.holds_value,
            value = column.value,
            len = prefix.len(),
        );
        if left > 0 {
            let select = format!(
                "SELECT {key}, {place_of}, {value} FROM {table} WHERE {stale} LIMIT ?2",
                key = column.key,
                place_of = column.place_of,
                value = column.value,
                table = column.table,
            );
            let rows: Vec<(Value, String, String)> = c
                .prepare(&select)
                .and_then(|mut s| {
                    s.query_map(params![prefix, left as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect()
                })
                .during(OP)?;
            let update = format!(
                "UPDATE {table} SET {value} = ?1 WHERE {key} = ?2 AND {value} = ?3",
                table = column.table,
                value = column.value,
                key = column.key,
            );
            for (key, place_of, stored) in rows {
                let place = (column.place)(&place_of);
                let plain =
                    keys.open_or_plain(&stored, &place).map_err(|e| StoreError::Sealed {
                        what: column.table,
                        id: place_of.clone(),
                        problem: e.to_string(),
                    })?;
                let sealed = keys.seal(&plain, &place);
                c.execute(&update, params![sealed, key, stored]).during(OP)?;
                progress.resealed += 1;
                left -= 1;
            }
        }
        let count = format!("SELECT COUNT(*) FROM {table} WHERE {stale}", table = column.table);
        let remaining: i64 = c.query_row(&count, params![prefix], |r| r.get(0)).during(OP)?;
        progress.remaining += u64::try_from(remaining).unwrap_or(0);
    }
    Ok(progress)
}
