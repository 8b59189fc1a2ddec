//! The shared store: PostgreSQL, for several daemons (high availability, a region) working
//! from one database.
//!
//! What makes several daemons safe is in the statements, not in this process: the outbox is
//! claimed with `FOR UPDATE SKIP LOCKED` (two dispatchers never take the same row, and
//! neither waits for the other), a row being finished is locked `FOR UPDATE`, idempotency
//! keys and webhook ids are claimed with `INSERT … ON CONFLICT DO NOTHING`, and migrations
//! run under an advisory lock so daemons starting together do not race to create tables.
//!
//! Connections come from a `deadpool-postgres` pool; statements are prepared once per
//! connection and cached. TLS is not offered yet (`NoTls`): run the database on the same host
//! or a private network.

mod lookup;
mod outbox;
mod records;
mod referrals;
mod reports;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use pathways_core::{ActionPlan, Case, TaskState};
use tokio_postgres::NoTls;

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

/// Connections per daemon: enough for the API and the dispatcher to overlap, few enough that
/// several daemons stay well under PostgreSQL's default `max_connections` of 100.
const POOL_SIZE: usize = 16;
/// How long a call waits for a free connection before failing (the API answers 503).
const WAIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long opening a new connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Every migration, oldest first: (version, name, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "initial", include_str!("0001_initial.sql"))];

/// The PostgreSQL implementation of [`Store`].
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    target: String,
    keys: std::sync::Arc<std::sync::RwLock<crate::seal::DataKeys>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("target", &self.target).finish_non_exhaustive()
    }
}

/// Turns driver errors into [`StoreError::Database`] naming what the store was doing.
pub(crate) trait PgResult<T> {
    /// Maps the error, if any, with `operation` as context.
    fn during(self, operation: &'static str) -> Result<T, StoreError>;
}

impl<T> PgResult<T> for Result<T, tokio_postgres::Error> {
    fn during(self, operation: &'static str) -> Result<T, StoreError> {
        self.map_err(|err| pg_error(operation, &err))
    }
}

impl<T> PgResult<T> for Result<T, PoolError> {
    fn during(self, operation: &'static str) -> Result<T, StoreError> {
        self.map_err(|err| match err {
            PoolError::Backend(err) => pg_error(operation, &err),
            other => StoreError::Database {
                backend: "PostgreSQL",
                operation,
                code: None,
                message: format!("no connection available: {other}"),
            },
        })
    }
}

fn pg_error(operation: &'static str, err: &tokio_postgres::Error) -> StoreError {
    match err.as_db_error() {
        // The server's message only: its DETAIL can quote the failing row, personal data
        // included ("Failing row contains (…)").
        Some(db) => StoreError::Database {
            backend: "PostgreSQL",
            operation,
            code: Some(db.code().code().to_string()),
            message: db.message().to_string(),
        },
        None => StoreError::Database {
            backend: "PostgreSQL",
            operation,
            code: None,
            message: err.to_string(),
        },
    }
}

/// Whether a driver error is a violation of the named constraint.
pub(crate) fn violates(err: &tokio_postgres::Error, constraint: &str) -> bool {
    err.as_db_error().and_then(|db| db.constraint()) == Some(constraint)
}

impl PostgresStore {
    /// Connects to the database a `postgres://` URL names and applies migrations.
    pub async fn open(url: &str, keys: crate::seal::DataKeys) -> Result<Self, StoreError> {
        match crate::url::parse(url)? {
            crate::url::Target::Postgres(config) => Self::connect(*config, keys).await,
            crate::url::Target::Sqlite(_) => Err(StoreError::InvalidUrl {
                url: crate::url::redact_url(url),
                problem: "this is a SQLite URL; PostgresStore needs `postgres://…`".into(),
            }),
        }
    }

    pub(crate) async fn connect(
        mut config: tokio_postgres::Config,
        keys: crate::seal::DataKeys,
    ) -> Result<Self, StoreError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let target = format!(
            "{}@{:?}/{}",
            config.get_user().unwrap_or("?"),
            config.get_hosts(),
            config.get_dbname().unwrap_or("?")
        );
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Database {
                backend: "PostgreSQL",
                operation: "building the connection pool",
                code: None,
                message: e.to_string(),
            })?;
        let store = Self { pool, target, keys: std::sync::Arc::new(std::sync::RwLock::new(keys)) };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.during("taking a connection from the pool")
    }

    /// Brings the schema up to date under an advisory lock held for the transaction, keyed
    /// by schema, so daemons starting at once apply each migration exactly once.
    async fn migrate(&self) -> Result<(), StoreError> {
        const OP: &str = "migrating";
        let mut client = self.client().await?;
        let tx = client.transaction().await.during(OP)?;
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(7301, hashtext(COALESCE(current_schema(), '')));
             CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL
             );",
        )
        .await
        .during(OP)?;
        let current: i64 = tx
            .query_one("SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations", &[])
            .await
            .during("reading the schema version")?
            .get(0);
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        if current > known {
            return Err(StoreError::SchemaTooNew { found: current, known });
        }
        for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
            tx.batch_execute(sql).await.during("applying a schema migration")?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())",
                &[version, name],
            )
            .await
            .during("recording a schema migration")?;
        }
        tx.commit().await.during(OP)
    }
}

fn pending() -> StoreError {
    StoreError::TaskFailed("PostgreSQL: being rewritten for sealing (work in progress)".into())
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.batch_execute("SELECT 1").await.during("pinging")
    }
    async fn insert_case(&self, _: &str, _: &Case) -> Result<CaseId, StoreError> {
        Err(pending())
    }
    async fn get_case(&self, _: &CaseId) -> Result<Option<StoredCase>, StoreError> {
        Err(pending())
    }
    async fn insert_plan(&self, _: &CaseId, _: &ActionPlan) -> Result<(), StoreError> {
        Err(pending())
    }
    async fn latest_plan(&self, _: &CaseId) -> Result<Option<StoredPlan>, StoreError> {
        Err(pending())
    }
    async fn plans_of_case(&self, _: &CaseId) -> Result<Vec<StoredPlan>, StoreError> {
        Err(pending())
    }
    async fn append_audit(&self, _: &AuditEntry) -> Result<(), StoreError> {
        Err(pending())
    }
    async fn audit_entries(&self, _: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        Err(pending())
    }
    async fn begin_idempotent(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: Duration,
    ) -> Result<IdempotencyOutcome, StoreError> {
        Err(pending())
    }
    async fn complete_idempotent(
        &self,
        _: &str,
        _: &str,
        _: &StoredResponse,
    ) -> Result<(), StoreError> {
        Err(pending())
    }
    async fn abandon_idempotent(&self, _: &str, _: &str) -> Result<(), StoreError> {
        Err(pending())
    }
    async fn create_referrals(
        &self,
        _: &CaseId,
        _: Vec<NewReferral>,
        _: DateTime<Utc>,
    ) -> Result<Vec<ReferralId>, StoreError> {
        Err(pending())
    }
    async fn claim_outbox(
        &self,
        _: &str,
        _: u32,
        _: Duration,
        _: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        Err(pending())
    }
    async fn finish_outbox(
        &self,
        _: OutboxItemId,
        _: &str,
        _: DispatchOutcome,
        _: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Err(pending())
    }
    async fn record_referral_status(
        &self,
        _: &ReferralId,
        _: &StatusChange,
    ) -> Result<bool, StoreError> {
        Err(pending())
    }
    async fn get_referral(&self, _: &ReferralId) -> Result<Option<StoredReferral>, StoreError> {
        Err(pending())
    }
    async fn referrals_of_case(&self, _: &CaseId) -> Result<Vec<StoredReferral>, StoreError> {
        Err(pending())
    }
    async fn find_referral_by_key(&self, _: &str) -> Result<Option<ReferralId>, StoreError> {
        Err(pending())
    }
    async fn find_referral_by_partner_reference(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<ReferralId>, StoreError> {
        Err(pending())
    }
    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        Err(pending())
    }
    async fn record_partner_event(
        &self,
        _: &str,
        _: &str,
        _: &ReferralId,
        _: &StatusChange,
    ) -> Result<PartnerEvent, StoreError> {
        Err(pending())
    }
    async fn referrals_stuck(
        &self,
        _: TaskState,
        _: DateTime<Utc>,
        _: u32,
    ) -> Result<Vec<StuckReferral>, StoreError> {
        Err(pending())
    }
    async fn pathway_stats(
        &self,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
        _: Option<&str>,
    ) -> Result<Vec<PathwayStatsRow>, StoreError> {
        Err(pending())
    }
    async fn erase_case(
        &self,
        _: &CaseId,
        _: crate::ErasureReason,
        _: DateTime<Utc>,
    ) -> Result<crate::Erasure, StoreError> {
        Err(pending())
    }
    async fn set_legal_hold(
        &self,
        _: &CaseId,
        _: Option<crate::LegalHold>,
    ) -> Result<(), StoreError> {
        Err(pending())
    }
    async fn cases_due_for_erasure(
        &self,
        _: DateTime<Utc>,
        _: u32,
    ) -> Result<Vec<CaseId>, StoreError> {
        Err(pending())
    }
    async fn reseal(&self, _: u32) -> Result<crate::ResealProgress, StoreError> {
        Err(pending())
    }
    fn replace_data_keys(&self, keys: crate::seal::DataKeys) {
        *self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
    }
}
