//! Sealing personal data at rest: every value that holds a client's details or free text
//! (a case, a plan, a referral's payload, a partner's status note, a dispatch error, a legal
//! hold's reason, a console user's e-mail address and name) is encrypted before it reaches
//! either database, so the database files, their backups and replicas hold no readable
//! personal data.
//!
//! The cipher is XChaCha20-Poly1305 (an AEAD): its 192-bit nonces are drawn at random for
//! every value, which stays safe for any number of values under one key. A sealed value is
//! text, `pws1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>`, so the key that sealed it is
//! named beside it and keys can be rotated: [`DataKeys`] holds the current key (which seals)
//! and older ones (which only open), and the store re-seals old values under the current key
//! in batches (`Store::reseal`).
//!
//! Each value is bound to its place by associated data (e.g. `case:<id>`): a sealed value
//! copied into another row, or another column, fails to open exactly as a tampered one does.
//!
//! Key material is never printed: `Debug` shows key ids only.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

/// The prefix of every sealed value (format version 1).
pub(crate) const PREFIX: &str = "pws1:";
const NONCE_LEN: usize = 24;

/// The data keys: one current key that seals, and any older ones still needed to open values
/// sealed before a rotation. Cheap to clone.
#[derive(Clone)]
pub struct DataKeys {
    current: Arc<DataKey>,
    by_id: Arc<HashMap<String, Arc<DataKey>>>,
}

struct DataKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&str> = self.by_id.keys().map(String::as_str).collect();
        ids.sort_unstable();
        f.debug_struct("DataKeys")
            .field("current", &self.current.id)
            .field("all", &ids)
            .finish_non_exhaustive()
    }
}

/// Why a data key configuration cannot be used. Never quotes key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataKeyError {
    /// No key at all.
    #[error("no data key is given; make one with `pathways keys new-data`")]
    Empty,
    /// An entry is not `ID:BASE64`.
    #[error(
        "data key entry {entry} is not `ID:BASE64-OF-32-BYTES` (the id 1 to 64 of \
         `a-z A-Z 0-9 _ . -`); make one with `pathways keys new-data`"
    )]
    Malformed {
        /// Its position, from 1.
        entry: usize,
    },
    /// An entry's key is not 32 bytes of base64.
    #[error("data key `{id}` is not 32 bytes of base64; make one with `pathways keys new-data`")]
    BadKey {
        /// The key's id.
        id: String,
    },
    /// Two entries share an id.
    #[error("data key id `{id}` is given twice")]
    DuplicateId {
        /// The id.
        id: String,
    },
}

/// Why a sealed value did not open. Never quotes the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Not a sealed value at all (plain text from before sealing, or hand-edited).
    NotSealed,
    /// Sealed under a key that is not configured.
    UnknownKey(String),
    /// The key is known but the value fails authentication: altered, truncated, or moved
    /// from another row.
    Tampered(String),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::NotSealed => {
                f.write_str("it is not sealed (written before sealing, or edited by hand)")
            }
            OpenError::UnknownKey(id) => write!(
                f,
                "it is sealed under data key `{id}`, which is not configured: add that key to \
                 `storage.key_file` (or `storage.key_env`) as an older key"
            ),
            OpenError::Tampered(id) => write!(
                f,
                "it fails authentication under data key `{id}`: it was altered, truncated, or \
                 copied from another row"
            ),
        }
    }
}

fn is_key_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl DataKeys {
    /// Reads keys written as `ID:BASE64` entries, separated by white space or new lines;
    /// `#` starts a comment to the end of its line. The first entry is the current key (it
    /// seals new values); the others only open values sealed before a rotation.
    pub fn parse(text: &str) -> Result<Self, DataKeyError> {
        let mut keys: Vec<Arc<DataKey>> = Vec::new();
        let entries = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or(""))
            .flat_map(str::split_whitespace);
        for (index, entry) in entries.enumerate() {
            let (id, material) =
                entry.split_once(':').ok_or(DataKeyError::Malformed { entry: index + 1 })?;
            if !is_key_id(id) {
                return Err(DataKeyError::Malformed { entry: index + 1 });
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(material)
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| DataKeyError::BadKey { id: id.to_string() })?;
            if keys.iter().any(|k| k.id == id) {
                return Err(DataKeyError::DuplicateId { id: id.to_string() });
            }
            let cipher = XChaCha20Poly1305::new(Key::from_slice(&bytes));
            keys.push(Arc::new(DataKey { id: id.to_string(), cipher }));
        }
        let current = keys.first().cloned().ok_or(DataKeyError::Empty)?;
        let by_id = keys.into_iter().map(|k| (k.id.clone(), k)).collect();
        Ok(Self { current, by_id: Arc::new(by_id) })
    }

    /// A new key entry, `ID:BASE64`, from the operating system's random source; the id says
    /// when it was made.
    pub fn generate_entry() -> String {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let id = format!("dk-{}-{tag}", chrono::Utc::now().format("%Y%m%d"));
        format!("{id}:{}", base64::engine::general_purpose::STANDARD.encode(key))
    }

    /// A fresh random key kept nowhere: for the demo and tests, whose data is thrown away.
    pub fn ephemeral() -> Self {
        Self::parse(&Self::generate_entry())
            .unwrap_or_else(|_| unreachable!("generated keys parse"))
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Every configured key id, current first.
    pub fn ids(&self) -> Vec<String> {
        let mut others: Vec<String> =
            self.by_id.keys().filter(|id| **id != self.current.id).cloned().collect();
        others.sort();
        std::iter::once(self.current.id.clone()).chain(others).collect()
    }

    /// The prefix every value sealed under the current key starts with (for finding the ones
    /// that are not).
    pub(crate) fn current_prefix(&self) -> String {
        format!("{PREFIX}{}:", self.current.id)
    }

    /// Seals `plain` under the current key, bound to `context` (e.g. `case:<id>`). The store
    /// seals what it keeps itself; this is public for tools and the sealing benchmark.
    pub fn seal(&self, plain: &[u8], context: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .current
            .cipher
            .encrypt(&nonce, Payload { msg: plain, aad: context.as_bytes() })
            // Encryption fails only for messages of gigabytes; ours are kilobytes.
            .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 encrypts any realistic length"));
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        format!("{}{}:{}", PREFIX, self.current.id, STANDARD_NO_PAD.encode(bytes))
    }

    /// Opens a value [`seal`](Self::seal) made with the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, OpenError> {
        let rest = sealed.strip_prefix(PREFIX).ok_or(OpenError::NotSealed)?;
        let (id, body) = rest.split_once(':').ok_or(OpenError::NotSealed)?;
        let key = self.by_id.get(id).ok_or_else(|| OpenError::UnknownKey(id.to_string()))?;
        let tampered = || OpenError::Tampered(id.to_string());
        let bytes = STANDARD_NO_PAD.decode(body).map_err(|_| tampered())?;
        if bytes.len() < NONCE_LEN {
            return Err(tampered());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        key.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload { msg: ciphertext, aad: context.as_bytes() },
            )
            .map_err(|_| tampered())
    }

    /// Opens a sealed value, or passes through one written before sealing (plain text), as
    /// the re-sealing pass needs.
    pub(crate) fn open_or_plain(&self, stored: &str, context: &str) -> Result<Vec<u8>, OpenError> {
        if stored.starts_with(PREFIX) {
            self.open(stored, context)
        } else {
            Ok(stored.as_bytes().to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_in_its_own_place() {
        let keys = DataKeys::ephemeral();
        let sealed = keys.seal(b"Daniel Okafor", "case:abc");
        assert!(sealed.starts_with(&keys.current_prefix()), "{sealed}");
        assert!(!sealed.contains("Daniel"));
        assert_eq!(keys.open(&sealed, "case:abc").unwrap(), b"Daniel Okafor");
        assert_eq!(
            keys.open(&sealed, "case:xyz"),
            Err(OpenError::Tampered(keys.current_id().to_string())),
            "moved to another row"
        );
    }

    #[test]
    fn the_same_value_seals_differently_each_time() {
        let keys = DataKeys::ephemeral();
        assert_ne!(keys.seal(b"same", "c"), keys.seal(b"same", "c"));
    }

    #[test]
    fn a_flipped_bit_is_detected() {
        let keys = DataKeys::ephemeral();
        let sealed = keys.seal(b"notes about a child", "plan:1");
        let mut chars: Vec<char> = sealed.chars().collect();
        let last = chars.len() - 3;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let altered: String = chars.into_iter().collect();
        assert!(matches!(keys.open(&altered, "plan:1"), Err(OpenError::Tampered(_))));
    }

    #[test]
    fn older_keys_open_and_only_the_current_one_seals() {
        let old = DataKeys::generate_entry();
        let new = DataKeys::generate_entry();
        let before = DataKeys::parse(&old).unwrap();
        let sealed_before = before.seal(b"x", "c");
        let rotated = DataKeys::parse(&format!("{new}\n# kept until re-sealed\n{old}\n")).unwrap();
        assert_eq!(rotated.open(&sealed_before, "c").unwrap(), b"x");
        assert!(rotated.seal(b"y", "c").starts_with(&rotated.current_prefix()));
        assert_eq!(rotated.ids().len(), 2);
        let only_new = DataKeys::parse(&new).unwrap();
        let err = only_new.open(&sealed_before, "c").unwrap_err();
        assert!(matches!(err, OpenError::UnknownKey(_)));
        assert!(err.to_string().contains("storage.key_file"), "{err}");
    }

    #[test]
    fn bad_key_text_is_refused_without_quoting_it() {
        assert_eq!(DataKeys::parse("  # nothing\n").unwrap_err(), DataKeyError::Empty);
        assert_eq!(
            DataKeys::parse("no-colon-here").unwrap_err(),
            DataKeyError::Malformed { entry: 1 }
        );
        let short = DataKeys::parse("k1:c2VjcmV0").unwrap_err();
        assert_eq!(short, DataKeyError::BadKey { id: "k1".into() });
        assert!(!short.to_string().contains("c2VjcmV0"));
        let one = DataKeys::generate_entry();
        assert!(matches!(
            DataKeys::parse(&format!("{one} {one}")).unwrap_err(),
            DataKeyError::DuplicateId { .. }
        ));
        let debug = format!("{:?}", DataKeys::parse(&one).unwrap());
        assert!(!debug.contains(one.split_once(':').unwrap().1), "{debug}");
    }

    #[test]
    fn plain_text_is_recognised_as_not_sealed() {
        let keys = DataKeys::ephemeral();
        assert_eq!(keys.open("{\"reference\":\"x\"}", "c"), Err(OpenError::NotSealed));
        assert_eq!(keys.open_or_plain("{}", "c").unwrap(), b"{}");
    }
}
