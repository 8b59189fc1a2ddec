//! `[server]`, `[[api_keys]]` and `[storage]`: how the daemon listens, who may call it, and
//! where it keeps its data.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::Settings;

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address the daemon listens on, e.g. `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes; larger is answered 413.
    pub max_body_bytes: usize,
    /// Longest a request may take, in milliseconds (a plan waits for partners: keep this above
    /// `orchestrator.plan_deadline_ms`); then 503.
    pub request_timeout_ms: u64,
    /// Requests handled at once; more are answered 429 at once, not queued.
    pub max_concurrent_requests: usize,
    /// Longest a client may take to send a request's headers, in milliseconds.
    pub header_read_timeout_ms: u64,
    /// Longest a client may take to send a request's body once its headers are in, in
    /// milliseconds; then 408, and its slot is free again.
    pub body_read_timeout_ms: u64,
    /// On SIGTERM or Ctrl-C, how long requests in flight may take to finish, in milliseconds.
    pub shutdown_grace_ms: u64,
    /// The organisation that runs this service (e.g. the council): its `admin` keys see every
    /// organisation's pathway reports and audit entries. Unset: every admin sees its own
    /// organisation's only.
    pub operator_organisation: Option<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 64 * 1024,
            request_timeout_ms: 30_000,
            max_concurrent_requests: 256,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 10_000,
            shutdown_grace_ms: 20_000,
            operator_organisation: None,
        }
    }
}

impl ServerSettings {
    /// The daemon's limits.
    pub fn limits(&self) -> pathways_daemon::Limits {
        pathways_daemon::Limits {
            max_body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            max_concurrent_requests: self.max_concurrent_requests,
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            body_read_timeout: Duration::from_millis(self.body_read_timeout_ms),
            shutdown_grace: Duration::from_millis(self.shutdown_grace_ms),
        }
    }

    /// Checks what serde cannot; returns the field (under `server.`) and the problem.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        for (name, value) in [
            ("max_body_bytes", self.max_body_bytes as u64),
            ("request_timeout_ms", self.request_timeout_ms),
            ("max_concurrent_requests", self.max_concurrent_requests as u64),
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("body_read_timeout_ms", self.body_read_timeout_ms),
        ] {
            if value == 0 {
                return Err((format!("server.{name}"), "must be more than 0".into()));
            }
        }
        if let Some(org) = &self.operator_organisation {
            if !pathways_daemon::is_code(org) {
                return Err((
                    "server.operator_organisation".into(),
                    "must be an organisation id: 1 to 128 of `a-z A-Z 0-9 _ . : / -`".into(),
                ));
            }
        }
        Ok(())
    }
}

/// One `[[api_keys]]` entry: who a bearer key belongs to, and the SHA-256 of the key. Make one
/// with `pathways keys new --organisation ORG --role ROLE`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// A short name for the key, written to the audit log, e.g. `cakc-triage-1`.
    pub id: String,
    /// The organisation it acts for; equal to a partner id when that partner uses the API.
    pub organisation: String,
    /// `pathfinder`, `coordinator`, `admin` or `partner`.
    pub role: pathways_daemon::Role,
    /// `sha256:` and 64 hex digits: the hash of the key, never the key.
    pub hash: String,
}

impl Settings {
    /// The API keys (already checked by [`Settings::load`]).
    pub fn key_ring(&self) -> Result<pathways_daemon::KeyRing, pathways_daemon::DaemonError> {
        let keys = self
            .api_keys
            .iter()
            .map(|k| pathways_daemon::ApiKey::new(&k.id, &k.organisation, k.role, &k.hash))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(pathways_daemon::KeyRing::new(keys)?
            .with_operator(self.server.operator_organisation.clone()))
    }
}

/// `[storage]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// `sqlite://data/pathways.db` (embedded) or `postgres://user@host/db`.
    pub url: String,
    /// SQLite: the most writes committed together in one transaction (group commit); 1
    /// commits each on its own. Each request is still answered only once its write is
    /// durable. PostgreSQL commits concurrent transactions itself and ignores this.
    pub commit_batch: usize,
    /// A file holding the data keys that seal personal data at rest: one `ID:BASE64` entry per
    /// line (`pathways keys new-data` makes one), the current key first, older keys after it
    /// until `pathways keys rotate-data` has re-sealed what they sealed. Keep it readable by
    /// the daemon's user only, and back it up apart from the database. Relative to the
    /// working directory.
    pub key_file: Option<std::path::PathBuf>,
    /// Or: the environment variable holding the same entries (separated by spaces).
    /// One of `key_file` and `key_env` is required: the daemon will not store personal data
    /// unsealed.
    pub key_env: Option<String>,
}

impl StorageSettings {
    /// Checks what serde cannot; returns the field (under `storage.`) and the problem.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        if self.key_file.is_some() && self.key_env.is_some() {
            return Err((
                "storage.key_env".into(),
                "set either `key_file` or `key_env`, not both".into(),
            ));
        }
        if !(1..=10_000).contains(&self.commit_batch) {
            return Err((
                "storage.commit_batch".into(),
                format!("{} is out of range (1 to 10000)", self.commit_batch),
            ));
        }
        let url = &self.url;
        if !["sqlite://", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            return Err((
                "storage.url".into(),
                format!(
                    "`{url}` is not a storage URL (expected `sqlite://PATH` or `postgres://...`)"
                ),
            ));
        }
        Ok(())
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://data/pathways.db".into(),
            commit_batch: pathways_store::SqliteOptions::default().commit_batch,
            key_file: None,
            key_env: None,
        }
    }
}

impl StorageSettings {
    /// The data keys, read from `key_file` or `key_env`; the error names the field, the file
    /// or variable, and how to make a key (never the key).
    pub fn data_keys(&self) -> Result<pathways_store::DataKeys, (String, String)> {
        let make = "make one with `pathways keys new-data > FILE` (mode 0600) and set \
                    `storage.key_file = \"FILE\"`, or put it in a variable named by `storage.key_env`";
        let (field, text) = match (&self.key_file, &self.key_env) {
            (Some(file), _) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    (
                        "storage.key_file".to_string(),
                        format!("cannot read the data key file `{}`: {e}; {make}", file.display()),
                    )
                })?;
                ("storage.key_file", text)
            }
            (None, Some(var)) => {
                let text = std::env::var(var).map_err(|_| {
                    (
                        "storage.key_env".to_string(),
                        format!("the variable `{var}` is not set; {make}"),
                    )
                })?;
                ("storage.key_env", text)
            }
            (None, None) => {
                return Err((
                    "storage".to_string(),
                    format!(
                        "no data key: personal data is sealed at rest and the daemon will not \
                         store it otherwise; {make}"
                    ),
                ))
            }
        };
        pathways_store::DataKeys::parse(&text).map_err(|e| (field.to_string(), e.to_string()))
    }
}

/// Checks each `[[api_keys]]` entry and that no two share an id or a hash.
pub(super) fn validate_keys(keys: &[ApiKeySettings]) -> Result<(), (String, String)> {
    for (i, key) in keys.iter().enumerate() {
        pathways_daemon::ApiKey::new(&key.id, &key.organisation, key.role, &key.hash)
            .map_err(|e| (format!("api_keys[{i}]"), e.to_string()))?;
        if let Some(first) = keys[..i].iter().position(|k| k.id == key.id || k.hash == key.hash) {
            return Err((
                format!("api_keys[{i}]"),
                format!(
                    "has the same id or hash as api_keys[{first}]; make each key with `pathways keys new`"
                ),
            ));
        }
    }
    Ok(())
}
