//! The identifiers a referral carries across the plugin boundary, as types that cannot hold an
//! invalid value: a [`PartnerId`] and an [`IdempotencyKey`]. They are checked where they are made
//! and where they are read from JSON, so a connector can use them as they are (a key in an HTTP
//! header, an id in a URL) without checking them again.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// Why a value is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId {
    /// Which identifier (`partner id`, `idempotency key`).
    pub what: &'static str,
    /// The rule it breaks.
    pub rule: &'static str,
}

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an invalid {}: it must be {}", self.what, self.rule)
    }
}

impl std::error::Error for InvalidId {}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $what:literal, $rule:literal, $valid:path, $schema:tt) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// What the value must be, in words.
            pub const RULE: &'static str = $rule;

            /// `value` if it follows [`Self::RULE`].
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                if $valid(&value) {
                    Ok(Self(value))
                } else {
                    Err(InvalidId { what: $what, rule: $rule })
                }
            }

            /// Whether `value` follows [`Self::RULE`].
            pub fn is_valid(value: &str) -> bool {
                $valid(value)
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(value: &str) -> Result<Self, InvalidId> {
                Self::new(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, InvalidId> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InvalidId;
            fn try_from(value: &str) -> Result<Self, InvalidId> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::new(value).map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($schema)
            }
        }
    };
}

identifier!(
    /// A partner's id from configuration (`[[partners]] id`): stable, used in plans, referrals
    /// and the API. 1 to 64 of `a-z 0-9 - _`, starting with a letter or digit.
    PartnerId,
    "partner id",
    "1 to 64 of `a-z 0-9 - _`, starting with a letter or a digit",
    is_partner_id,
    {
        "description": "A partner's id from configuration.",
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": "^[a-z0-9][a-z0-9_-]*$"
    }
);

identifier!(
    /// Unique per referral and stable across retries: a partner treats a repeat as the same
    /// referral. 1 to 128 visible ASCII characters (no spaces), so it fits an HTTP header and a
    /// URL as it is.
    IdempotencyKey,
    "idempotency key",
    "1 to 128 visible ASCII characters (no spaces)",
    is_idempotency_key,
    {
        "description": "Unique per referral and stable across retries.",
        "type": "string",
        "minLength": 1,
        "maxLength": 128,
        "pattern": "^[!-~]+$"
    }
);

fn is_partner_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    id.len() <= 64
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn is_idempotency_key(key: &str) -> bool {
    (1..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partner_id_is_a_short_lower_case_code() {
        for good in ["foodbank-network", "nhs_talking_therapies", "7", &"a".repeat(64)] {
            assert_eq!(PartnerId::new(good).unwrap(), good);
        }
        for bad in ["", "-lead", "Food", "food bank", "café", &"a".repeat(65)] {
            let error = PartnerId::new(bad).unwrap_err();
            assert_eq!(error.what, "partner id", "{bad:?}");
        }
    }

    #[test]
    fn an_idempotency_key_is_never_empty_and_fits_a_header() {
        for good in ["k", "pw-0123abcd", "550e8400-e29b-41d4-a716-446655440000", &"k".repeat(128)] {
            assert_eq!(IdempotencyKey::new(good).unwrap().as_str(), good);
        }
        for bad in ["", " ", "two words", "line\nbreak", "clé", &"k".repeat(129)] {
            assert!(IdempotencyKey::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn json_is_checked_as_it_is_read_and_written_as_a_plain_string() {
        let key: IdempotencyKey = serde_json::from_str("\"pw-1\"").unwrap();
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"pw-1\"");
        let empty = serde_json::from_str::<IdempotencyKey>("\"\"").unwrap_err();
        assert!(empty.to_string().contains("idempotency key"), "{empty}");
        let id = serde_json::from_str::<PartnerId>("\"Food Bank\"").unwrap_err();
        assert!(id.to_string().contains("partner id"), "{id}");
        assert_eq!(format!("{:?}", PartnerId::new("nhs").unwrap()), "\"nhs\"");
    }
}
