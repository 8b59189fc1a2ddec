//! The SQLite schema, as numbered migrations recorded in `schema_migrations`.
//!
//! Applied when the store opens, inside one `BEGIN IMMEDIATE` transaction: a second process
//! opening the same file at the same moment waits, then finds nothing left to do. A migration,
//! once released, is never edited; change the schema by adding the next one.

use rusqlite::{Connection, TransactionBehavior};

use super::SqlResult;
use crate::codec::micros;
use crate::error::StoreError;

/// One schema change.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, oldest first.
const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("0001_initial.sql") },
    Migration { version: 2, name: "data_safety", sql: include_str!("0002_data_safety.sql") },
    Migration { version: 3, name: "console", sql: include_str!("0003_console.sql") },
    Migration { version: 4, name: "unmet", sql: include_str!("0004_unmet.sql") },
    Migration { version: 5, name: "cancel", sql: include_str!("0005_cancel.sql") },
    Migration { version: 6, name: "outcomes", sql: include_str!("0006_outcomes.sql") },
    Migration { version: 7, name: "inbox", sql: include_str!("0007_inbox.sql") },
    Migration { version: 8, name: "evidence", sql: include_str!("0008_evidence.sql") },
];

/// Brings the schema up to date; refuses a database migrated by a newer build.
pub(super) fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).during("migrating")?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )
    .during("migrating")?;
    let current: i64 = tx
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
        .during("reading the schema version")?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > known {
        return Err(StoreError::SchemaTooNew { found: current, known });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sql).during("applying a schema migration")?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, micros(chrono::Utc::now())],
        )
        .during("recording a schema migration")?;
    }
    tx.commit().during("migrating")
}

/// The newest version this build knows, for tests.
#[cfg(test)]
pub(super) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}
