//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a referral
//! the API has accepted survives a power cut.
//!
//! Connections: one writer owned by a thread of its own, and a few read-only readers. SQLite
//! lets only one writer in at a time anyway; queueing writes for our own thread (instead of
//! letting several connections race for the file lock) keeps them in arrival order and out of
//! `SQLITE_BUSY`, and lets the writer commit the writes that queued up during one `fsync`
//! together (group commit, see [`writer`]). WAL lets readers run while a commit waits for its
//! `fsync`, so reading a case never waits behind writing one. Every batch runs in
//! `BEGIN IMMEDIATE`, which takes the file's write lock up front, so another process on the
//! same file (a second daemon by mistake, a backup) serialises with us through the busy
//! timeout rather than failing midway.
//!
//! SQLite calls block, so reads run on tokio's blocking pool (`spawn_blocking`) and writes on
//! the writer thread, never on the async workers.

mod lookup;
mod migrations;
mod outbox;
mod records;
mod referrals;
mod reports;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pathways_core::{ActionPlan, Case, TaskState};
use rusqlite::{Connection, OpenFlags};

use crate::audit::{AuditEntry, AuditFilter, AuditRecord};
use crate::error::StoreError;
use crate::idempotency::{IdempotencyOutcome, StoredResponse};
use crate::ids::{CaseId, OutboxItemId, ReferralId};
use crate::records::{StoredCase, StoredPlan};
use crate::referral::{
    DispatchOutcome, NewReferral, OutboxItem, PartnerEvent, StatusChange, StoredReferral,
    StuckReferral,
};
use crate::stats::PathwayStatsRow;
use crate::store::Store;

/// Readers beside the writer: enough for this project's 2-core target to read while writing.
const READERS: usize = 2;
/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection (the store has about 40 distinct statements).
const STATEMENT_CACHE: usize = 64;

/// How the SQLite store is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// The most writes committed in one transaction (group commit). 1 commits each write on
    /// its own. Each caller is still answered only after its own write is durable.
    pub commit_batch: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self { commit_batch: 128 }
    }
}

/// The SQLite implementation of [`Store`].
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: writer::Writer,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

/// Turns rusqlite errors into [`StoreError::Database`] naming what the store was doing.
pub(crate) trait SqlResult<T> {
    /// Maps the error, if any, with `operation` as context.
    fn during(self, operation: &'static str) -> Result<T, StoreError>;
}

impl<T> SqlResult<T> for rusqlite::Result<T> {
    fn during(self, operation: &'static str) -> Result<T, StoreError> {
        self.map_err(|err| {
            let code = match &err {
                rusqlite::Error::SqliteFailure(e, _) => Some(e.extended_code.to_string()),
                _ => None,
            };
            // SQLite's messages name tables and columns, never row values.
            StoreError::Database { backend: "SQLite", operation, code, message: err.to_string() }
        })
    }
}

/// Whether a rusqlite error is a failed constraint whose message mentions `needle`.
pub(crate) fn is_constraint(err: &rusqlite::Error, needle: &str) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, Some(msg))
        if e.code == rusqlite::ErrorCode::ConstraintViolation && msg.contains(needle))
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic inside a call rolled its transaction back while unwinding (rusqlite's
    // `Transaction` does so on drop), so the connection is still sound.
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SqliteStore {
    /// Opens (creating if needed, with its folder) the database file at `path`, sets WAL and
    /// `synchronous=FULL`, and applies migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// [`open`](Self::open) with options.
    pub async fn open_with(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(path, options))
            .await
            .map_err(|e| StoreError::TaskFailed(e.to_string()))?
    }

    fn open_blocking(path: PathBuf, options: SqliteOptions) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut writer =
            Connection::open_with_flags(&path, flags).during("opening the database")?;
        configure(&writer)?;
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .during("switching to WAL")?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Database {
                backend: "SQLite",
                operation: "switching to WAL",
                code: None,
                message: format!("journal mode stayed `{mode}` (is the file on a network share?)"),
            });
        }
        migrations::apply(&mut writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let reader = Connection::open_with_flags(&path, flags).during("opening a reader")?;
            configure(&reader)?;
            readers.push(Mutex::new(reader));
        }
        let writer = writer::Writer::start(writer, options.commit_batch)?;
        let inner = Inner { path, writer, readers, next_reader: AtomicUsize::new(0) };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Runs `f` on the writer connection as one atomic write, answering once it is committed.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.writer.write(f).await
    }

    /// Runs `f` on a free reader (or waits for the next in turn), on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
            let n = inner.readers.len();
            let free = (0..n).find_map(|i| inner.readers[(start + i) % n].try_lock().ok());
            let conn = free.unwrap_or_else(|| lock(&inner.readers[start % n]));
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::TaskFailed(e.to_string()))?
    }
}

/// Per-connection settings (these pragmas do not persist in the file).
fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).during("setting the busy timeout")?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .during("configuring the connection")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn commit_counts(&self) -> Option<(u64, u64)> {
        let counts = self.inner.writer.counts();
        Some((counts.batches.load(Ordering::Relaxed), counts.writes.load(Ordering::Relaxed)))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).during("pinging")).await
    }

    async fn insert_case(&self, organisation: &str, case: &Case) -> Result<CaseId, StoreError> {
        let json = crate::codec::to_json(case, "case")?;
        let organisation = organisation.to_string();
        self.write(move |c| records::insert_case(c, &organisation, &json)).await
    }

    async fn get_case(&self, id: &CaseId) -> Result<Option<StoredCase>, StoreError> {
        let id = id.clone();
        self.read(move |c| records::get_case(c, &id)).await
    }

    async fn insert_plan(&self, case_id: &CaseId, plan: &ActionPlan) -> Result<(), StoreError> {
        let json = crate::codec::to_json(plan, "plan")?;
        let partners = crate::records::plan_partner_ids(plan);
        let case_id = case_id.clone();
        self.write(move |c| records::insert_plan(c, &case_id, &json, &partners)).await
    }

    async fn latest_plan(&self, case_id: &CaseId) -> Result<Option<StoredPlan>, StoreError> {
        let case_id = case_id.clone();
        self.read(move |c| records::latest_plan(c, &case_id)).await
    }

    async fn plan_partner_ids(&self, case_id: &CaseId) -> Result<Vec<String>, StoreError> {
        let case_id = case_id.clone();
        self.read(move |c| records::plan_partner_ids(c, &case_id)).await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        entry.validate()?;
        let entry = entry.clone();
        self.write(move |c| records::append_audit(c, &entry)).await
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let filter = filter.clone();
        self.read(move |c| records::audit_entries(c, &filter)).await
    }

    async fn begin_idempotent(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        stale_after: Duration,
    ) -> Result<IdempotencyOutcome, StoreError> {
        let (scope, key, fingerprint) =
            (scope.to_string(), key.to_string(), fingerprint.to_string());
        self.write(move |c| records::begin_idempotent(c, &scope, &key, &fingerprint, stale_after))
            .await
    }

    async fn complete_idempotent(
        &self,
        scope: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let (scope, key, response) = (scope.to_string(), key.to_string(), response.clone());
        self.write(move |c| records::complete_idempotent(c, &scope, &key, &response)).await
    }

    async fn abandon_idempotent(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let (scope, key) = (scope.to_string(), key.to_string());
        self.write(move |c| records::abandon_idempotent(c, &scope, &key)).await
    }

    async fn create_referrals(
        &self,
        case_id: &CaseId,
        referrals: Vec<NewReferral>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ReferralId>, StoreError> {
        let case_id = case_id.clone();
        self.write(move |c| outbox::create(c, &case_id, &referrals, now)).await
    }

    async fn claim_outbox(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let worker_id = worker_id.to_string();
        self.write(move |c| outbox::claim(c, &worker_id, limit, lease, now)).await
    }

    async fn finish_outbox(
        &self,
        item: OutboxItemId,
        worker_id: &str,
        outcome: DispatchOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let worker_id = worker_id.to_string();
        self.write(move |c| outbox::finish(c, item, &worker_id, &outcome, now)).await
    }

    async fn record_referral_status(
        &self,
        referral_id: &ReferralId,
        change: &StatusChange,
    ) -> Result<bool, StoreError> {
        let (referral_id, change) = (referral_id.clone(), change.clone());
        self.write(move |c| referrals::record_status(c, &referral_id, &change)).await
    }

    async fn get_referral(&self, id: &ReferralId) -> Result<Option<StoredReferral>, StoreError> {
        let id = id.clone();
        self.read(move |c| referrals::get(c, &id)).await
    }

    async fn find_referral_by_key(&self, key: &str) -> Result<Option<ReferralId>, StoreError> {
        let key = key.to_string();
        self.read(move |c| lookup::by_key(c, &key)).await
    }

    async fn find_referral_by_partner_reference(
        &self,
        partner_id: &str,
        reference: &str,
    ) -> Result<Option<ReferralId>, StoreError> {
        let (partner_id, reference) = (partner_id.to_string(), reference.to_string());
        self.read(move |c| lookup::by_partner_reference(c, &partner_id, &reference)).await
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.read(lookup::outbox_depth).await
    }

    async fn record_partner_event(
        &self,
        partner_id: &str,
        webhook_id: &str,
        referral_id: &ReferralId,
        change: &StatusChange,
    ) -> Result<PartnerEvent, StoreError> {
        let (partner_id, webhook_id) = (partner_id.to_string(), webhook_id.to_string());
        let (referral_id, change) = (referral_id.clone(), change.clone());
        // One write, so one savepoint: a failed status leaves the id unremembered too.
        self.write(move |c| {
            if records::seen_webhook(c, &partner_id, &webhook_id)? {
                return Ok(PartnerEvent::Replay);
            }
            Ok(match referrals::record_status(c, &referral_id, &change)? {
                true => PartnerEvent::Recorded,
                false => PartnerEvent::Unchanged,
            })
        })
        .await
    }

    async fn referrals_stuck(
        &self,
        state: TaskState,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<StuckReferral>, StoreError> {
        self.read(move |c| reports::stuck(c, state, before, limit)).await
    }

    async fn pathway_stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PathwayStatsRow>, StoreError> {
        let facts = self.read(move |c| reports::stats_facts(c, from, to)).await?;
        Ok(crate::stats::aggregate(facts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opening_creates_the_folder_and_a_wal_database_at_the_latest_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deeper/pathways.db");
        let store = SqliteStore::open(&path).await.unwrap();
        assert!(path.exists());
        let (mode, sync, fk, version) = store
            .write(|c| {
                let q = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).during("test");
                let mode: String =
                    c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).during("test")?;
                Ok((
                    mode,
                    q("PRAGMA synchronous")?,
                    q("PRAGMA foreign_keys")?,
                    q("SELECT MAX(version) FROM schema_migrations")?,
                ))
            })
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(sync, 2, "synchronous=FULL is 2");
        assert_eq!(fk, 1);
        assert_eq!(version, migrations::latest());
    }

    #[tokio::test]
    async fn a_database_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let store = SqliteStore::open(&path).await.unwrap();
        store
            .write(|c| {
                c.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)", [])
                    .during("test")
                    .map(drop)
            })
            .await
            .unwrap();
        drop(store);
        let err = SqliteStore::open(&path).await.unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { found: 999, .. }), "{err}");
    }
}
