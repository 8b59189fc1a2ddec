//! Identifiers the store assigns. Case and referral ids are random (nobody can guess another
//! organisation's case id from their own) and carry no meaning, so they are safe to log and
//! to put in URLs.

use std::fmt;

use serde::Serialize;

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new id: 122 random bits from the operating system (UUID v4), as 32 lower-case
            /// hex digits.
            pub fn random() -> Self {
                Self(uuid::Uuid::new_v4().simple().to_string())
            }

            /// Reads an id from text (e.g. a URL path segment); `None` when the text cannot be
            /// an id this store issued, so a caller can answer 404 without a query.
            pub fn parse(text: &str) -> Option<Self> {
                let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
                (text.len() == 32 && text.bytes().all(hex)).then(|| Self(text.to_string()))
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

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

random_id!(
    /// The id the store gives a case when it is first stored.
    CaseId
);
random_id!(
    /// The id the store gives a referral when it is created.
    ReferralId
);

/// The id of one outbox row: the unit of work a dispatcher claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OutboxItemId(pub i64);

impl fmt::Display for OutboxItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_distinct_and_parse_back() {
        let a = CaseId::random();
        let b = CaseId::random();
        assert_ne!(a, b);
        assert_eq!(CaseId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.as_str().len(), 32);
    }

    #[test]
    fn parse_rejects_what_we_never_issue() {
        assert_eq!(ReferralId::parse(""), None);
        assert_eq!(ReferralId::parse("../../etc/passwd"), None);
        assert_eq!(ReferralId::parse(&"A".repeat(32)), None, "upper case is not ours");
        assert_eq!(ReferralId::parse(&"a".repeat(33)), None);
    }
}
