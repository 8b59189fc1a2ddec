//! The audit log: who did what to which case or referral, when, and how it ended.
//!
//! Append-only twice over: the [`Store`](crate::Store) has no method that changes or removes
//! an entry, and the database itself rejects `UPDATE` and `DELETE` on the table (triggers in
//! both backends), so a bug or a hand-typed statement cannot rewrite history.
//!
//! No field can hold personal data: what was done and how it ended are [`AuditAction`] and
//! [`AuditOutcome`], closed vocabularies with one spelling per value; the key id and the
//! organisation must be short codes (checked by [`AuditEntry::validate`] before writing); case
//! and referral are referred to by the store's opaque ids.
//!
//! The vocabulary is documented in `docs/operating.md` ("The audit log"), and a test below
//! fails when the two differ. A spelling, once written, is for ever: the log cannot be
//! rewritten, so a value read back that the vocabulary does not have is
//! [`StoreError::Corrupt`] rather than something to guess at.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::erasure::ErasureReason;
use crate::error::StoreError;
use crate::ids::{CaseId, ReferralId};

/// A code that is not in a vocabulary: `what` names the vocabulary (`audit action`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{code}` is not an {what}")]
pub struct UnknownCode {
    /// Which vocabulary.
    pub what: &'static str,
    /// The code that is not in it.
    pub code: String,
}

/// Declares a closed vocabulary: a unit enum whose every value has exactly one spelling,
/// given once here and used for storing, for JSON (both ways) and for `Display`, with `ALL`
/// listing every value (for the documentation test and for parsing).
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => $code:expr, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Its one spelling, as stored and as the API shows it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $code, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownCode;
            fn from_str(code: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == code)
                    .ok_or_else(|| UnknownCode { what: $what, code: code.to_string() })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let code = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                code.parse().map_err(serde::de::Error::custom)
            }
        }

        /// In the OpenAPI document: a string, one of the spellings.
        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let codes: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                schemars::json_schema!({ "type": "string", "enum": codes })
            }
        }
    };
}

vocabulary! {
    /// What was attempted: one value per route that touches a case, a plan, a referral, a
    /// report or the log itself, and one for partner callbacks.
    pub enum AuditAction ("audit action") {
        /// `POST /v1/cases`.
        CaseCreate => "case.create",
        /// `GET /v1/cases/{id}`.
        CaseRead => "case.read",
        /// `DELETE /v1/cases/{id}`, or the retention sweep (key id `system:retention`).
        CaseErase => "case.erase",
        /// `GET /v1/cases/{id}/export` (subject access).
        CaseExport => "case.export",
        /// `PUT /v1/cases/{id}/legal-hold`.
        CaseHold => "case.hold",
        /// `DELETE /v1/cases/{id}/legal-hold`.
        CaseHoldLift => "case.hold_lift",
        /// `PUT /v1/cases/{id}/consent`: consent withdrawn, narrowed or widened.
        CaseConsent => "case.consent",
        /// `POST /v1/cases/{id}/follow-ups`: a follow-up with the client recorded.
        CaseFollowUp => "case.follow_up",
        /// `POST /v1/cases/{id}/plan`.
        PlanCreate => "plan.create",
        /// `GET /v1/cases/{id}/plan`.
        PlanRead => "plan.read",
        /// `PATCH /v1/cases/{id}/plan`: amendments made with the client.
        PlanAmend => "plan.amend",
        /// `POST /v1/cases/{id}/referrals`.
        ReferralCreate => "referral.create",
        /// `GET /v1/referrals/{id}`.
        ReferralRead => "referral.read",
        /// `POST /v1/referrals/{id}/cancel`; and the dispatcher telling the partner (key id
        /// `system:dispatch`, organisation `system`).
        ReferralCancel => "referral.cancel",
        /// `GET /v1/reports/pathways`.
        ReportPathways => "report.pathways",
        /// `GET /v1/reports/unmet`.
        ReportUnmet => "report.unmet",
        /// `GET /v1/reports/outcomes`.
        ReportOutcomes => "report.outcomes",
        /// `PUT /v1/follow-ups/schedule` (or the console's dashboard): when clients are due a
        /// follow-up.
        FollowUpSchedule => "follow_up.schedule",
        /// `GET /v1/follow-ups/due`: the cases due a follow-up.
        FollowUpsDue => "follow_up.due",
        /// `GET /v1/audit`.
        AuditRead => "audit.read",
        /// `POST /v1/partners/{partner_id}/events`, a signed partner callback (key id
        /// `webhook`, organisation the partner's id).
        PartnerEvent => "partner.event",
        /// The console: a person signed in (key id their user id).
        SignIn => "console.sign_in",
        /// The console: a person signed out.
        SignOut => "console.sign_out",
        /// The console: the client's copy of a plan was shown (to print or hand over).
        ClientCopy => "case.client_copy",
        /// The console: staff of a partner without an API (kind `inbox`) changed a referral's
        /// state (key id their user id, organisation the partner's id).
        ReferralPartnerUpdate => "referral.partner_update",
        /// The console: staff of a partner without an API set its capacity.
        PartnerCapacity => "partner.capacity",
    }
}

vocabulary! {
    /// How it ended. Where a request was refused with an API error whose code says the same,
    /// the outcome is spelt as that code (so `step_refused` in the log is `step_refused` in the
    /// answer); a refusal the caller must not learn the reason for (`not_visible`,
    /// `not_partners_referral`) is answered `not_found` and recorded precisely here.
    pub enum AuditOutcome ("audit outcome") {
        /// Done.
        Ok => "ok",
        /// Read by a partner organisation: it was shown only what was sent to it.
        OkPartnerView => "ok_partner_view",
        /// The key's role may not do this (403).
        Forbidden => "forbidden",
        /// The case sent was not valid, or not the key's organisation's to refer (400).
        Invalid => "invalid",
        /// No case or referral has this id (404).
        NotFound => "not_found",
        /// It exists, but the caller's organisation may not see it (answered 404, like a
        /// missing one).
        NotVisible => "not_visible",
        /// The case has no plan yet.
        NoPlan => "no_plan",
        /// An amendment named a version that is no longer the newest (409).
        VersionConflict => "version_conflict",
        /// An amendment could not be made (422): the message says which and why.
        AmendmentRefused => "amendment_refused",
        /// Erasure refused: a legal hold stands (409).
        LegalHold => "legal_hold",
        /// Erased: the client asked.
        ErasedClientRequest => ErasureReason::ClientRequest.as_str(),
        /// Erased: the case was recorded by mistake.
        ErasedEnteredInError => ErasureReason::EnteredInError.as_str(),
        /// Erased: its retention period ran out.
        ErasedRetentionExpired => ErasureReason::RetentionExpired.as_str(),
        /// Erased: for another reason the data protection officer decided.
        ErasedOther => ErasureReason::Other.as_str(),
        /// A request seen before: `referral.create` answered the first response again (its
        /// `Idempotency-Key` was used); `partner.event` refused a `webhook-id` received before
        /// (409).
        Replayed => "replayed",
        /// A request with the same `Idempotency-Key` is still being handled (409).
        InFlight => "in_flight",
        /// The `Idempotency-Key` was used for a different request (422).
        KeyReused => "key_reused",
        /// The request chose a step the plan does not have (422).
        UnknownStep => "unknown_step",
        /// A chosen step cannot be referred: no consent, not a `refer` step, or its partner
        /// is not enabled (422).
        StepRefused => "step_refused",
        /// The request chose no `refer` step (422).
        NothingToRefer => "nothing_to_refer",
        /// A chosen step already has a live referral; nothing was written (409).
        StepAlreadyReferred => "step_already_referred",
        /// Some of the request's referrals exist and some do not (409).
        ReferralConflict => "referral_conflict",
        /// A stored value could not be opened or read (500).
        StoredDataUnreadable => "stored_data_unreadable",
        /// The store did not answer (503).
        Unavailable => "unavailable",
        /// Failed in a way this vocabulary has no code for (500): a bug, named in the log.
        Internal => "internal",
        /// A partner's status change was recorded.
        Recorded => "recorded",
        /// A partner's status report told nothing new.
        Unchanged => "unchanged",
        /// Callback for a partner that is unknown or has no signing secret (404).
        UnknownPartner => "unknown_partner",
        /// A Standard Webhooks header is missing (401).
        MissingHeader => "missing_header",
        /// `webhook-timestamp` is not a number (401).
        BadTimestamp => "bad_timestamp",
        /// `webhook-timestamp` is more than 5 minutes off (401).
        StaleTimestamp => "stale_timestamp",
        /// The signature does not match (401).
        BadSignature => "bad_signature",
        /// The body is not an event (400).
        InvalidEvent => "invalid_event",
        /// An event type other than `referral.status_changed` (422).
        UnsupportedEvent => "unsupported_event",
        /// A state a partner may not report (422).
        InvalidState => "invalid_state",
        /// No referral of this partner has the reference (answered 404).
        NotPartnersReferral => "not_partners_referral",
        /// The store failed while finding or recording a callback's referral.
        StoreFailed => "store_failed",
        /// A sign-in with a wrong password, or for an account that cannot sign in.
        BadCredentials => "bad_credentials",
        /// A cancel of a referral that had not been sent: withdrawn, nothing reached the
        /// partner.
        Withdrawn => "withdrawn",
        /// A cancel recorded; the partner will be told.
        CancelQueued => "cancel_queued",
        /// The referral is already in a final state: nothing to cancel (409).
        AlreadyFinal => "already_final",
        /// The partner confirmed the cancel.
        CancelConfirmed => "cancel_confirmed",
        /// The partner's system cannot take a cancel: cancelled here, to be phoned.
        CancelUnsupported => "cancel_unsupported",
        /// The partner refused the cancel or had already finished; or the retries ran out.
        CancelFailed => "cancel_failed",
        /// A change of state a partner may not make from the referral's state now (422).
        TransitionRefused => "transition_refused",
    }
}

impl AuditOutcome {
    /// The outcome of an erasure for `reason`: spelt as the reason.
    pub const fn erased(reason: ErasureReason) -> Self {
        match reason {
            ErasureReason::ClientRequest => Self::ErasedClientRequest,
            ErasureReason::EnteredInError => Self::ErasedEnteredInError,
            ErasureReason::RetentionExpired => Self::ErasedRetentionExpired,
            ErasureReason::Other => Self::ErasedOther,
        }
    }

    /// Spellings written before the vocabulary was one enum, read back as the value they
    /// meant: the log cannot be rewritten, so they stay readable for ever, and nothing writes
    /// them any more. A replayed partner callback was logged `replay` while the API answered
    /// `replayed`.
    const FORMER: &'static [(&'static str, AuditOutcome)] = &[("replay", AuditOutcome::Replayed)];
}

/// An action read back from row `seq`; one the vocabulary does not have is corrupt.
pub(crate) fn stored_action(code: &str, seq: i64) -> Result<AuditAction, StoreError> {
    code.parse().map_err(|_: UnknownCode| unreadable(seq, "action"))
}

/// An outcome read back from row `seq` (former spellings included); one the vocabulary does
/// not have is corrupt.
pub(crate) fn stored_outcome(code: &str, seq: i64) -> Result<AuditOutcome, StoreError> {
    code.parse().or_else(|_: UnknownCode| {
        AuditOutcome::FORMER
            .iter()
            .find(|(former, _)| *former == code)
            .map(|(_, outcome)| *outcome)
            .ok_or_else(|| unreadable(seq, "outcome"))
    })
}

/// Without the value itself: a row that did not come from this program may hold anything.
fn unreadable(seq: i64, field: &str) -> StoreError {
    StoreError::Corrupt {
        what: "audit entry",
        id: seq.to_string(),
        problem: format!("its {field} is not in the vocabulary"),
    }
}

/// One thing that happened, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// The id of the API key used (not the key, nor a hash of it); the user's id
    /// (`usr_…`, see [`UserId`](crate::UserId)) for the web console; `webhook` for a signed
    /// partner callback, `system:retention` for the retention sweep.
    pub key_id: String,
    /// The organisation the key belongs to (the partner's id for a callback, `system` for the
    /// sweep).
    pub organisation: String,
    /// What was attempted.
    pub action: AuditAction,
    /// The case it concerned, if any.
    pub case_id: Option<CaseId>,
    /// The referral it concerned, if any.
    pub referral_id: Option<ReferralId>,
    /// How it ended.
    pub outcome: AuditOutcome,
}

impl AuditEntry {
    /// Checks that the key id and the organisation are codes: 1 to 128 of
    /// `A-Z a-z 0-9 _ . : / -`. Spaces, `@` and anything longer are refused, which keeps names,
    /// e-mail addresses and free-text notes out of the log by construction (the action and
    /// the outcome are codes by their type).
    pub fn validate(&self) -> Result<(), StoreError> {
        for (field, value) in [("key_id", &self.key_id), ("organisation", &self.organisation)] {
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
            action: AuditAction::CaseRead,
            case_id: None,
            referral_id: None,
            outcome: AuditOutcome::Ok,
        }
    }

    #[test]
    fn codes_pass_validation() {
        assert!(entry().validate().is_ok());
    }

    #[test]
    fn a_console_users_id_is_a_key_id() {
        let mut e = entry();
        e.key_id = crate::UserId::random().to_string();
        assert!(e.validate().is_ok(), "{}", e.key_id);
    }

    #[test]
    fn free_text_is_refused_with_the_field_named() {
        let mut e = entry();
        e.organisation = "denied for Daniel Okafor".into();
        let err = e.validate().unwrap_err().to_string();
        assert!(err.contains("`organisation`"), "{err}");
        assert!(!err.contains("Daniel"), "{err}");
        let mut e = entry();
        e.key_id = "someone@example.org".into();
        assert!(e.validate().is_err());
        let mut e = entry();
        e.key_id = String::new();
        assert!(e.validate().is_err());
    }

    /// Every spelling of a vocabulary, checked to be a distinct code that reads back (from
    /// text and from JSON) as the value it came from.
    fn check_spellings<T>(all: &[T])
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + FromStr + Serialize,
        T: for<'de> Deserialize<'de>,
    {
        let mut seen = std::collections::HashSet::new();
        for value in all {
            let code = value.to_string();
            assert!(seen.insert(code.clone()), "`{code}` is spelt twice");
            assert!(
                !code.is_empty()
                    && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.'),
                "`{code}` is not a lower-case code"
            );
            assert!(code.parse::<T>().ok() == Some(*value), "`{code}` does not read back");
            let json = serde_json::to_string(value).unwrap();
            assert_eq!(json, format!("\"{code}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *value);
        }
    }

    #[test]
    fn every_action_and_outcome_has_one_spelling_that_reads_back_as_itself() {
        check_spellings(AuditAction::ALL);
        check_spellings(AuditOutcome::ALL);
        assert_eq!(AuditAction::ALL.len(), 26);
        let err = "case.forged".parse::<AuditAction>().unwrap_err();
        assert_eq!(err.to_string(), "`case.forged` is not an audit action");
        assert!(serde_json::from_str::<AuditOutcome>("\"Ok\"").is_err(), "one spelling only");
    }

    #[test]
    fn an_erasure_is_recorded_under_its_reason() {
        for reason in ErasureReason::ALL {
            assert_eq!(AuditOutcome::erased(reason).as_str(), reason.as_str());
        }
    }

    #[test]
    fn former_spellings_read_back_and_unknown_codes_are_corrupt_without_quoting_them() {
        assert_eq!(stored_outcome("replay", 4).unwrap(), AuditOutcome::Replayed);
        assert_eq!(stored_outcome("replayed", 4).unwrap(), AuditOutcome::Replayed);
        assert_eq!(stored_action("partner.event", 4).unwrap(), AuditAction::PartnerEvent);
        for err in [
            stored_action("Daniel Okafor", 9).unwrap_err(),
            stored_outcome("Daniel Okafor", 9).unwrap_err(),
        ] {
            assert!(matches!(&err, StoreError::Corrupt { id, .. } if id == "9"), "{err}");
            assert!(!err.to_string().contains("Daniel"), "{err}");
        }
        assert!(AuditOutcome::FORMER.iter().all(|(code, _)| code.parse::<AuditOutcome>().is_err()));
    }

    /// The codes in the first column of the table headed `| {header} |` in the section
    /// "The audit log" of `docs/operating.md`.
    fn documented(header: &str) -> Vec<String> {
        const DOC: &str = include_str!("../../../docs/operating.md");
        let section = DOC.split("\n## ").find(|s| s.starts_with("The audit log\n")).unwrap();
        let mut in_table = false;
        let mut codes = Vec::new();
        for line in section.lines() {
            if !line.starts_with('|') {
                in_table = false;
            } else if line.starts_with(&format!("| {header} |")) {
                in_table = true;
            } else if in_table && !line.starts_with("| ---") {
                let cell = line.split('|').nth(1).unwrap().trim();
                let code = cell.strip_prefix('`').and_then(|c| c.strip_suffix('`'));
                codes.push(code.unwrap_or_else(|| panic!("not a `code`: {line}")).to_string());
            }
        }
        codes
    }

    #[test]
    fn the_operating_guide_documents_exactly_the_vocabulary() {
        for (header, mut codes, all) in [
            (
                "Action",
                documented("Action"),
                AuditAction::ALL.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            ),
            (
                "Outcome",
                documented("Outcome"),
                AuditOutcome::ALL.iter().map(|o| o.to_string()).collect(),
            ),
        ] {
            let listed = codes.len();
            codes.sort();
            codes.dedup();
            assert_eq!(codes.len(), listed, "a {header} is documented twice");
            let mut all = all;
            all.sort();
            assert_eq!(codes, all, "docs/operating.md's {header} table and the enum differ");
        }
    }
}
