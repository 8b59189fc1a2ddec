//! Standard Webhooks signing: `v1,` then the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`
//! under the key a `whsec_` secret carries.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret; the rest is the base64 of the signing key.
const SECRET_PREFIX: &str = "whsec_";

/// A signing key decoded from a `whsec_<base64>` secret.
#[derive(Clone)]
pub(crate) struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A key in a log is a key anyone reading the log can forge events with.
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Decodes `secret`; on error, what is wrong with it (never the secret itself).
    pub(crate) fn from_secret(secret: &str) -> Result<Self, String> {
        let encoded = secret
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| format!("a webhook secret starts with `{SECRET_PREFIX}`"))?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| format!("the part after `{SECRET_PREFIX}` is not valid base64"))?;
        if key.is_empty() {
            return Err("the webhook secret's key is empty".into());
        }
        Ok(Self(key))
    }

    /// The `webhook-signature` header value for a message.
    pub(crate) fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            unreachable!("HMAC takes a key of any length");
        };
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_standard_webhooks_reference_example() {
        // The example from the Standard Webhooks specification's reference implementations.
        let key = SigningKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_without_the_prefix_or_base64_are_refused_without_quoting_them() {
        let err = SigningKey::from_secret("MfKQ9r8GKYqrTwjU").unwrap_err();
        assert!(err.contains("whsec_"), "{err}");
        let err = SigningKey::from_secret("whsec_not*base64!").unwrap_err();
        assert!(err.contains("base64") && !err.contains("not*base64"), "{err}");
        assert!(SigningKey::from_secret("whsec_").is_err());
    }
}
