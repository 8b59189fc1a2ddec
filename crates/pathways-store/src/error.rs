//! What can go wrong in the store, said so that an operator can act on it.
//!
//! No variant carries a stored value. Database drivers like to quote the offending row
//! (PostgreSQL's `DETAIL: Failing row contains (…)`, serde's `invalid type: string "…"`), and
//! that row may hold a client's name; so driver errors are reduced here to a code and the
//! driver's one-line message, and decoding errors to their category and position.

use std::path::PathBuf;

use crate::accounts::UserId;
use crate::ids::{CaseId, ReferralId};

/// An error from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The storage URL's scheme is not one we can open.
    #[error(
        "storage URL `{url}` has scheme `{scheme}`; accepted are `sqlite://PATH` \
         (e.g. `sqlite://data/pathways.db`) and `postgres://USER@HOST:PORT/DATABASE`"
    )]
    UnsupportedScheme {
        /// The URL, password redacted.
        url: String,
        /// What came before `:`, or `(none)`.
        scheme: String,
    },
    /// The storage URL has an accepted scheme but cannot be used as written.
    #[error("storage URL `{url}` cannot be used: {problem}")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// What is wrong and what to write instead.
        problem: String,
    },
    /// The folder for the SQLite file could not be created.
    #[error("cannot create the folder `{}` for the SQLite database: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// The database refused or failed an operation.
    #[error("{backend} failed while {operation}: {message}{}", code.as_deref().map(|c| format!(" (code {c})")).unwrap_or_default())]
    Database {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// What the store was doing, e.g. `claiming outbox items`.
        operation: &'static str,
        /// The database's error code, when it gave one (SQLSTATE, or SQLite's extended code).
        code: Option<String>,
        /// The driver's one-line message, without row details.
        message: String,
    },
    /// The database was migrated by a newer version of pathways.
    #[error(
        "the database is at schema version {found}, newer than this build knows ({known}); \
         run the newer pathways, or restore a backup taken before the upgrade"
    )]
    SchemaTooNew {
        /// The version recorded in the database.
        found: i64,
        /// The newest version this build can apply.
        known: i64,
    },
    /// No case has this id.
    #[error("no case with id `{0}`")]
    UnknownCase(CaseId),
    /// No referral has this id.
    #[error("no referral with id `{0}`")]
    UnknownReferral(ReferralId),
    /// A referral with this idempotency key exists already; the whole batch was rolled back.
    #[error(
        "a referral with idempotency key `{key}` already exists; nothing in this batch was \
         written"
    )]
    DuplicateReferral {
        /// The key that is taken.
        key: String,
    },
    /// `complete_idempotent` was called for a key that is not in flight.
    #[error(
        "idempotency key `{key}` in scope `{scope}` is not in flight (never begun, abandoned, \
         or completed already)"
    )]
    IdempotencyNotInFlight {
        /// The scope given.
        scope: String,
        /// The key given.
        key: String,
    },
    /// An audit field held something other than a short code.
    #[error(
        "audit field `{field}` must be a code of 1 to 128 letters, digits and `_ . : / -`, so \
         that no free text (and so no personal data) reaches the audit log"
    )]
    InvalidAuditField {
        /// Which field.
        field: &'static str,
    },
    /// A stored row could not be decoded.
    #[error(
        "stored {what} `{id}` cannot be read back ({problem}); it was edited by hand or \
         written by an incompatible version"
    )]
    Corrupt {
        /// What kind of row, e.g. `case`.
        what: &'static str,
        /// Its id.
        id: String,
        /// The category of the problem, never the stored value.
        problem: String,
    },
    /// A sealed value did not open: its key is not configured, or it was altered.
    #[error("stored {what} `{id}` cannot be opened: {problem}")]
    Sealed {
        /// What kind of value, e.g. `case`.
        what: &'static str,
        /// Its row's id.
        id: String,
        /// Why, never the value.
        problem: String,
    },
    /// The plan step already has a referral that is not final.
    #[error(
        "referral `{existing}` for this step (need `{need}`, partner `{partner_id}`) is still \
         live; a new one can be made once it is rejected, failed, cancelled or completed"
    )]
    StepHasLiveReferral {
        /// The live referral.
        existing: ReferralId,
        /// The step's need, as its code.
        need: String,
        /// The step's partner.
        partner_id: String,
    },
    /// A console user with this e-mail address (compared trimmed and lower-cased), or this
    /// identity provider subject, exists already; nothing was written. The value is not
    /// quoted: an address is personal data.
    #[error("a console user with this {field} exists already; nothing was written")]
    DuplicateUser {
        /// Which value is taken: `email` or `oidc_subject`.
        field: &'static str,
    },
    /// No console user has this id.
    #[error("no console user with id `{0}`")]
    UnknownUser(UserId),
    /// The case is under a legal hold and cannot be erased.
    #[error("case `{case_id}` is under a legal hold set at {since}; an admin must lift it first")]
    LegalHold {
        /// The case.
        case_id: CaseId,
        /// When the hold was set.
        since: chrono::DateTime<chrono::Utc>,
        /// The admin's reason: for the API's answer only, so not in the message (which may be
        /// logged).
        reason: String,
    },
    /// A value could not be encoded for storage.
    #[error("cannot encode the {what} for storage: {problem}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The category of the problem.
        problem: String,
    },
    /// This backend does not take backups itself.
    #[error(
        "the {backend} store does not write backups itself: use `pg_dump` (its output holds \
         the personal data sealed, as stored; keep the data keys apart from it)"
    )]
    BackupUnsupported {
        /// The backend.
        backend: &'static str,
    },
    /// A backup file could not be created.
    #[error("cannot create the backup file `{}`: {source} (it must not exist yet)", path.display())]
    BackupFile {
        /// The file.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// A background task running a database call panicked or was cancelled.
    #[error("a storage task stopped unexpectedly: {0}")]
    TaskFailed(String),
}

impl StoreError {
    /// Describes a serde_json error by category and position only, never the value it saw.
    pub(crate) fn json_problem(err: &serde_json::Error) -> String {
        let kind = match err.classify() {
            serde_json::error::Category::Io => "i/o error",
            serde_json::error::Category::Syntax => "malformed JSON",
            serde_json::error::Category::Data => "JSON of the wrong shape",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        if err.line() > 0 {
            format!("{kind} at line {} column {}", err.line(), err.column())
        } else {
            kind.to_string()
        }
    }

    /// A stored JSON document that no longer decodes.
    pub(crate) fn corrupt(what: &'static str, id: impl ToString, err: &serde_json::Error) -> Self {
        StoreError::Corrupt { what, id: id.to_string(), problem: Self::json_problem(err) }
    }

    /// A document that does not encode (in practice: never, for the core types).
    pub(crate) fn encode(what: &'static str, err: &serde_json::Error) -> Self {
        StoreError::Encode { what, problem: Self::json_problem(err) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_errors_never_quote_the_stored_value() {
        let err = serde_json::from_str::<u8>("\"Daniel Okafor\"").unwrap_err();
        assert!(err.to_string().contains("Daniel"), "serde does quote values");
        let ours = StoreError::corrupt("case", "abc", &err).to_string();
        assert!(!ours.contains("Daniel"), "{ours}");
        assert!(ours.contains("wrong shape"), "{ours}");
    }
}
