//! Passwords: Argon2id with OWASP's parameters, hashed and checked off the async threads (a
//! hash takes tens of milliseconds on purpose).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 12;
/// The longest (Argon2 takes any length; this bounds the work a sign-in form can ask for).
pub const MAX_LENGTH: usize = 256;

fn hasher() -> Argon2<'static> {
    // OWASP's first recommendation for Argon2id: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password` with a fresh salt.
pub async fn hash(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Whether `password` matches `stored` (a PHC string). Without a stored hash a dummy one is
/// checked, so an unknown account takes as long to refuse as a wrong password.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let dummy = DUMMY.get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            hasher()
                .hash_password(b"not a password anyone has", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        });
        let (phc, real) = match &stored {
            Some(phc) => (phc.as_str(), true),
            None => (dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else { return false };
        hasher().verify_password(password.as_bytes(), &parsed).is_ok() && real
    })
    .await
    .unwrap_or(false)
}

static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Why a new password is refused, in words for the form, or `None` when it is fine.
pub fn weakness(password: &str, confirm: &str) -> Option<&'static str> {
    if password.chars().count() < MIN_LENGTH {
        Some("Password must be 12 characters or more")
    } else if password.len() > MAX_LENGTH {
        Some("Password must be 256 characters or fewer")
    } else if password != confirm {
        Some("Passwords must match")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let phc = hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery".into(), Some(phc.clone())).await);
        assert!(!verify("correct horse batterY".into(), Some(phc)).await);
        assert!(!verify("not a password anyone has".into(), None).await);
    }

    #[test]
    fn weak_and_mismatched_passwords_are_named() {
        assert_eq!(weakness("short", "short"), Some("Password must be 12 characters or more"));
        assert_eq!(weakness("long enough pass", "long enough pasS"), Some("Passwords must match"));
        assert_eq!(weakness("long enough pass", "long enough pass"), None);
    }
}
