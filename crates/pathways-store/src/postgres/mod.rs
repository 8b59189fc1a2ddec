//! The shared store: PostgreSQL, for several daemons (high availability, a region) working
//! from one database.
//!
//! What makes several daemons safe is in the statements, not in this process: the outbox is
//! claimed with `FOR UPDATE SKIP LOCKED` (two dispatchers never take the same row, and
//! neither waits for the other), a row being finished is locked `FOR UPDATE`, idempotency
//! keys and webhook ids are claimed with `INSERT … ON CONFLICT DO NOTHING`, one live referral
//! per plan step is a unique partial index (two daemons creating one at the same moment
//! cannot both pass), an erasure locks its case row against plans and referrals being added
//! meanwhile, and migrations run under an advisory lock so daemons starting together do not
//! race to create tables.
//!
//! Values holding personal data are sealed here, in the daemon, before they are sent (see
//! `crate::seal`): the server, its WAL, its backups and its replicas only ever see sealed
//! text.
//!
//! Connections come from a `deadpool-postgres` pool; statements are prepared once per
//! connection and cached. TLS is not offered yet (`NoTls`): run the database on the same host
//! or a private network.

mod accounts;
mod cancel;
mod case_list;
mod erasure;
mod inbox;
mod lanes;
mod lookup;
mod outbox;
mod outcomes;
mod records;
mod referrals;
mod reports;
mod reseal;
mod schedule;
mod unmet;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use pathways_core::{ActionPlan, Case, TaskState};
use tokio_postgres::NoTls;

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

/// Connections per daemon: enough for the API and the dispatcher to overlap, few enough that
/// several daemons stay well under PostgreSQL's default `max_connections` of 100.
const POOL_SIZE: usize = 16;
/// How long a call waits for a free connection before failing (the API answers 503).
const WAIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long opening a new connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Every migration, oldest first: (version, name, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("0001_initial.sql")),
    (2, "data_safety", include_str!("0002_data_safety.sql")),
    (3, "console", include_str!("0003_console.sql")),
    (4, "unmet", include_str!("0004_unmet.sql")),
    (5, "cancel", include_str!("0005_cancel.sql")),
    (6, "outcomes", include_str!("0006_outcomes.sql")),
    (7, "inbox", include_str!("0007_inbox.sql")),
    (8, "evidence", include_str!("0008_evidence.sql")),
];
/// Values sealed per transaction by the pass at connecting.
const SEAL_AT_CONNECT_BATCH: u32 = 500;

/// The PostgreSQL implementation of [`Store`].
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    target: String,
    /// Shared by the clones of one store, so a reload reaches all of them.
    keys: Arc<RwLock<DataKeys>>,
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
    /// Connects to the database a `postgres://` URL names, applies migrations, and seals any
    /// value written before sealing.
    pub async fn open(url: &str, keys: DataKeys) -> Result<Self, StoreError> {
        match crate::url::parse(url)? {
            crate::url::Target::Postgres(config) => Self::connect(*config, keys).await,
            crate::url::Target::Sqlite(_) => Err(StoreError::InvalidUrl {
                url: crate::url::redact_url(url),
                problem: "this is a SQLite URL; PostgresStore needs `postgres://…`".into(),
            }),
        }
    }

    /// [`open`](Self::open) with a parsed configuration.
    pub(crate) async fn connect(
        mut config: tokio_postgres::Config,
        keys: DataKeys,
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
        let store = Self { pool, target, keys: Arc::new(RwLock::new(keys)) };
        store.migrate().await?;
        // Rows from before sealing (a version-1 database): sealed now, before anything reads
        // them, since reads open sealed values only. Several daemons connecting at once each
        // run this; compare-and-set makes them share the work rather than redo it.
        loop {
            let pass = reseal::pass(&store, SEAL_AT_CONNECT_BATCH, true).await?;
            if pass.selected == 0 || pass.progress.remaining == 0 {
                break;
            }
        }
        let keys = store.keys();
        reseal::verify_keys(&store, &keys).await?;
        // Rows from before the console (schema version 3): their case-list columns, read
        // from their sealed documents now that the keys are known to open them.
        case_list::fill_at_connecting(&store).await?;
        // Rows from before the statistics of unmet needs (schema version 4): each case's area
        // and its newest plan's unmet needs, read from their sealed documents likewise.
        unmet::fill_at_connecting(&store).await?;
        Ok(store)
    }

    /// The data keys now: one snapshot per call, so a reload never changes them halfway.
    fn keys(&self) -> DataKeys {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
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
        let id = CaseId::random();
        let sealed = seal_json(&self.keys(), case, "case", &place::case(id.as_str()))?;
        let listed = case_columns(case);
        records::insert_case(&self.client().await?, &id, organisation, &sealed, &listed).await?;
        Ok(id)
    }

    async fn get_case(&self, id: &CaseId) -> Result<Option<StoredCase>, StoreError> {
        records::get_case(&self.client().await?, &self.keys(), id).await
    }

    async fn insert_plan(
        &self,
        case_id: &CaseId,
        plan: &ActionPlan,
        basis: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let record = crate::records::PlanRecordRef { plan, basis };
        let sealed = seal_json(&self.keys(), &record, "plan", &place::plan(case_id.as_str()))?;
        let (mut client, unmet) = (self.client().await?, unmet_of(plan));
        records::insert_plan(&mut client, case_id, &sealed, plan.version, &unmet).await
    }

    async fn latest_plan(&self, case_id: &CaseId) -> Result<Option<StoredPlan>, StoreError> {
        let plans = records::plans(&self.client().await?, &self.keys(), case_id, true).await?;
        Ok(plans.into_iter().next_back())
    }

    async fn plans_of_case(&self, case_id: &CaseId) -> Result<Vec<StoredPlan>, StoreError> {
        records::plans(&self.client().await?, &self.keys(), case_id, false).await
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
        let keys = self.keys();
        outbox::create(&mut self.client().await?, &keys, case_id, &referrals, now).await
    }

    async fn claim_outbox(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let keys = self.keys();
        outbox::claim(&self.client().await?, &keys, worker_id, limit, lease, now).await
    }

    async fn finish_outbox(
        &self,
        item: OutboxItemId,
        worker_id: &str,
        outcome: DispatchOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let keys = self.keys();
        outbox::finish(&mut self.client().await?, &keys, item, worker_id, &outcome, now).await
    }

    async fn set_follow_up_schedule(
        &self,
        schedule: &crate::FollowUpSchedule,
    ) -> Result<(), StoreError> {
        schedule::set(&self.client().await?, schedule).await
    }

    async fn follow_up_schedule(
        &self,
        organisation: &str,
    ) -> Result<Option<crate::FollowUpSchedule>, StoreError> {
        schedule::get(&self.client().await?, organisation).await
    }

    async fn follow_ups_due(
        &self,
        organisation: &str,
        after_days: u32,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<crate::FollowUpDue>, StoreError> {
        schedule::due(&self.client().await?, organisation, after_days, now, limit).await
    }

    async fn insert_follow_up(
        &self,
        case_id: &CaseId,
        follow_up: &pathways_core::FollowUp,
    ) -> Result<bool, StoreError> {
        let keys = self.keys();
        outcomes::insert(&mut self.client().await?, &keys, case_id, follow_up).await
    }

    async fn follow_ups_of_case(
        &self,
        case_id: &CaseId,
    ) -> Result<Vec<pathways_core::FollowUp>, StoreError> {
        let keys = self.keys();
        outcomes::of_case(&self.client().await?, &keys, case_id).await
    }

    async fn follow_ups_between(
        &self,
        organisation: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(CaseId, pathways_core::FollowUp)>, StoreError> {
        let keys = self.keys();
        outcomes::between(&self.client().await?, &keys, organisation, from, to, limit).await
    }

    async fn replace_consent(
        &self,
        id: &CaseId,
        consent: &pathways_core::Consent,
    ) -> Result<Option<StoredCase>, StoreError> {
        let keys = self.keys();
        records::replace_consent(&mut self.client().await?, &keys, id, consent).await
    }

    async fn request_cancel(
        &self,
        referral_id: &ReferralId,
        order: &CancelOrder,
        now: DateTime<Utc>,
    ) -> Result<Option<CancelRequested>, StoreError> {
        let keys = self.keys();
        cancel::request(&mut self.client().await?, &keys, referral_id, order, now).await
    }

    async fn claim_cancels(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<CancelItem>, StoreError> {
        let keys = self.keys();
        let room = PartnerRoom::default();
        cancel::claim(&mut self.client().await?, &keys, worker_id, limit, lease, now, &room).await
    }

    async fn finish_cancel(
        &self,
        referral_id: &ReferralId,
        worker_id: &str,
        outcome: CancelOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let keys = self.keys();
        cancel::finish(&mut self.client().await?, &keys, referral_id, worker_id, &outcome, now)
            .await
    }

    async fn record_referral_status(
        &self,
        referral_id: &ReferralId,
        change: &StatusChange,
    ) -> Result<bool, StoreError> {
        let keys = self.keys();
        referrals::record_status(&mut self.client().await?, &keys, referral_id, change).await
    }

    async fn get_referral(&self, id: &ReferralId) -> Result<Option<StoredReferral>, StoreError> {
        referrals::get(&mut self.client().await?, &self.keys(), id).await
    }

    async fn referrals_of_case(&self, case_id: &CaseId) -> Result<Vec<StoredReferral>, StoreError> {
        referrals::of_case(&mut self.client().await?, &self.keys(), case_id).await
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

    async fn referrals_sent_to(
        &self,
        partner_id: &str,
        limit: u32,
    ) -> Result<Vec<ReferralId>, StoreError> {
        lookup::sent_to(&self.client().await?, partner_id, limit).await
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
        let (keys, mut client) = (self.keys(), self.client().await?);
        referrals::record_event(&mut client, &keys, partner_id, webhook_id, referral_id, change)
            .await
    }

    async fn referrals_entered(
        &self,
        state: TaskState,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<StuckReferral>, StoreError> {
        reports::entered(&self.client().await?, state, since, limit).await
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
        organisation: Option<&str>,
    ) -> Result<Vec<PathwayStatsRow>, StoreError> {
        let facts = reports::stats_facts(&self.client().await?, from, to, organisation).await?;
        Ok(crate::stats::aggregate(facts))
    }

    async fn unmet_needs(
        &self,
        organisation: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<UnmetNeedRow>, StoreError> {
        unmet::unmet_needs(&self.client().await?, organisation, from, to).await
    }

    async fn erase_case(
        &self,
        case_id: &CaseId,
        reason: ErasureReason,
        now: DateTime<Utc>,
    ) -> Result<Erasure, StoreError> {
        let keys = self.keys();
        erasure::erase(&mut self.client().await?, &keys, case_id, reason, now).await
    }

    async fn set_legal_hold(
        &self,
        case_id: &CaseId,
        hold: Option<LegalHold>,
    ) -> Result<(), StoreError> {
        let sealed = hold
            .as_ref()
            .map(|h| self.keys().seal(h.reason.as_bytes(), &place::hold(case_id.as_str())));
        erasure::set_hold(&self.client().await?, case_id, hold.as_ref(), sealed.as_deref()).await
    }

    async fn cases_due_for_erasure(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<CaseId>, StoreError> {
        erasure::due(&self.client().await?, before, limit).await
    }

    async fn reseal(&self, batch: u32) -> Result<ResealProgress, StoreError> {
        Ok(reseal::pass(self, batch, false).await?.progress)
    }

    async fn verify_data_keys(&self, keys: &DataKeys) -> Result<(), StoreError> {
        reseal::verify_keys(self, keys).await
    }

    fn replace_data_keys(&self, keys: DataKeys) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
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
        accounts::insert_user(&self.client().await?, &sealed, now).await?;
        Ok(sealed.id)
    }

    async fn get_user(&self, id: &UserId) -> Result<Option<StoredUser>, StoreError> {
        accounts::user_by_id(&self.client().await?, &self.keys(), id.as_str()).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<StoredUser>, StoreError> {
        let lookup = email_lookup(email);
        accounts::user_by_lookup(&self.client().await?, &self.keys(), &lookup).await
    }

    async fn user_by_oidc_subject(
        &self,
        issuer_subject: &str,
    ) -> Result<Option<StoredUser>, StoreError> {
        accounts::user_by_oidc_subject(&self.client().await?, &self.keys(), issuer_subject).await
    }

    async fn users_of_organisation(
        &self,
        organisation: &str,
    ) -> Result<Vec<StoredUser>, StoreError> {
        accounts::users_of_organisation(&self.client().await?, &self.keys(), organisation).await
    }

    async fn set_user_status(
        &self,
        id: &UserId,
        status: AccountStatus,
    ) -> Result<bool, StoreError> {
        accounts::set_status(&mut self.client().await?, id, status).await
    }

    async fn set_password(
        &self,
        id: &UserId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        accounts::set_password(&mut self.client().await?, id, password_hash, now).await
    }

    async fn set_oidc_subject(
        &self,
        id: &UserId,
        issuer_subject: Option<&str>,
    ) -> Result<bool, StoreError> {
        accounts::set_oidc_subject(&self.client().await?, id, issuer_subject).await
    }

    async fn create_setup_token(
        &self,
        user_id: &UserId,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        accounts::create_setup_token(&mut client, user_id, token_hash, expires_at).await
    }

    async fn take_setup_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError> {
        accounts::take_setup_token(&mut self.client().await?, token_hash, now).await
    }

    async fn peek_setup_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError> {
        accounts::peek_setup_token(&self.client().await?, token_hash, now).await
    }

    async fn record_sign_in_failure(
        &self,
        id: &UserId,
        now: DateTime<Utc>,
        lock_after: u32,
        lock_for: Duration,
    ) -> Result<u32, StoreError> {
        let until = later(now, lock_for);
        accounts::record_sign_in_failure(&self.client().await?, id, until, lock_after).await
    }

    async fn clear_sign_in_failures(&self, id: &UserId) -> Result<bool, StoreError> {
        accounts::clear_sign_in_failures(&self.client().await?, id).await
    }

    async fn insert_session(&self, session: &NewSession) -> Result<bool, StoreError> {
        accounts::insert_session(&mut self.client().await?, session).await
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<StoredSession>, StoreError> {
        accounts::get_session(&self.client().await?, id_hash).await
    }

    async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        accounts::touch_session(&self.client().await?, id_hash, now).await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        accounts::delete_session(&self.client().await?, id_hash).await
    }

    async fn delete_expired_sessions(
        &self,
        now: DateTime<Utc>,
        idle: Duration,
    ) -> Result<u64, StoreError> {
        let seen_before = earlier(now, idle);
        accounts::delete_expired_sessions(&self.client().await?, now, seen_before).await
    }

    async fn case_summaries(
        &self,
        organisation: &str,
        reference: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CaseSummary>, StoreError> {
        case_list::case_summaries(&self.client().await?, organisation, reference, limit).await
    }

    async fn referrals_needing_attention(
        &self,
        organisation: &str,
        older_than: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AttentionReferral>, StoreError> {
        let client = self.client().await?;
        case_list::needing_attention(&client, organisation, older_than, limit).await
    }

    async fn set_partner_capacity(&self, capacity: &PartnerCapacity) -> Result<(), StoreError> {
        inbox::set_capacity(&self.client().await?, capacity).await
    }

    async fn partner_capacity(
        &self,
        partner_id: &str,
    ) -> Result<Option<PartnerCapacity>, StoreError> {
        inbox::capacity(&self.client().await?, partner_id).await
    }

    async fn claim_outbox_within(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
        room: &PartnerRoom,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let keys = self.keys();
        lanes::claim_outbox(&self.client().await?, &keys, worker_id, limit, lease, now, room).await
    }

    async fn claim_cancels_within(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
        room: &PartnerRoom,
    ) -> Result<Vec<CancelItem>, StoreError> {
        let keys = self.keys();
        cancel::claim(&mut self.client().await?, &keys, worker_id, limit, lease, now, room).await
    }

    async fn defer_outbox(
        &self,
        partner_id: &str,
        keep: u32,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        lanes::defer(&self.client().await?, partner_id, keep, until, now).await
    }

    async fn release_outbox(
        &self,
        item: OutboxItemId,
        worker_id: &str,
        not_before: DateTime<Utc>,
        last_error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let keys = self.keys();
        let mut client = self.client().await?;
        lanes::release_outbox(&mut client, &keys, item, worker_id, not_before, last_error, now)
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
        let keys = self.keys();
        let client = self.client().await?;
        lanes::release_cancel(&client, &keys, referral_id, worker_id, not_before, last_error, now)
            .await
    }

    async fn open_referrals_after(
        &self,
        after: Option<&ReferralId>,
        limit: u32,
    ) -> Result<Vec<OpenReferral>, StoreError> {
        lanes::open_after(&self.client().await?, after, limit).await
    }
}
