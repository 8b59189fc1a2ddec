//! The web console's records: its users, their sessions, the one-time links that set a
//! password, and the views of an organisation's cases the console lists.
//!
//! A user's e-mail address and display name are personal data: both are sealed like a case
//! (see `crate::seal`), and the address is found again by a lookup hash of its normal form
//! ([`email_lookup`]), which also keeps addresses unique whatever their case. Passwords,
//! session ids and setup links are kept only as the hashes the console makes of them; the
//! store never sees the secrets themselves.
//!
//! No type here prints personal data, a password hash or a session's hash in `Debug`.

use std::fmt;

use chrono::{DateTime, Utc};
use pathways_core::{Personal, TaskState};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{CaseId, ReferralId};

/// The prefix of every user id.
const USER_ID_PREFIX: &str = "usr_";

/// The id the store gives a console user: `usr_` and 32 lower-case hex digits (a UUID v4),
/// random and meaningless, so safe to log and to name in the audit log as its `key_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// A new id: `usr_` and 122 random bits from the operating system (UUID v4), as 32
    /// lower-case hex digits.
    pub fn random() -> Self {
        Self(format!("{USER_ID_PREFIX}{}", uuid::Uuid::new_v4().simple()))
    }

    /// Reads an id from text (e.g. a URL path segment); `None` when the text cannot be an id
    /// this store issued, so a caller can answer 404 without a query.
    pub fn parse(text: &str) -> Option<Self> {
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        let digits = text.strip_prefix(USER_ID_PREFIX)?;
        (digits.len() == 32 && digits.bytes().all(hex)).then(|| Self(text.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps an id read back from the database, which only ever holds ids we issued.
    pub(crate) fn from_db(text: String) -> Self {
        Self(text)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a console account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Created by an admin; the person has not set a password yet.
    Invited,
    /// Can sign in.
    Active,
    /// Cannot sign in; disabling signed the person out everywhere.
    Disabled,
}

impl AccountStatus {
    /// Every status, in the order declared.
    pub const ALL: [AccountStatus; 3] =
        [AccountStatus::Invited, AccountStatus::Active, AccountStatus::Disabled];

    /// Its code, as stored and as the console shows it: `invited`, `active`, `disabled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Invited => "invited",
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
        }
    }

    /// The status a code names; `None` for any other text.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == code)
    }

    /// A status read back from the database; an unknown code is corrupt (named without it).
    pub(crate) fn from_db(code: &str, id: &str) -> Result<Self, crate::StoreError> {
        Self::parse(code).ok_or_else(|| crate::StoreError::Corrupt {
            what: "user",
            id: id.to_string(),
            problem: "its status is not one this build knows".into(),
        })
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A console user to create: invited, with no password yet.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    /// The organisation whose cases the user works on.
    pub organisation: String,
    /// What the user may do there: a code the console defines (e.g. `pathfinder`, `admin`).
    pub role: String,
    /// The address the user signs in with and receives links at. Unique across the store,
    /// whatever its case and surrounding white space.
    pub email: Personal<String>,
    /// How the console greets the user, if given.
    pub display_name: Option<Personal<String>>,
}

/// A console user as stored.
///
/// `Debug` shows the id, organisation, role, status and times only: not the address or the
/// name (personal data), the password hash, nor the identity provider's subject.
#[derive(Clone, PartialEq)]
pub struct StoredUser {
    /// The store's id for the user.
    pub id: UserId,
    /// The organisation whose cases the user works on.
    pub organisation: String,
    /// What the user may do there.
    pub role: String,
    /// The sign-in address, as given when the user was created.
    pub email: Personal<String>,
    /// How the console greets the user, if given.
    pub display_name: Option<Personal<String>>,
    /// The hash of the user's password (the console's own format), once set.
    pub password_hash: Option<String>,
    /// Where the account stands.
    pub status: AccountStatus,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// Failed sign-ins since the last successful one (or the last reset).
    pub failed_sign_ins: u32,
    /// Until when sign-in is refused after too many failures, if it is.
    pub locked_until: Option<DateTime<Utc>>,
    /// The identity provider's issuer and subject the user signs in with, when linked (an
    /// opaque identifier the console composes, e.g. `https://idp.example|248289761001`).
    pub oidc_subject: Option<String>,
}

impl StoredUser {
    /// Whether sign-in is refused at `now` because of failed attempts.
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

impl fmt::Debug for StoredUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredUser")
            .field("id", &self.id)
            .field("organisation", &self.organisation)
            .field("role", &self.role)
            .field("status", &self.status)
            .field("has_password", &self.password_hash.is_some())
            .field("created_at", &self.created_at)
            .field("failed_sign_ins", &self.failed_sign_ins)
            .field("locked_until", &self.locked_until)
            .field("oidc_linked", &self.oidc_subject.is_some())
            .finish_non_exhaustive()
    }
}

/// A console session to store. The console keeps the session's secret in the browser's
/// cookie and gives the store only a hash of it, so a copy of the database cannot be used to
/// sign in.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The hash of the session's secret: the session's key.
    pub id_hash: String,
    /// Whose session it is.
    pub user_id: UserId,
    /// When it began (and was last seen).
    pub created_at: DateTime<Utc>,
    /// When it ends however active it is (the absolute timeout).
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession")
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A console session as stored, whoever's daemon made it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The hash of the session's secret.
    pub id_hash: String,
    /// Whose session it is.
    pub user_id: UserId,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When it was last used (for the idle timeout).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends however active it is (the absolute timeout).
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// One line of the console's case list: what can be shown without opening the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseSummary {
    /// The store's id for the case.
    pub id: CaseId,
    /// The referring organisation's own reference for it (e.g. `CAKC-000123`), trimmed.
    pub reference: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// How many needs it has.
    pub needs: u32,
    /// The version of its newest plan; `None` without a plan (or when the newest is one kept
    /// before plans had versions).
    pub plan_version: Option<u32>,
    /// Its referrals still under way: draft, requested, accepted, in progress or on hold.
    pub referrals_live: u32,
    /// Its referrals a pathfinder should look at: rejected or failed (a cancelled one was
    /// withdrawn on purpose, so it is not counted).
    pub referrals_attention: u32,
}

/// A referral a pathfinder should look at: rejected, failed, or requested and unanswered for
/// too long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttentionReferral {
    /// The referral.
    pub referral_id: ReferralId,
    /// Its case.
    pub case_id: CaseId,
    /// The case's reference, as [`CaseSummary::reference`].
    pub case_reference: String,
    /// The partner it went to.
    pub partner_id: String,
    /// Its state now.
    pub state: TaskState,
    /// Since when it is in that state.
    pub since: DateTime<Utc>,
}

/// An address in the form it is compared in: trimmed and lower-cased.
pub(crate) fn normal_email(address: &str) -> String {
    address.trim().to_lowercase()
}

/// The lookup key of an e-mail address: the lower-case hex SHA-256 of
/// `pathways-user-email\0` and the address trimmed and lower-cased. Stored beside the sealed
/// address (which, sealed with a random nonce, cannot be searched for), unique, so that two
/// accounts cannot share an address however it is capitalised.
pub(crate) fn email_lookup(address: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"pathways-user-email\0");
    hash.update(normal_email(address).as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The plain columns of a case being stored: its reference, trimmed, and its number of needs
/// (for the case list), and its council area (for the statistics, see
/// [`crate::stats::area_of`]).
pub(crate) fn case_columns(case: &pathways_core::Case) -> (String, i64, String) {
    let needs = i64::try_from(case.needs.len()).unwrap_or(i64::MAX);
    (case.reference.trim().to_string(), needs, crate::stats::area_of(case))
}

/// The case-list columns of a case document: its reference, trimmed, and its number of
/// needs. Read from the JSON rather than [`pathways_core::Case`], so a document an older
/// build wrote (whose shape a stricter parser might refuse) still yields them.
pub(crate) fn list_columns(case: &serde_json::Value) -> (String, i64) {
    let reference = case.get("reference").and_then(|r| r.as_str()).unwrap_or("").trim();
    let needs = case.get("needs").and_then(|n| n.as_array()).map_or(0, Vec::len);
    (reference.to_string(), i64::try_from(needs).unwrap_or(i64::MAX))
}

/// The plan version a stored plan document names: its `plan.version`, or 0 for a plan kept
/// before plans had versions (which reads back as no plan).
pub(crate) fn plan_version(record: &serde_json::Value) -> i64 {
    record.pointer("/plan/version").and_then(serde_json::Value::as_i64).unwrap_or(0)
}

/// Turns a count or version read from the database into a `u32`, saturating.
pub(crate) fn count(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_prefixed_random_and_parse_back() {
        let a = UserId::random();
        assert_ne!(a, UserId::random());
        assert!(a.as_str().starts_with("usr_") && a.as_str().len() == 36, "{a}");
        assert_eq!(UserId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.to_string(), a.as_str());
        for bad in ["", "usr_", "usr_../../etc/passwd", &"a".repeat(32), "USR_0123"] {
            assert_eq!(UserId::parse(bad), None, "{bad}");
        }
        assert_eq!(UserId::parse(&format!("usr_{}", "A".repeat(32))), None, "upper case");
        assert_eq!(UserId::parse(&format!("usr_{}", "a".repeat(33))), None);
    }

    #[test]
    fn statuses_have_one_code_each() {
        for status in AccountStatus::ALL {
            assert_eq!(AccountStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
        }
        assert_eq!(AccountStatus::parse("Active"), None);
        let err = AccountStatus::from_db("Daniel Okafor", "usr_1").unwrap_err();
        assert!(!err.to_string().contains("Daniel"), "{err}");
    }

    #[test]
    fn the_email_lookup_ignores_case_and_surrounding_space() {
        let key = email_lookup("amira.haddad@example.org");
        assert_eq!(key, email_lookup("  Amira.Haddad@EXAMPLE.org\n"));
        assert_ne!(key, email_lookup("amira.haddad@example.com"));
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        // Pinned, so a change of the normal form (which would orphan every stored address)
        // cannot pass unnoticed: printf 'pathways-user-email\0a@b.c' | sha256sum
        assert_eq!(
            email_lookup(" A@B.C "),
            "e812c72e1e12b1fac53b403182c837f506fa0647bde33b42965dc9de5ecdf307"
        );
    }

    #[test]
    fn list_columns_come_from_the_document() {
        let case = serde_json::json!({"reference": " CAKC-1 ", "needs": [{}, {}, {}]});
        assert_eq!(list_columns(&case), ("CAKC-1".to_string(), 3));
        assert_eq!(list_columns(&serde_json::json!({})), (String::new(), 0));
        assert_eq!(plan_version(&serde_json::json!({"plan": {"version": 4}})), 4);
        assert_eq!(plan_version(&serde_json::json!({"version": 4})), 0, "before versions");
    }
}
