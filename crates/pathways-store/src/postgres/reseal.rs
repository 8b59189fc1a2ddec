//! PostgreSQL's side of re-sealing (see [`crate::reseal`]): one batch per transaction, each
//! value written back only if it is still what was read, so the daemons serving meanwhile
//! (this one and others) never have a newer value overwritten by an older one, and several
//! daemons sealing at once share the work.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use super::{PgResult, PostgresStore};
use crate::erasure::ResealProgress;
use crate::error::StoreError;
use crate::reseal::{SealedColumn, SEALED_COLUMNS};
use crate::seal::{DataKeys, PREFIX};

const OP: &str = "re-sealing stored values";

/// What one pass did.
pub(super) struct Pass {
    /// What the caller hears: values re-sealed, and values still to do.
    pub(super) progress: ResealProgress,
    /// Values the pass found to do, including those another daemon re-sealed first (so a
    /// pass that lost every race still counts as work found).
    pub(super) selected: u64,
}

/// Re-seals up to `batch` values not sealed under the current key (`plain_only`: only values
/// not sealed at all, as at connecting), in one transaction.
pub(super) async fn pass(
    store: &PostgresStore,
    batch: u32,
    plain_only: bool,
) -> Result<Pass, StoreError> {
    let keys = store.keys();
    let prefix = if plain_only { PREFIX.to_string() } else { keys.current_prefix() };
    let mut client = store.client().await?;
    let tx = client.transaction().await.during(OP)?;
    let mut pass = Pass { progress: ResealProgress::default(), selected: 0 };
    let mut left = i64::from(batch);
    for column in SEALED_COLUMNS {
        if left > 0 {
            let (selected, resealed) = reseal_column(&tx, &keys, column, &prefix, left).await?;
            pass.selected += selected;
            pass.progress.resealed += resealed;
            left -= i64::try_from(selected).unwrap_or(i64::MAX);
        }
    }
    // Counted in the same transaction, so it agrees with what this pass wrote.
    for column in SEALED_COLUMNS {
        let count = format!(
            "SELECT COUNT(*) FROM {table} WHERE {stale}",
            table = column.table,
            stale = stale(column),
        );
        let remaining: i64 =
            tx.query_one(&count, &[&prefix]).await.during(OP)?.try_get(0).during(OP)?;
        pass.progress.remaining += u64::try_from(remaining).unwrap_or(0);
    }
    tx.commit().await.during(OP)?;
    Ok(pass)
}

/// The rows of `column` holding a value not starting with `$1`.
fn stale(column: &SealedColumn) -> String {
    format!(
        "{holds} AND left({value}, length($1::TEXT)) <> $1::TEXT",
        holds = column.holds_value,
        value = column.value,
    )
}

/// Re-seals up to `limit` values of one column: (values found, values written).
async fn reseal_column<C: GenericClient>(
    tx: &C,
    keys: &DataKeys,
    column: &SealedColumn,
    prefix: &str,
    limit: i64,
) -> Result<(u64, u64), StoreError> {
    let select = format!(
        "SELECT {key}, {place_of}, {value} FROM {table} WHERE {stale} ORDER BY {key} LIMIT $2",
        key = column.key,
        place_of = column.place_of,
        value = column.value,
        table = column.table,
        stale = stale(column),
    );
    let rows = tx.query(&select, &[&prefix, &limit]).await.during(OP)?;
    let update = tx
        .prepare(&format!(
            "UPDATE {table} SET {value} = $1 WHERE {key} = $2 AND {value} = $3",
            table = column.table,
            value = column.value,
            key = column.key,
        ))
        .await
        .during(OP)?;
    let mut written = 0;
    for row in &rows {
        let place_of: String = row.try_get(1).during(OP)?;
        let stored: String = row.try_get(2).during(OP)?;
        let place = (column.place)(&place_of);
        let plain = keys.open_or_plain(&stored, &place).map_err(|e| StoreError::Sealed {
            what: column.table,
            id: place_of.clone(),
            problem: e.to_string(),
        })?;
        let sealed = keys.seal(&plain, &place);
        let key = RowKey::read(row)?;
        written += tx.execute(&update, &[&sealed, key.as_sql(), &stored]).await.during(OP)?;
    }
    Ok((rows.len() as u64, written))
}

/// A row's key, as its column is typed: text ids (cases, referrals) or numbers (plans,
/// history, outbox).
enum RowKey {
    Text(String),
    Number(i64),
}

impl RowKey {
    fn read(row: &Row) -> Result<Self, StoreError> {
        if *row.columns()[0].type_() == Type::INT8 {
            Ok(RowKey::Number(row.try_get(0).during(OP)?))
        } else {
            Ok(RowKey::Text(row.try_get(0).during(OP)?))
        }
    }

    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            RowKey::Text(text) => text,
            RowKey::Number(n) => n,
        }
    }
}

/// Checks that `keys` can open what is stored: every data key a stored value was sealed under
/// is among them, and opens one such value (a different key under a reused id fails too). Run
/// at connecting, so a missing or wrong key is refused before anything is served, and before
/// a reload swaps keys in.
pub(super) async fn verify_keys(store: &PostgresStore, keys: &DataKeys) -> Result<(), StoreError> {
    const OP: &str = "checking the data keys against the stored values";
    let client = store.client().await?;
    for column in SEALED_COLUMNS {
        let ids = format!(
            "SELECT DISTINCT split_part({v}, ':', 2) FROM {t}
             WHERE {holds} AND left({v}, 5) = 'pws1:'",
            v = column.value,
            t = column.table,
            holds = column.holds_value,
        );
        for row in client.query(&ids, &[]).await.during(OP)? {
            let id: String = row.try_get(0).during(OP)?;
            let prefix = format!("{PREFIX}{id}:");
            let probe = format!(
                "SELECT {place_of}, {v} FROM {t}
                 WHERE {holds} AND left({v}, length($1::TEXT)) = $1::TEXT LIMIT 1",
                place_of = column.place_of,
                v = column.value,
                t = column.table,
                holds = column.holds_value,
            );
            let found = client.query_one(&probe, &[&prefix]).await.during(OP)?;
            let place_of: String = found.try_get(0).during(OP)?;
            let stored: String = found.try_get(1).during(OP)?;
            keys.open(&stored, &(column.place)(&place_of)).map_err(|e| StoreError::Sealed {
                what: column.table,
                id: place_of,
                problem: e.to_string(),
            })?;
        }
    }
    Ok(())
}
