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

mod accounts;
mod cancel;
mod case_list;
mod erasure;
mod inbox;
mod lanes;
mod lookup;
mod migrations;
mod outbox;
mod outcomes;
mod records;
mod referrals;
mod reports;
mod reseal;
mod schedule;
mod unmet;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pathways_core::{ActionPlan, Case, TaskState};
use rusqlite::{Connection, OpenFlags};

use crate::accounts::{
    case_columns, email_lookup, AccountStatus, AttentionReferral, CaseSummary, NewSession, NewUser,
    StoredSession, StoredUser, UserId,
};
use crate::audit::{AuditEntry, AuditFilter, AuditRecord};
use crate::cancel::{CancelItem, CancelOrder, CancelOutcome, CancelRequested};
use crate::codec::{earlier, later, place, seal_json};
use crate::erasure::{Erasure, ErasureReason, LegalHold, ResealProgress};
use crate::error::StoreError;
use crate::idempotency::{IdempotencyOutcome, StoredResponse};
use crate::ids::{CaseId, OutboxItemId, ReferralId};
use crate::inbox::PartnerCapacity;
use crate::lanes::{OpenReferral, PartnerRoom};
use crate::records::{StoredCase, StoredPlan};
use crate::referral::{
    DispatchOutcome, NewReferral, OutboxItem, PartnerEvent, StatusChange, StoredReferral,
    StuckReferral,
};
use crate::seal::DataKeys;
use crate::stats::{unmet_of, PathwayStatsRow, UnmetNeedRow};
use crate::store::Store;

/// Readers beside the writer: enough for this project's 2-core target to read while writing.
const READERS: usize = 2;
/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection (the store has about 70 distinct statements).
const STATEMENT_CACHE: usize = 128;

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
    keys: RwLock<DataKeys>,
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
    /// `synchronous=FULL`, applies migrations, and seals any value written before sealing.
    /// The file and its WAL are readable by their owner only (`0600`).
    pub async fn open(path: &Path, keys: DataKeys) -> Result<Self, StoreError> {
        Self::open_with(path, keys, SqliteOptions::default()).await
    }

    /// [`open`](Self::open) with options.
    pub async fn open_with(
        path: &Path,
        keys: DataKeys,
        options: SqliteOptions,
    ) -> Result<Self, StoreError> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(path, keys, options))
            .await
            .map_err(|e| StoreError::TaskFailed(e.to_string()))?
    }

    fn open_blocking(
        path: PathBuf,
        keys: DataKeys,
        options: SqliteOptions,
    ) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        make_private(&path)?;
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
        // Rows from before sealing: sealed now, before anything reads them (reads open
        // sealed values only).
        reseal::seal_plain_at_opening(&mut writer, &keys)?;
        reseal::verify_keys(&writer, &keys)?;
        // Rows from before the console (schema version 3): their case-list columns, read
        // from their sealed documents now that the keys are known to open them.
        case_list::fill_at_opening(&mut writer, &keys)?;
        // Rows from before the statistics of unmet needs (schema version 4): each case's area
        // and its newest plan's unmet needs, read from their sealed documents likewise.
        unmet::fill_at_opening(&mut writer, &keys)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let reader = Connection::open_with_flags(&path, flags).during("opening a reader")?;
            configure(&reader)?;
            readers.push(Mutex::new(reader));
        }
        let writer = writer::Writer::start(writer, options.commit_batch)?;
        let inner = Inner {
            path,
            keys: RwLock::new(keys),
            writer,
            readers,
            next_reader: AtomicUsize::new(0),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The data keys now (a reload may replace them).
    fn keys(&self) -> DataKeys {
        self.inner.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
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

/// Creates the database's folder (and its parents) readable by the owner only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates the database file `0600` before SQLite does (SQLite gives its WAL and shared-memory
/// files the database file's mode), and takes group and other access away from an existing
/// file and its companions.
fn make_private(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let failed = |e: std::io::Error| StoreError::Database {
            backend: "SQLite",
            operation: "making the database file private (mode 0600)",
            code: None,
            message: e.to_string(),
        };
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(failed)?;
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            if let Ok(meta) = std::fs::metadata(&file) {
                if meta.permissions().mode() & 0o077 != 0 {
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                        .map_err(failed)?;
                }
            }
        }
    }
    Ok(())
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

    async fn backup_to(&self, path: &Path) -> Result<(), StoreError> {
        // The file is made empty and private first; `VACUUM INTO` accepts an empty file and
        // keeps its mode, so the copy is never readable by others, not even for a moment.
        let failed = |source| StoreError::BackupFile { path: path.to_path_buf(), source };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(path).map_err(failed)?;
        let target = path.to_string_lossy().into_owned();
        let result = self
            .read(move |c| {
                c.execute("VACUUM INTO ?1", [target]).map(drop).during("writing a backup")
            })
            .await;
        if result.is_err() {
            // An empty or partial file must not pass for a backup.
            let _ = std::fs::remove_file(path);
        }
        result
    }

    async fn insert_case(&self, organisation: &str, case: &Case) -> Result<CaseId, StoreError> {
        let id = CaseId::random();
        let sealed = seal_json(&self.keys(), case, "case", &place::case(id.as_str()))?;
        let (organisation, listed) = (organisation.to_string(), case_columns(case));
        self.write(move |c| {
            records::insert_case(c, &id, &organisation, &sealed, &listed).map(|()| id)
        })
        .await
    }

    async fn get_case(&self, id: &CaseId) -> Result<Option<StoredCase>, StoreError> {
        let (id, keys) = (id.clone(), self.keys());
        self.read(move |c| records::get_case(c, &keys, &id)).await
    }

    async fn insert_plan(
        &self,
        case_id: &CaseId,
        plan: &ActionPlan,
        basis: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let record = crate::records::PlanRecordRef { plan, basis };
        let sealed = seal_json(&self.keys(), &record, "plan", &place::plan(case_id.as_str()))?;
        let (case_id, version, unmet) = (case_id.clone(), plan.version, unmet_of(plan));
        self.write(move |c| records::insert_plan(c, &case_id, &sealed, version, &unmet)).await
    }

    async fn latest_plan(&self, case_id: &CaseId) -> Result<Option<StoredPlan>, StoreError> {
        let (case_id, keys) = (case_id.clone(), self.keys());
        self.read(move |c| records::plans(c, &keys, &case_id, true).map(|mut p| p.pop())).await
    }

    async fn plans_of_case(&self, case_id: &CaseId) -> Result<Vec<StoredPlan>, StoreError> {
        let (case_id, keys) = (case_id.clone(), self.keys());
        self.read(move |c| records::plans(c, &keys, &case_id, false)).await
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
        let (case_id, keys) = (case_id.clone(), self.keys());
        self.write(move |c| outbox::create(c, &keys, &case_id, &referrals, now)).await
    }

    async fn claim_outbox(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let (worker_id, keys) = (worker_id.to_string(), self.keys());
        self.write(move |c| outbox::claim(c, &keys, &worker_id, limit, lease, now)).await
    }

    async fn take_back_leases(&self) -> Result<u64, StoreError> {
        self.write(|c| {
            c.execute(
                "UPDATE outbox SET lease_owner = NULL, lease_until = NULL
                 WHERE state = 'pending' AND lease_owner IS NOT NULL",
                [],
            )
            .map(|n| n as u64)
            .during("taking back leases")
        })
        .await
    }

    async fn finish_outbox(
        &self,
        item: OutboxItemId,
        worker_id: &str,
        outcome: DispatchOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (worker_id, keys) = (worker_id.to_string(), self.keys());
        self.write(move |c| outbox::finish(c, &keys, item, &worker_id, &outcome, now)).await
    }

    async fn insert_follow_up(
        &self,
        case_id: &CaseId,
        follow_up: &pathways_core::FollowUp,
    ) -> Result<bool, StoreError> {
        let (id, follow_up, keys) = (case_id.clone(), follow_up.clone(), self.keys());
        self.write(move |c| outcomes::insert(c, &keys, &id, &follow_up)).await
    }

    async fn follow_ups_of_case(
        &self,
        case_id: &CaseId,
    ) -> Result<Vec<pathways_core::FollowUp>, StoreError> {
        let (id, keys) = (case_id.clone(), self.keys());
        self.read(move |c| outcomes::of_case(c, &keys, &id)).await
    }

    async fn follow_ups_between(
        &self,
        organisation: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(CaseId, pathways_core::FollowUp)>, StoreError> {
        let (organisation, keys) = (organisation.map(str::to_string), self.keys());
        self.read(move |c| outcomes::between(c, &keys, organisation.as_deref(), from, to, limit))
            .await
    }

    async fn set_follow_up_schedule(
        &self,
        schedule: &crate::FollowUpSchedule,
    ) -> Result<(), StoreError> {
        let schedule = schedule.clone();
        self.write(move |c| schedule::set(c, &schedule)).await
    }

    async fn follow_up_schedule(
        &self,
        organisation: &str,
    ) -> Result<Option<crate::FollowUpSchedule>, StoreError> {
        let organisation = organisation.to_string();
        self.read(move |c| schedule::get(c, &organisation)).await
    }

    async fn follow_ups_due(
        &self,
        organisation: &str,
        after_days: u32,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<crate::FollowUpDue>, StoreError> {
        let organisation = organisation.to_string();
        self.read(move |c| schedule::due(c, &organisation, after_days, now, limit)).await
    }

    async fn replace_consent(
        &self,
        id: &CaseId,
        consent: &pathways_core::Consent,
    ) -> Result<Option<StoredCase>, StoreError> {
        let (id, consent, keys) = (id.clone(), consent.clone(), self.keys());
        self.write(move |c| records::replace_consent(c, &keys, &id, &consent)).await
    }

    async fn request_cancel(
        &self,
        referral_id: &ReferralId,
        order: &CancelOrder,
        now: DateTime<Utc>,
    ) -> Result<Option<CancelRequested>, StoreError> {
        let (id, order, keys) = (referral_id.clone(), order.clone(), self.keys());
        self.write(move |c| cancel::request(c, &keys, &id, &order, now)).await
    }

    async fn claim_cancels(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<CancelItem>, StoreError> {
        let (worker_id, keys) = (worker_id.to_string(), self.keys());
        let room = PartnerRoom::default();
        self.write(move |c| cancel::claim(c, &keys, &worker_id, limit, lease, now, &room)).await
    }

    async fn finish_cancel(
        &self,
        referral_id: &ReferralId,
        worker_id: &str,
        outcome: CancelOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (id, worker_id, keys) = (referral_id.clone(), worker_id.to_string(), self.keys());
        self.write(move |c| cancel::finish(c, &keys, &id, &worker_id, &outcome, now)).await
    }

    async fn record_referral_status(
        &self,
        referral_id: &ReferralId,
        change: &StatusChange,
    ) -> Result<bool, StoreError> {
        let (referral_id, change, keys) = (referral_id.clone(), change.clone(), self.keys());
        self.write(move |c| referrals::record_status(c, &keys, &referral_id, &change)).await
    }

    async fn get_referral(&self, id: &ReferralId) -> Result<Option<StoredReferral>, StoreError> {
        let (id, keys) = (id.clone(), self.keys());
        self.read(move |c| referrals::get(c, &keys, &id)).await
    }

    async fn referrals_of_case(&self, case_id: &CaseId) -> Result<Vec<StoredReferral>, StoreError> {
        let (case_id, keys) = (case_id.clone(), self.keys());
        self.read(move |c| referrals::of_case(c, &keys, &case_id)).await
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

    async fn referrals_sent_to(
        &self,
        partner_id: &str,
        limit: u32,
    ) -> Result<Vec<ReferralId>, StoreError> {
        let partner_id = partner_id.to_string();
        self.read(move |c| lookup::sent_to(c, &partner_id, limit)).await
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
        let (referral_id, change, keys) = (referral_id.clone(), change.clone(), self.keys());
        // One write, so one savepoint: a failed status leaves the id unremembered too.
        self.write(move |c| {
            if records::seen_webhook(c, &partner_id, &webhook_id)? {
                return Ok(PartnerEvent::Replay);
            }
            Ok(match referrals::record_status(c, &keys, &referral_id, &change)? {
                true => PartnerEvent::Recorded,
                false => PartnerEvent::Unchanged,
            })
        })
        .await
    }

    async fn referrals_entered(
        &self,
        state: TaskState,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<StuckReferral>, StoreError> {
        self.read(move |c| reports::entered(c, state, since, limit)).await
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
        organisation: Option<&str>,
    ) -> Result<Vec<PathwayStatsRow>, StoreError> {
        let organisation = organisation.map(str::to_string);
        let facts =
            self.read(move |c| reports::stats_facts(c, from, to, organisation.as_deref())).await?;
        Ok(crate::stats::aggregate(facts))
    }

    async fn unmet_needs(
        &self,
        organisation: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<UnmetNeedRow>, StoreError> {
        let organisation = organisation.map(str::to_string);
        self.read(move |c| unmet::unmet_needs(c, organisation.as_deref(), from, to)).await
    }

    async fn erase_case(
        &self,
        case_id: &CaseId,
        reason: ErasureReason,
        now: DateTime<Utc>,
    ) -> Result<Erasure, StoreError> {
        let (case_id, keys) = (case_id.clone(), self.keys());
        self.write(move |c| erasure::erase(c, &keys, &case_id, reason, now)).await
    }

    async fn set_legal_hold(
        &self,
        case_id: &CaseId,
        hold: Option<LegalHold>,
    ) -> Result<(), StoreError> {
        let sealed = hold
            .as_ref()
            .map(|h| self.keys().seal(h.reason.as_bytes(), &place::hold(case_id.as_str())));
        let case_id = case_id.clone();
        self.write(move |c| erasure::set_hold(c, &case_id, hold.as_ref(), sealed.as_deref())).await
    }

    async fn cases_due_for_erasure(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<CaseId>, StoreError> {
        self.read(move |c| erasure::due(c, before, limit)).await
    }

    async fn reseal(&self, batch: u32) -> Result<ResealProgress, StoreError> {
        reseal::run(self, batch).await
    }

    async fn verify_data_keys(&self, keys: &DataKeys) -> Result<(), StoreError> {
        let keys = keys.clone();
        self.read(move |c| reseal::verify_keys(c, &keys)).await
    }

    fn replace_data_keys(&self, keys: DataKeys) {
        *self.inner.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
    }

    async fn insert_user(&self, user: &NewUser, now: DateTime<Utc>) -> Result<UserId, StoreError> {
        let keys = self.keys();
        let id = UserId::random();
        let sealed = accounts::SealedUser {
            organisation: user.organisation.clone(),
            role: user.role.clone(),
            email_sealed: keys
                .seal(user.email.expose().as_bytes(), &place::user_email(id.as_str())),
            email_lookup: email_lookup(user.email.expose()),
            display_name: user
                .display_name
                .as_ref()
                .map(|name| keys.seal(name.expose().as_bytes(), &place::user_name(id.as_str()))),
            id,
        };
        self.write(move |c| accounts::insert_user(c, &sealed, now).map(|()| sealed.id)).await
    }

    async fn get_user(&self, id: &UserId) -> Result<Option<StoredUser>, StoreError> {
        let (id, keys) = (id.clone(), self.keys());
        self.read(move |c| accounts::user_by_id(c, &keys, id.as_str())).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<StoredUser>, StoreError> {
        let (lookup, keys) = (email_lookup(email), self.keys());
        self.read(move |c| accounts::user_by_lookup(c, &keys, &lookup)).await
    }

    async fn user_by_oidc_subject(
        &self,
        issuer_subject: &str,
    ) -> Result<Option<StoredUser>, StoreError> {
        let (subject, keys) = (issuer_subject.to_string(), self.keys());
        self.read(move |c| accounts::user_by_oidc_subject(c, &keys, &subject)).await
    }

    async fn users_of_organisation(
        &self,
        organisation: &str,
    ) -> Result<Vec<StoredUser>, StoreError> {
        let (organisation, keys) = (organisation.to_string(), self.keys());
        self.read(move |c| accounts::users_of_organisation(c, &keys, &organisation)).await
    }

    async fn set_user_status(
        &self,
        id: &UserId,
        status: AccountStatus,
    ) -> Result<bool, StoreError> {
        let id = id.clone();
        self.write(move |c| accounts::set_status(c, &id, status)).await
    }

    async fn set_password(
        &self,
        id: &UserId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (id, hash) = (id.clone(), password_hash.to_string());
        self.write(move |c| accounts::set_password(c, &id, &hash, now)).await
    }

    async fn set_oidc_subject(
        &self,
        id: &UserId,
        issuer_subject: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (id, subject) = (id.clone(), issuer_subject.map(str::to_string));
        self.write(move |c| accounts::set_oidc_subject(c, &id, subject.as_deref())).await
    }

    async fn create_setup_token(
        &self,
        user_id: &UserId,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (id, hash) = (user_id.clone(), token_hash.to_string());
        self.write(move |c| accounts::create_setup_token(c, &id, &hash, expires_at)).await
    }

    async fn take_setup_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError> {
        let hash = token_hash.to_string();
        self.write(move |c| accounts::take_setup_token(c, &hash, now)).await
    }

    async fn peek_setup_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError> {
        let hash = token_hash.to_string();
        self.read(move |c| accounts::peek_setup_token(c, &hash, now)).await
    }

    async fn record_sign_in_failure(
        &self,
        id: &UserId,
        now: DateTime<Utc>,
        lock_after: u32,
        lock_for: Duration,
    ) -> Result<u32, StoreError> {
        let (id, until) = (id.clone(), later(now, lock_for));
        self.write(move |c| accounts::record_sign_in_failure(c, &id, until, lock_after)).await
    }

    async fn clear_sign_in_failures(&self, id: &UserId) -> Result<bool, StoreError> {
        let id = id.clone();
        self.write(move |c| accounts::clear_sign_in_failures(c, &id)).await
    }

    async fn insert_session(&self, session: &NewSession) -> Result<bool, StoreError> {
        let session = session.clone();
        self.write(move |c| accounts::insert_session(c, &session)).await
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<StoredSession>, StoreError> {
        let hash = id_hash.to_string();
        self.read(move |c| accounts::get_session(c, &hash)).await
    }

    async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let hash = id_hash.to_string();
        self.write(move |c| accounts::touch_session(c, &hash, now)).await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let hash = id_hash.to_string();
        self.write(move |c| accounts::delete_session(c, &hash)).await
    }

    async fn delete_expired_sessions(
        &self,
        now: DateTime<Utc>,
        idle: Duration,
    ) -> Result<u64, StoreError> {
        let seen_before = earlier(now, idle);
        self.write(move |c| accounts::delete_expired_sessions(c, now, seen_before)).await
    }

    async fn case_summaries(
        &self,
        organisation: &str,
        reference: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CaseSummary>, StoreError> {
        let (organisation, reference) = (organisation.to_string(), reference.map(str::to_string));
        self.read(move |c| case_list::case_summaries(c, &organisation, reference.as_deref(), limit))
            .await
    }

    async fn referrals_needing_attention(
        &self,
        organisation: &str,
        older_than: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AttentionReferral>, StoreError> {
        let organisation = organisation.to_string();
        self.read(move |c| case_list::needing_attention(c, &organisation, older_than, limit)).await
    }

    async fn set_partner_capacity(&self, capacity: &PartnerCapacity) -> Result<(), StoreError> {
        let capacity = capacity.clone();
        self.write(move |c| inbox::set_capacity(c, &capacity)).await
    }

    async fn partner_capacity(
        &self,
        partner_id: &str,
    ) -> Result<Option<PartnerCapacity>, StoreError> {
        let partner_id = partner_id.to_string();
        self.read(move |c| inbox::capacity(c, &partner_id)).await
    }

    async fn claim_outbox_within(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
        room: &PartnerRoom,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let (worker_id, keys, room) = (worker_id.to_string(), self.keys(), room.clone());
        self.write(move |c| lanes::claim_outbox(c, &keys, &worker_id, limit, lease, now, &room))
            .await
    }

    async fn claim_cancels_within(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
        room: &PartnerRoom,
    ) -> Result<Vec<CancelItem>, StoreError> {
        let (worker_id, keys, room) = (worker_id.to_string(), self.keys(), room.clone());
        self.write(move |c| cancel::claim(c, &keys, &worker_id, limit, lease, now, &room)).await
    }

    async fn defer_outbox(
        &self,
        partner_id: &str,
        keep: u32,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let partner_id = partner_id.to_string();
        self.write(move |c| lanes::defer(c, &partner_id, keep, until, now)).await
    }

    async fn release_outbox(
        &self,
        item: OutboxItemId,
        worker_id: &str,
        not_before: DateTime<Utc>,
        last_error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (worker_id, error, keys) = (worker_id.to_string(), last_error.to_string(), self.keys());
        self.write(move |c| {
            lanes::release_outbox(c, &keys, item, &worker_id, not_before, &error, now)
        })
        .await
    }

    async fn release_cancel(
        &self,
        referral_id: &ReferralId,
        worker_id: &str,
        not_before: DateTime<Utc>,
        last_error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (id, worker_id, error) =
            (referral_id.clone(), worker_id.to_string(), last_error.to_string());
        let keys = self.keys();
        self.write(move |c| {
            lanes::release_cancel(c, &keys, &id, &worker_id, not_before, &error, now)
        })
        .await
    }

    async fn open_referrals_after(
        &self,
        after: Option<&ReferralId>,
        limit: u32,
    ) -> Result<Vec<OpenReferral>, StoreError> {
        let after = after.cloned();
        self.read(move |c| lanes::open_after(c, after.as_ref(), limit)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opening_creates_the_folder_and_a_wal_database_at_the_latest_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deeper/pathways.db");
        let store = SqliteStore::open(&path, DataKeys::ephemeral()).await.unwrap();
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
        let store = SqliteStore::open(&path, DataKeys::ephemeral()).await.unwrap();
        store
            .write(|c| {
                c.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)", [])
                    .during("test")
                    .map(drop)
            })
            .await
            .unwrap();
        drop(store);
        let err = SqliteStore::open(&path, DataKeys::ephemeral()).await.unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { found: 999, .. }), "{err}");
    }
}
