//! How values become columns: enums by their wire spelling (so a row reads the same as the
//! API, e.g. `in-progress`, `no_capacity`), documents as JSON, times as microseconds.
//!
//! Both backends go through these helpers, so a state written by SQLite and one written by
//! PostgreSQL are spelled the same and the shared statistics code reads both.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;
use crate::seal::{DataKeys, OpenError};

/// The serde spelling of a unit enum variant, e.g. `TaskState::InProgress` → `in-progress`.
pub(crate) fn to_code<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(code)) => code,
        // Only unit enums are passed here; anything else is a programming error worth seeing.
        other => panic!("to_code needs a unit enum, got {other:?}"),
    }
}

/// Reads back a [`to_code`] spelling; `what` and `id` name the row for the error.
pub(crate) fn from_code<T: DeserializeOwned>(
    code: &str,
    what: &'static str,
    id: &str,
) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(code.to_string())).map_err(|_| {
        StoreError::Corrupt { what, id: id.to_string(), problem: format!("unknown code `{code}`") }
    })
}

/// Where a sealed value lives, bound into its seal as associated data: a value copied into
/// another row or column does not open. One function per place, used by both backends.
pub(crate) mod place {
    /// A case's document.
    pub(crate) fn case(id: &str) -> String {
        format!("case:{id}")
    }
    /// A plan of a case.
    pub(crate) fn plan(case_id: &str) -> String {
        format!("plan:{case_id}")
    }
    /// A referral's payload.
    pub(crate) fn referral(id: &str) -> String {
        format!("referral:{id}")
    }
    /// A note in a referral's history.
    pub(crate) fn history_note(referral_id: &str) -> String {
        format!("history:{referral_id}")
    }
    /// The last dispatch error of a referral.
    pub(crate) fn dispatch_error(referral_id: &str) -> String {
        format!("dispatch:{referral_id}")
    }
    /// The consents a case had before its current one.
    pub(crate) fn consent_history(case_id: &str) -> String {
        format!("consent-history:{case_id}")
    }
    /// A follow-up with a client.
    pub(crate) fn follow_up(case_id: &str) -> String {
        format!("follow-up:{case_id}")
    }
    /// The pathfinder's note on a referral's cancel.
    pub(crate) fn cancel_note(referral_id: &str) -> String {
        format!("cancel-note:{referral_id}")
    }
    /// The last error of a referral's cancel.
    pub(crate) fn cancel_error(referral_id: &str) -> String {
        format!("cancel-error:{referral_id}")
    }
    /// The reason for a case's legal hold.
    pub(crate) fn hold(case_id: &str) -> String {
        format!("hold:{case_id}")
    }
    /// A console user's e-mail address.
    pub(crate) fn user_email(user_id: &str) -> String {
        format!("user-email:{user_id}")
    }
    /// A console user's display name.
    pub(crate) fn user_name(user_id: &str) -> String {
        format!("user-name:{user_id}")
    }
}

/// Encodes a document and seals it for `place`.
pub(crate) fn seal_json<T: Serialize>(
    keys: &DataKeys,
    value: &T,
    what: &'static str,
    place: &str,
) -> Result<String, StoreError> {
    let json = serde_json::to_vec(value).map_err(|e| StoreError::encode(what, &e))?;
    Ok(keys.seal(&json, place))
}

/// Opens a sealed document and decodes it; `what` and `id` name the row for the error.
pub(crate) fn open_json<T: DeserializeOwned>(
    keys: &DataKeys,
    stored: &str,
    what: &'static str,
    id: &str,
    place: &str,
) -> Result<T, StoreError> {
    let bytes = keys.open(stored, place).map_err(|e| sealed(what, id, &e))?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::corrupt(what, id, &e))
}

/// A sealed JSON document, opened, for reading a field or two out of it; `None` when it does
/// not open or is not JSON.
pub(crate) fn open_document(
    keys: &DataKeys,
    sealed: &str,
    place: &str,
) -> Option<serde_json::Value> {
    keys.open(sealed, place).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

/// Seals an optional free text for `place`.
pub(crate) fn seal_text(keys: &DataKeys, text: Option<&str>, place: &str) -> Option<String> {
    text.map(|t| keys.seal(t.as_bytes(), place))
}

/// Opens an optional sealed free text.
pub(crate) fn open_text(
    keys: &DataKeys,
    stored: Option<String>,
    what: &'static str,
    id: &str,
    place: &str,
) -> Result<Option<String>, StoreError> {
    let Some(stored) = stored else { return Ok(None) };
    let bytes = keys.open(&stored, place).map_err(|e| sealed(what, id, &e))?;
    String::from_utf8(bytes).map(Some).map_err(|_| StoreError::Corrupt {
        what,
        id: id.to_string(),
        problem: "sealed text is not UTF-8".into(),
    })
}

fn sealed(what: &'static str, id: &str, err: &OpenError) -> StoreError {
    StoreError::Sealed { what, id: id.to_string(), problem: err.to_string() }
}

/// Both databases keep microseconds; truncating on the way in makes a value read back equal
/// to the value written.
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// The inverse of [`micros`].
pub(crate) fn from_micros(
    value: i64,
    what: &'static str,
    id: &str,
) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(value).ok_or_else(|| StoreError::Corrupt {
        what,
        id: id.to_string(),
        problem: "timestamp out of range".to_string(),
    })
}

/// Truncates a time to what the databases keep, for values computed before writing.
pub(crate) fn truncate(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// `at` plus `span`, as the databases keep it; the end of year 9999 when that is later (a
/// lock "for ever"), which both databases can hold.
pub(crate) fn later(at: DateTime<Utc>, span: std::time::Duration) -> DateTime<Utc> {
    let far = DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
    chrono::Duration::from_std(span)
        .ok()
        .and_then(|span| at.checked_add_signed(span))
        .map_or(far, |t| truncate(t.min(far)))
}

/// `at` less `span`, as the databases keep it; 1970 when that is earlier.
pub(crate) fn earlier(at: DateTime<Utc>, span: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(span)
        .ok()
        .and_then(|span| at.checked_sub_signed(span))
        .map_or(DateTime::UNIX_EPOCH, |t| truncate(t.max(DateTime::UNIX_EPOCH)))
}

#[cfg(test)]
mod tests {
    use pathways_core::{StatusReason, TaskState};

    use super::*;

    #[test]
    fn enums_are_stored_by_their_wire_spelling() {
        assert_eq!(to_code(&TaskState::InProgress), "in-progress");
        assert_eq!(to_code(&StatusReason::NoCapacity), "no_capacity");
        let back: TaskState = from_code("entered-in-error", "referral", "r").unwrap();
        assert_eq!(back, TaskState::EnteredInError);
        assert!(from_code::<TaskState>("lost", "referral", "r").is_err());
    }

    #[test]
    fn spans_saturate_at_what_both_databases_hold() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(later(at, hour).timestamp(), 1_800_003_600);
        assert_eq!(earlier(at, hour).timestamp(), 1_799_996_400);
        assert_eq!(later(at, std::time::Duration::MAX).timestamp(), 253_402_300_799);
        assert_eq!(earlier(at, std::time::Duration::MAX), DateTime::UNIX_EPOCH);
    }
}
