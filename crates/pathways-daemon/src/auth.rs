//! Who is calling: bearer API keys bound to an organisation and a role.
//!
//! Keys are random high-entropy tokens ([`new_token`]), so a plain SHA-256 of the token is a
//! safe thing to keep in configuration (no dictionary to attack, unlike a password); only the
//! hash is ever stored. A presented token is hashed and compared with every configured hash in
//! constant time, and all of them are always compared, so timing says nothing about which
//! hashes exist.

use std::fmt;
use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, DaemonError};
use crate::state::AppState;

/// What a key may do (CONTRACT.md, "HTTP API").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A triage worker's system: creates cases, plans them, sends referrals.
    Pathfinder,
    /// Follows referrals and reports across an organisation.
    Coordinator,
    /// Runs the service: reports and operations.
    Admin,
    /// A partner organisation's system: only its own callback route.
    Partner,
}

impl Role {
    /// The role's name as configuration writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Pathfinder => "pathfinder",
            Role::Coordinator => "coordinator",
            Role::Admin => "admin",
            Role::Partner => "partner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pathfinder" => Ok(Role::Pathfinder),
            "coordinator" => Ok(Role::Coordinator),
            "admin" => Ok(Role::Admin),
            "partner" => Ok(Role::Partner),
            other => {
                Err(format!("`{other}` is not a role (pathfinder, coordinator, admin or partner)"))
            }
        }
    }
}

/// One configured key: its id, owner, role and the SHA-256 of the token.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// A short code naming the key (in logs and the audit log), e.g. `cakc-triage-1`.
    pub id: String,
    /// The organisation the key acts for.
    pub organisation: String,
    /// What it may do.
    pub role: Role,
    hash: [u8; 32],
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash is not secret, but there is no reason to spread it through logs either.
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("organisation", &self.organisation)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    /// A key from its configuration: `hash` is `sha256:` and 64 hex digits.
    pub fn new(id: &str, organisation: &str, role: Role, hash: &str) -> Result<Self, DaemonError> {
        let bad = |problem: String| DaemonError::BadKey { id: id.to_string(), problem };
        for (field, value) in [("id", id), ("organisation", organisation)] {
            if !is_code(value) {
                return Err(bad(format!(
                    "`{field}` must be 1 to 128 of `a-z A-Z 0-9 _ . : / -` (it is written to the audit log)"
                )));
            }
        }
        let hash = parse_hash(hash).ok_or_else(|| {
            bad("`hash` must be `sha256:` followed by 64 hex digits; make one with `pathways keys new`".into())
        })?;
        Ok(Self { id: id.to_string(), organisation: organisation.to_string(), role, hash })
    }
}

/// The configured keys, checked together, and the operating organisation (whose admins see
/// every organisation's reports and audit).
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<ApiKey>,
    pub(crate) operator: Option<String>,
}

impl KeyRing {
    /// A ring of `keys`; two keys with one id or one hash are refused.
    pub fn new(keys: Vec<ApiKey>) -> Result<Self, DaemonError> {
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|k| k.id == key.id) {
                return Err(DaemonError::BadKey {
                    id: key.id.clone(),
                    problem: "another key has the same id".into(),
                });
            }
            if keys[..i].iter().any(|k| k.hash == key.hash) {
                return Err(DaemonError::BadKey {
                    id: key.id.clone(),
                    problem:
                        "another key has the same hash: make each key with `pathways keys new`"
                            .into(),
                });
            }
        }
        Ok(Self { keys, operator: None })
    }

    /// The same keys, with `operator` as the organisation that runs the service: its admins
    /// see every organisation's reports and audit entries.
    pub fn with_operator(mut self, operator: Option<String>) -> Self {
        self.operator = operator;
        self
    }

    /// The key whose hash matches `token`, comparing against every key in constant time.
    pub fn verify(&self, token: &str) -> Option<&ApiKey> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.hash.ct_eq(&presented)) {
                found = Some(key);
            }
        }
        found
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none (then every authenticated route answers 401).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A fresh token: 244 random bits from the operating system, prefixed so that secret scanners
/// and people recognise it.
pub fn new_token() -> String {
    format!("pwk_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// The configuration form of a token's hash: `sha256:<64 hex digits>`.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let hex = text.strip_prefix("sha256:")?.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

/// Whether `text` is a code the audit log accepts.
pub fn is_code(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'-'))
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's id.
    pub key_id: String,
    /// The key's organisation.
    pub organisation: String,
    /// The key's role.
    pub role: Role,
    /// The key belongs to the organisation that runs the service.
    pub operator: bool,
}

impl Caller {
    /// An admin of the organisation that runs the service: sees across organisations.
    pub fn is_operator_admin(&self) -> bool {
        self.operator && self.role == Role::Admin
    }

    /// Whether the caller may act for `organisation`'s data as its admin would: an admin of
    /// that organisation, or of the operator.
    pub fn is_admin_for(&self, organisation: &str) -> bool {
        self.role == Role::Admin && (self.organisation == organisation || self.operator)
    }

    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("a `{}` key may not do this; it needs: {}", self.role, allowed.join(", ")),
        ))
    }
}

/// Whether `headers` carry a bearer key this daemon knows (the gate's check, before a request
/// may take a slot; the [`Caller`] extractor then says which, and what it may do).
pub(crate) fn has_known_key(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(bearer_token)
        .is_some_and(|token| state.live().keys.verify(token).is_some())
}

/// The token of an `Authorization: Bearer <token>` header value, if it is one.
fn bearer_token(value: &axum::http::HeaderValue) -> Option<&str> {
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = |message: &str| {
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message.to_string())
        };
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("send `Authorization: Bearer <key>`"))?;
        let token = bearer_token(value)
            .ok_or_else(|| unauthorized("the `Authorization` header must be `Bearer <key>`"))?;
        let keys = state.live().keys.clone();
        let key = keys.verify(token).ok_or_else(|| unauthorized("this key is not known"))?;
        tracing::Span::current().record("key_id", key.id.as_str());
        Ok(Caller {
            key_id: key.id.clone(),
            organisation: key.organisation.clone(),
            role: key.role,
            operator: keys.operator.as_deref() == Some(key.organisation.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_verifies_against_its_hash_and_nothing_else() {
        let token = new_token();
        let key = ApiKey::new("k1", "org-a", Role::Pathfinder, &hash_token(&token)).unwrap();
        let ring = KeyRing::new(vec![key]).unwrap();
        assert_eq!(ring.verify(&token).map(|k| k.id.as_str()), Some("k1"));
        assert!(ring.verify(&new_token()).is_none());
        assert!(ring.verify(&token[..token.len() - 1]).is_none());
        assert_ne!(new_token(), token);
    }

    #[test]
    fn malformed_hashes_and_ids_are_refused_with_the_key_named() {
        let err = ApiKey::new("k1", "org", Role::Admin, "md5:abc").unwrap_err().to_string();
        assert!(err.contains("k1") && err.contains("sha256:"), "{err}");
        let short = format!("sha256:{}", "a".repeat(63));
        assert!(ApiKey::new("k1", "org", Role::Admin, &short).is_err());
        let nonhex = format!("sha256:{}", "g".repeat(64));
        assert!(ApiKey::new("k1", "org", Role::Admin, &nonhex).is_err());
        let ok = hash_token("x");
        assert!(ApiKey::new("a key", "org", Role::Admin, &ok).is_err());
        assert!(ApiKey::new("k", "someone@example.org", Role::Admin, &ok).is_err());
    }

    #[test]
    fn duplicate_ids_or_hashes_are_refused() {
        let h = hash_token("t");
        let a = ApiKey::new("a", "o", Role::Admin, &h).unwrap();
        let b = ApiKey::new("b", "o", Role::Admin, &h).unwrap();
        assert!(KeyRing::new(vec![a.clone(), b]).is_err());
        let c = ApiKey::new("a", "o", Role::Admin, &hash_token("u")).unwrap();
        assert!(KeyRing::new(vec![a, c]).is_err());
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        assert_eq!("coordinator".parse::<Role>(), Ok(Role::Coordinator));
        assert!("Admin".parse::<Role>().is_err());
    }
}
