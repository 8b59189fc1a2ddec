//! Where sealed values live, for the re-sealing pass that both backends run: after a key
//! rotation (values sealed under an older key) and on first opening a database written
//! before sealing (plain text).
//!
//! Each pass takes a batch of values that do not start with the wanted prefix, opens each
//! (or takes its plain text), seals it under the current key, and writes it back only if it
//! is still what was read (compare-and-set), so a value changed meanwhile by the daemon is
//! never overwritten with an older one.

use crate::codec::place;

/// One column holding sealed values.
pub(crate) struct SealedColumn {
    /// Its table.
    pub table: &'static str,
    /// The table's key column.
    pub key: &'static str,
    /// The sealed column.
    pub value: &'static str,
    /// The column whose value names the place the seal is bound to.
    pub place_of: &'static str,
    /// The place, from that column's value.
    pub place: fn(&str) -> String,
    /// Rows to leave alone (SQL, true for rows that hold a sealed value).
    pub holds_value: &'static str,
}

/// Every column that holds sealed values.
pub(crate) const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "cases",
        key: "id",
        value: "case_json",
        place_of: "id",
        place: place::case,
        holds_value: "erased_at IS NULL",
    },
    SealedColumn {
        table: "cases",
        key: "id",
        value: "legal_hold_reason",
        place_of: "id",
        place: place::hold,
        holds_value: "legal_hold_reason IS NOT NULL",
    },
    SealedColumn {
        table: "cases",
        key: "id",
        value: "consent_history",
        place_of: "id",
        place: place::consent_history,
        holds_value: "consent_history IS NOT NULL",
    },
    SealedColumn {
        table: "plans",
        key: "id",
        value: "plan_json",
        place_of: "case_id",
        place: place::plan,
        holds_value: "plan_json IS NOT NULL",
    },
    SealedColumn {
        table: "referrals",
        key: "id",
        value: "payload",
        place_of: "id",
        place: place::referral,
        holds_value: "payload <> 'erased'",
    },
    SealedColumn {
        table: "referral_history",
        key: "seq",
        value: "note",
        place_of: "referral_id",
        place: place::history_note,
        holds_value: "note IS NOT NULL",
    },
    SealedColumn {
        table: "outbox",
        key: "id",
        value: "last_error",
        place_of: "referral_id",
        place: place::dispatch_error,
        holds_value: "last_error IS NOT NULL",
    },
    SealedColumn {
        table: "cancellations",
        key: "referral_id",
        value: "note",
        place_of: "referral_id",
        place: place::cancel_note,
        holds_value: "note IS NOT NULL",
    },
    SealedColumn {
        table: "cancellations",
        key: "referral_id",
        value: "last_error",
        place_of: "referral_id",
        place: place::cancel_error,
        holds_value: "last_error IS NOT NULL",
    },
    SealedColumn {
        table: "follow_ups",
        key: "id",
        value: "record",
        place_of: "case_id",
        place: place::follow_up,
        holds_value: "record IS NOT NULL",
    },
    SealedColumn {
        table: "users",
        key: "id",
        value: "email_sealed",
        place_of: "id",
        place: place::user_email,
        holds_value: "email_sealed IS NOT NULL",
    },
    SealedColumn {
        table: "users",
        key: "id",
        value: "display_name",
        place_of: "id",
        place: place::user_name,
        holds_value: "display_name IS NOT NULL",
    },
];
