//! How values become columns: enums by their wire spelling (so a row reads the same as the
//! API, e.g. `in-progress`, `no_capacity`), documents as JSON, times as microseconds.
//!
//! Both backends go through these helpers, so a state written by SQLite and one written by
//! PostgreSQL are spelled the same and the shared statistics code reads both.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;

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

/// Encodes a document for a JSON column.
pub(crate) fn to_json<T: Serialize>(value: &T, what: &'static str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::encode(what, &e))
}

/// Decodes a document from a JSON column.
pub(crate) fn from_json<T: DeserializeOwned>(
    text: &str,
    what: &'static str,
    id: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(what, id, &e))
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
}
