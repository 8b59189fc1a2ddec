//! Standard Webhooks signature verification: `webhook-id`, `webhook-timestamp` (unix
//! seconds) and `webhook-signature` (space-separated `v1,<base64 HMAC-SHA256>` of
//! `"{id}.{timestamp}.{body}"`), with a 5-minute tolerance either way.
//!
//! Signatures are compared in constant time; every listed `v1` signature is tried, so a
//! partner can roll its secret by signing with the old and the new key for a while.
//!
//! A crate of its own, with four small dependencies, so that its fuzz target (`fuzz/`) builds
//! in seconds rather than with the whole daemon. The daemon re-exports it.
//!
//! Not the `standardwebhooks` crate (the specification's reference library, 1.0.1), which is
//! only a dev-dependency here, for tests that each side verifies the other's signatures. As a
//! verifier it reads the clock itself (no `now` to pass in tests), takes an `http::HeaderMap`,
//! accepts an empty id and an empty key, signs only UTF-8 bodies, and subtracts the timestamp
//! unchecked (a `webhook-timestamp` of `i64::MIN` panics with overflow checks on, as the fuzz
//! build has them, and passes the tolerance check without).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a callback's timestamp may be from our clock, in seconds.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// A partner's signing secret, configured as `whsec_<base64 key>`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// Reads `whsec_<base64>` (the prefix is optional); `None` when it is not base64 or empty.
    pub fn parse(text: &str) -> Option<Self> {
        let encoded = text.trim().strip_prefix("whsec_").unwrap_or(text.trim());
        let key = STANDARD.decode(encoded).ok()?;
        (!key.is_empty()).then_some(Self(key))
    }

    /// The `v1,<base64>` signature of one message (what a partner sends).
    pub fn sign(&self, id: &str, timestamp: &str, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) else {
            return Vec::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

/// Why a callback was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required header is absent or not text.
    #[error("the `{0}` header is missing or unreadable")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a number of seconds.
    #[error("`webhook-timestamp` is not unix seconds")]
    BadTimestamp,
    /// The timestamp is more than five minutes away from now.
    #[error("`webhook-timestamp` is more than 5 minutes from the server's clock")]
    Stale,
    /// No listed signature matches.
    #[error("no `v1` signature in `webhook-signature` matches")]
    BadSignature,
}

/// Checks one callback: the timestamp is within tolerance of `now` (unix seconds) and one of
/// the signatures matches.
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    if id.is_empty() {
        return Err(VerifyError::MissingHeader("webhook-id"));
    }
    let at: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    if at.abs_diff(now) > TOLERANCE_SECS.unsigned_abs() {
        return Err(VerifyError::Stale);
    }
    let expected = secret.mac(id, timestamp, body);
    let mut matched = false;
    for candidate in signatures.split_whitespace() {
        let Some(encoded) = candidate.strip_prefix("v1,") else { continue };
        if let Ok(given) = STANDARD.decode(encoded) {
            matched |= bool::from(given.ct_eq(&expected)) && !expected.is_empty();
        }
    }
    if matched {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> WebhookSecret {
        WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
    }

    #[test]
    fn the_standard_webhooks_reference_vector_verifies() {
        // From the Standard Webhooks specification's examples.
        let body = br#"{"test": 2432232314}"#;
        let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(secret().sign("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body), sig);
        let ok =
            verify(&secret(), "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", sig, body, 1614265330);
        assert_eq!(ok, Ok(()));
    }

    #[test]
    fn tampering_staleness_and_junk_are_refused() {
        let body = b"{}";
        let sig = secret().sign("id-1", "1000", body);
        assert_eq!(
            verify(&secret(), "id-1", "1000", &sig, b"{ }", 1000),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(&secret(), "id-2", "1000", &sig, body, 1000),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(verify(&secret(), "id-1", "1000", &sig, body, 1301), Err(VerifyError::Stale));
        assert_eq!(verify(&secret(), "id-1", "1000", &sig, body, 1300), Ok(()));
        assert_eq!(
            verify(&secret(), "id-1", "x", &sig, body, 1000),
            Err(VerifyError::BadTimestamp)
        );
        let rolled = format!("v1,AAAA v1a,zz {sig}");
        assert_eq!(verify(&secret(), "id-1", "1000", &rolled, body, 1000), Ok(()));
        assert!(WebhookSecret::parse("whsec_!!!").is_none());
    }
}
