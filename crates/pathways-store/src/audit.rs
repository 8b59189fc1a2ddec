//! The audit log: who did what to which case or referral, when, and how it ended.
//!
//! Append-only twice over: the [`Store`](crate::Store) has no method that changes or removes
//! an entry, and the database itself rejects `UPDATE` and `DELETE` on the table (triggers in
//! both backends), so a bug or a hand-typed statement cannot rewrite history.
//!
//! No field can hold personal data: every text field must be a short code (checked by
//! [`AuditEntry::validate`] before writing), and case and referral are referred to by the
//! store's opaque ids.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::StoreError;
use crate::ids::{CaseId, ReferralId};

/// One thing that happened, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// The id of the API key used (not the key, nor a hash of it), or e.g. `partner:nhs` for a
    /// signed callback.
    pub key_id: String,
    /// The organisation the key belongs to.
    pub organisation: String,
    /// What was attempted, as a code, e.g. `case.read`, `referral.create`, `webhook.receive`.
    pub action: String,
    /// The case it concerned, if any.
    pub case_id: Option<CaseId>,
    /// The referral it concerned, if any.
    pub referral_id: Option<ReferralId>,
    /// How it ended, as a code, e.g. `ok`, `denied`, `not_found`, `bad_signature`.
    pub outcome: String,
}

impl AuditEntry {
    /// Checks that every text field is a code: 1 to 128 of `A-Z a-z 0-9 _ . : / -`. Spaces,
    /// `@` and anything longer are refused, which keeps names, e-mail addresses and free-text
    /// notes out of the log by construction.
    pub fn validate(&self) -> Result<(), StoreError> {
        for (field, value) in [
            ("key_id", &self.key_id),
            ("organisation", &self.organisation),
            ("action", &self.action),
            ("outcome", &self.outcome),
        ] {
            let ok = (1..=128).contains(&value.len())
                && value.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'-')
                });
            if !ok {
                return Err(StoreError::InvalidAuditField { field });
            }
        }
        Ok(())
    }
}

/// An entry read back, with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Position in the log: increasing, never reused; pass it as `after_seq` to page on.
    pub seq: i64,
    /// The entry.
    pub entry: AuditEntry,
}

/// Which entries to read. Empty fields match everything; entries come oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this organisation's entries.
    pub organisation: Option<String>,
    /// Only entries about this case.
    pub case_id: Option<CaseId>,
    /// Only entries about this referral.
    pub referral_id: Option<ReferralId>,
    /// Only entries after this position (for paging).
    pub after_seq: Option<i64>,
    /// Only entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub to: Option<DateTime<Utc>>,
    /// At most this many entries.
    pub limit: u32,
}

impl Default for AuditFilter {
    fn default() -> Self {
        Self {
            organisation: None,
            case_id: None,
            referral_id: None,
            after_seq: None,
            from: None,
            to: None,
            limit: 100,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditEntry {
        AuditEntry {
            at: Utc::now(),
            key_id: "key-7".into(),
            organisation: "citizens-advice-kc".into(),
            action: "case.read".into(),
            case_id: None,
            referral_id: None,
            outcome: "ok".into(),
        }
    }

    #[test]
    fn codes_pass_validation() {
        assert!(entry().validate().is_ok());
    }

    #[test]
    fn free_text_is_refused_with_the_field_named() {
        let mut e = entry();
        e.outcome = "denied for Daniel Okafor".into();
        let err = e.validate().unwrap_err().to_string();
        assert!(err.contains("`outcome`"), "{err}");
        assert!(!err.contains("Daniel"), "{err}");
        let mut e = entry();
        e.key_id = "someone@example.org".into();
        assert!(e.validate().is_err());
        let mut e = entry();
        e.action = String::new();
        assert!(e.validate().is_err());
    }
}
