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
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        match crate::url::parse(url)? {
            crate::url::Target::Postgres(config) => Self::connect(*config).await,
            crate::url::Target::Sqlite(_) => Err(StoreError::InvalidUrl {
                url: crate::url::redact_url(url),
                problem: "this is a SQLite URL; PostgresStore needs `postgres://…`".into(),
            }),
        }
    }

    pub(crate) async fn connect(mut config: tokio_postgres::Config) -> Result<Self, StoreError> {
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
        let store = Self { pool, target };
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

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.batch_execute("SELECT 1").await.during("pinging")
    }

    async fn insert_case(&self, organisation: &str, case: &Case) -> Result<CaseId, StoreError> {
        records::insert_case(&self.client().await?, organisation, case).await
    }

    async fn get_case(&self, id: &CaseId) -> Result<Option<StoredCase>, StoreError> {
        records::get_case(&self.client().await?, id).await
    }

    async fn insert_plan(&self, case_id: &CaseId, plan: &ActionPlan) -> Result<(), StoreError> {
        records::insert_plan(&mut self.client().await?, case_id, plan).await
    }

    async fn latest_plan(&self, case_id: &CaseId) -> Result<Option<StoredPlan>, StoreError> {
        records::latest_plan(&self.client().await?, case_id).await
    }

    async fn plan_partner_ids(&self, case_id: &CaseId) -> Result<Vec<String>, StoreError> {
        records::plan_partner_ids(&self.client().await?, case_id).await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        entry.validate()?;
        records::append_audit(&self.client().await?, entry).await
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        records::audit_entries(&self.client().await?, filter).await
    }

    async fn begin_idempotent(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        stale_after: Duration,
    ) -> Result<IdempotencyOutcome, StoreError> {
        let client = self.client().await?;
        records::begin_idempotent(&client, scope, key, fingerprint, stale_after).await
    }

    async fn complete_idempotent(
        &self,
        scope: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        records::complete_idempotent(&self.client().await?, scope, key, response).await
    }

    async fn abandon_idempotent(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        records::abandon_idempotent(&self.client().await?, scope, key).await
    }

    async fn create_referrals(
        &self,
        case_id: &CaseId,
        referrals: Vec<NewReferral>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ReferralId>, StoreError> {
        outbox::create(&mut self.client().await?, case_id, &referrals, now).await
    }

    async fn claim_outbox(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        outbox::claim(&self.client().await?, worker_id, limit, lease, now).await
    }

    async fn finish_outbox(
        &self,
        item: OutboxItemId,
        worker_id: &str,
        outcome: DispatchOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        outbox::finish(&mut self.client().await?, item, worker_id, &outcome, now).await
    }

    async fn record_referral_status(
        &self,
        referral_id: &ReferralId,
        change: &StatusChange,
    ) -> Result<bool, StoreError> {
        referrals::record_status(&mut self.client().await?, referral_id, change).await
    }

    async fn get_referral(&self, id: &ReferralId) -> Result<Option<StoredReferral>, StoreError> {
        referrals::get(&mut self.client().await?, id).await
    }

    async fn find_referral_by_key(&self, key: &str) -> Result<Option<ReferralId>, StoreError> {
        lookup::by_key(&self.client().await?, key).await
    }

    async fn find_referral_by_partner_reference(
        &self,
        partner_id: &str,
        reference: &str,
    ) -> Result<Option<ReferralId>, StoreError> {
        lookup::by_partner_reference(&self.client().await?, partner_id, reference).await
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        lookup::outbox_depth(&self.client().await?).await
    }

    async fn record_partner_event(
        &self,
        partner_id: &str,
        webhook_id: &str,
        referral_id: &ReferralId,
        change: &StatusChange,
    ) -> Result<PartnerEvent, StoreError> {
        let mut client = self.client().await?;
        referrals::record_event(&mut client, partner_id, webhook_id, referral_id, change).await
    }

    async fn referrals_stuck(
        &self,
        state: TaskState,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<StuckReferral>, StoreError> {
        reports::stuck(&self.client().await?, state, before, limit).await
    }

    async fn pathway_stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PathwayStatsRow>, StoreError> {
        let facts = reports::stats_facts(&self.client().await?, from, to).await?;
        Ok(crate::stats::aggregate(facts))
    }
}
