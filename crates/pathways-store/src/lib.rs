//! Durable storage of `pathways`: cases, plans, the audit log, API idempotency records,
//! referrals with their status history, the outbox the dispatcher sends them from, and the
//! web console's users and sessions.
//!
//! One [`Store`] trait, two implementations that pass one test suite:
//! - [`SqliteStore`], the embedded default (`sqlite://data/pathways.db`): one council, one
//!   daemon, a file to back up.
//! - [`PostgresStore`] (`postgres://…`): several daemons sharing one database; the outbox is
//!   claimed with `FOR UPDATE SKIP LOCKED`, so each referral is sent by exactly one instance.
//!
//! [`open`] picks one by the URL's scheme and applies the schema migrations.
//!
//! Three promises shape everything here. A referral is never lost: it is written together with
//! its outbox row in one transaction, and a claim on the outbox is a lease that runs out, so
//! the work of a crashed daemon is picked up by another. Personal data never reaches a log:
//! no type here prints it in `Debug`, no error message quotes a stored value, and the audit
//! log has no field that could hold free text. And personal data is unreadable at rest: every
//! value holding it is sealed ([`DataKeys`], module `seal`) before it reaches either database,
//! and erased from all of them at once when its time is up ([`erasure`]).

mod accounts;
mod audit;
mod cancel;
mod codec;
pub mod erasure;
mod error;
mod idempotency;
mod ids;
mod inbox;
mod lanes;
mod postgres;
mod records;
mod referral;
mod reseal;
mod schedule;
mod seal;
mod sqlite;
mod stats;
mod store;
mod url;

use std::sync::Arc;

pub use accounts::{
    AccountStatus, AttentionReferral, CaseSummary, NewSession, NewUser, StoredSession, StoredUser,
    UserId,
};
pub use audit::{AuditAction, AuditEntry, AuditFilter, AuditOutcome, AuditRecord, UnknownCode};
pub use cancel::{
    CancelItem, CancelOrder, CancelOutcome, CancelRequested, CancelState, Cancellation,
};
pub use erasure::{Erasure, ErasureReason, LegalHold, ResealProgress};
pub use error::StoreError;
pub use idempotency::{IdempotencyOutcome, StoredResponse};
pub use ids::{CaseId, OutboxItemId, ReferralId};
pub use inbox::{CapacityState, PartnerCapacity};
pub use lanes::{OpenReferral, PartnerRoom};
pub use postgres::PostgresStore;
pub use records::{StoredCase, StoredPlan};
pub use referral::{
    DispatchOutcome, DispatchState, NewReferral, OutboxItem, OutboxState, PartnerEvent,
    StatusChange, StatusSource, StoredReferral, StuckReferral,
};
pub use schedule::{
    FollowUpDue, FollowUpSchedule, DEFAULT_FOLLOW_UP_AFTER_DAYS, MAX_FOLLOW_UP_AFTER_DAYS,
};
pub use seal::{DataKeyError, DataKeys, OpenError};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use stats::{
    OpenReasonCount, OpenStatus, PathwayStatsRow, ReasonCount, UnmetNeedRow, REASON_NOT_RECORDED,
};
pub use store::Store;
pub use url::redact_url;

/// Opens the store a URL names, creating and migrating it as needed: `sqlite://PATH` (the
/// file and its folder are created on first start) or `postgres://USER@HOST:PORT/DATABASE`
/// (`postgresql://` too). An unknown scheme is an error naming it and what is accepted; the
/// URL is quoted with its password redacted.
///
/// Values are sealed with `keys`' current key and opened with any of them; values written
/// before sealing existed are sealed on opening.
pub async fn open(url: &str, keys: DataKeys) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, keys, SqliteOptions::default()).await
}

/// [`open`] with the SQLite store's options (PostgreSQL has none here).
pub async fn open_with(
    url: &str,
    keys: DataKeys,
    sqlite: SqliteOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    match url::parse(url)? {
        url::Target::Sqlite(path) => {
            Ok(Arc::new(SqliteStore::open_with(&path, keys, sqlite).await?))
        }
        url::Target::Postgres(config) => Ok(Arc::new(PostgresStore::connect(*config, keys).await?)),
    }
}
