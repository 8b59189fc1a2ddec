//! SQLite's side of re-sealing (see [`crate::reseal`]): one batch per write job, so readers
//! and the daemon's own writes carry on between batches.
//!
//! At opening, values written before sealing are sealed on the writer connection before the
//! store serves anything. Their plain text would otherwise linger in the file's free pages
//! and in the write-ahead log (SQLite rewrites a page elsewhere rather than over the old
//! bytes), readable by anyone holding the file or a backup of it; so when any was sealed, the
//! file is rebuilt (`VACUUM`) and the log emptied.

use rusqlite::types::Value;
use rusqlite::{params, Connection, TransactionBehavior};

use super::{SqlResult, SqliteStore};
use crate::erasure::ResealProgress;
use crate::error::StoreError;
use crate::reseal::SEALED_COLUMNS;
use crate::seal::{DataKeys, PREFIX};

/// Values sealed per transaction at opening.
const OPENING_BATCH: u32 = 500;
/// How often, and how far apart, the log is truncated when another process is reading.
const SCRUB_ATTEMPTS: usize = 20;
const SCRUB_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Re-seals up to `batch` values not sealed under the current key.
pub(super) async fn run(store: &SqliteStore, batch: u32) -> Result<ResealProgress, StoreError> {
    let keys = store.keys();
    store.write(move |c| pass(c, &keys, batch, false)).await
}

/// Seals every value written before sealing, then scrubs their plain text from the file.
/// Runs at opening, on the writer connection, before the writer thread starts.
pub(super) fn seal_plain_at_opening(
    conn: &mut Connection,
    keys: &DataKeys,
) -> Result<(), StoreError> {
    const OP: &str = "sealing values written before sealing";
    let mut sealed = 0;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).during(OP)?;
        let progress = pass(&tx, keys, OPENING_BATCH, true)?;
        tx.commit().during(OP)?;
        sealed += progress.resealed;
        if progress.resealed == 0 || progress.remaining == 0 {
            break;
        }
    }
    if sealed > 0 {
        // VACUUM writes every page afresh (free pages are dropped, unused space is zeros);
        // the checkpoint then copies them over the old ones and truncates the log to nothing.
        conn.execute_batch("VACUUM").during("scrubbing plain text from the database file")?;
        for _ in 0..SCRUB_ATTEMPTS {
            let busy: i64 = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .during("scrubbing plain text from the write-ahead log")?;
            if busy == 0 {
                break;
            }
            // Another process is reading the file (a backup, a second daemon by mistake).
            // Its read ends soon; if it does not, the log is overwritten as the daemon
            // writes, and refusing to start would not scrub it any sooner.
            std::thread::sleep(SCRUB_WAIT);
        }
    }
    Ok(())
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

/// Checks that `keys` can open what is stored: every data key a stored value was sealed under
/// is among them, and opens one such value (a different key under a reused id fails too). Run
/// at opening, so a missing or wrong key is refused before anything is served, and before a
/// reload swaps keys in.
pub(super) fn verify_keys(c: &Connection, keys: &DataKeys) -> Result<(), StoreError> {
    const OP: &str = "checking the data keys against the stored values";
    for column in SEALED_COLUMNS {
        let ids = format!(
            "SELECT DISTINCT substr({v}, 6, instr(substr({v}, 6), ':') - 1) FROM {t}
             WHERE {holds} AND substr({v}, 1, 5) = 'pws1:'",
            v = column.value,
            t = column.table,
            holds = column.holds_value,
        );
        let ids: Vec<String> = c
            .prepare(&ids)
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .during(OP)?;
        for id in ids {
            let prefix = format!("{PREFIX}{id}:");
            let probe = format!(
                "SELECT {place_of}, {v} FROM {t} WHERE {holds} AND substr({v}, 1, ?2) = ?1 LIMIT 1",
                place_of = column.place_of,
                v = column.value,
                t = column.table,
                holds = column.holds_value,
            );
            let (place_of, stored): (String, String) = c
                .query_row(&probe, params![prefix, prefix.len() as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .during(OP)?;
            keys.open(&stored, &(column.place)(&place_of)).map_err(|e| StoreError::Sealed {
                what: column.table,
                id: place_of,
                problem: e.to_string(),
            })?;
        }
    }
    Ok(())
}
