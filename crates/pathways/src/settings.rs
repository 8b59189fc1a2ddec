//! The configuration file (CONTRACT.md, "Configuration"): read with the `config` crate from a
//! TOML file, then `PATHWAYS__SECTION__KEY` environment overrides, strictly.
//!
//! These structs, with their doc comments, are the reference for every key. An unknown or
//! misspelt key is an error, never ignored, and every error names the file (or the environment
//! variable), the field and the problem, e.g.
//! `config/pathways.toml: at \`partners[1].areas[0]\`: \`Kensington\` is not an ONS local authority code ...`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use pathways_core::is_ons_local_authority;
use pathways_orchestrator::{BreakerPolicy, LeadRule, OrchestratorSettings};
use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The daemon's HTTP listener.
    #[serde(default)]
    pub server: ServerSettings,
    /// Where cases, plans and referrals are kept.
    #[serde(default)]
    pub storage: StorageSettings,
    /// How planning waits for partners, protects itself from them, and chooses a lead.
    #[serde(default)]
    pub orchestrator: OrchestratorSection,
    /// Where plugin libraries are found.
    #[serde(default)]
    pub plugins: PluginsSettings,
    /// The partners, each one plugin instance with its own settings.
    #[serde(default)]
    pub partners: Vec<PartnerSettings>,
    /// The daemon's API keys: hashes only, never the keys themselves.
    #[serde(default)]
    pub api_keys: Vec<ApiKeySettings>,
    /// How referrals are sent and followed.
    #[serde(default)]
    pub dispatch: DispatchSection,
}

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
    /// On SIGTERM or Ctrl-C, how long requests in flight may take to finish, in milliseconds.
    pub shutdown_grace_ms: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 64 * 1024,
            request_timeout_ms: 30_000,
            max_concurrent_requests: 256,
            header_read_timeout_ms: 10_000,
            shutdown_grace_ms: 20_000,
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
            shutdown_grace: Duration::from_millis(self.shutdown_grace_ms),
        }
    }

    /// Checks what serde cannot; returns the field (under `server.`) and the problem.
    fn validate(&self) -> Result<(), (String, String)> {
        for (name, value) in [
            ("max_body_bytes", self.max_body_bytes as u64),
            ("request_timeout_ms", self.request_timeout_ms),
            ("max_concurrent_requests", self.max_concurrent_requests as u64),
            ("header_read_timeout_ms", self.header_read_timeout_ms),
        ] {
            if value == 0 {
                return Err((format!("server.{name}"), "must be more than 0".into()));
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
        pathways_daemon::KeyRing::new(keys)
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
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://data/pathways.db".into(),
            commit_batch: pathways_store::SqliteOptions::default().commit_batch,
        }
    }
}

/// `[orchestrator]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrchestratorSection {
    /// After this many milliseconds a plan is built from whatever partners have answered.
    pub plan_deadline_ms: u64,
    /// The longest one partner's availability answer may take, in milliseconds.
    pub partner_timeout_ms: u64,
    /// Calls in flight to one partner at once, across all plans; more are not queued but
    /// reported `skipped` ("partner busy"), so a slow partner cannot hold up every plan.
    pub partner_concurrency: usize,
    /// Failed or timed-out calls in a row after which a partner's circuit opens: it is then
    /// reported `circuit_open` without being asked. 0 turns the breaker off.
    pub breaker_failures: u32,
    /// How long an open circuit stays open before one trial call is let through, in
    /// milliseconds.
    pub breaker_cooldown_ms: u64,
    /// Who leads a plan, tried in order; when none applies the referring organisation leads.
    /// Default: a domestic-abuse service leads when that need is referred.
    pub lead_rules: Vec<LeadRule>,
    /// A TOML file of national signposts replacing the built-in ones per need (optional).
    pub signposts: Option<PathBuf>,
}

impl Default for OrchestratorSection {
    fn default() -> Self {
        let defaults = OrchestratorSettings::default();
        Self {
            plan_deadline_ms: 2000,
            partner_timeout_ms: 1500,
            partner_concurrency: defaults.partner_concurrency,
            breaker_failures: defaults.breaker.failures,
            breaker_cooldown_ms: u64::try_from(defaults.breaker.cooldown.as_millis())
                .unwrap_or(u64::MAX),
            lead_rules: LeadRule::defaults(),
            signposts: None,
        }
    }
}

impl OrchestratorSection {
    /// The orchestrator's settings.
    pub fn to_settings(&self) -> OrchestratorSettings {
        OrchestratorSettings {
            plan_deadline: Duration::from_millis(self.plan_deadline_ms),
            partner_timeout: Duration::from_millis(self.partner_timeout_ms),
            partner_concurrency: self.partner_concurrency,
            breaker: BreakerPolicy {
                failures: self.breaker_failures,
                cooldown: Duration::from_millis(self.breaker_cooldown_ms),
            },
        }
    }

    /// Checks what serde cannot; returns the field (under `orchestrator.`) and the problem.
    fn validate(&self) -> Result<(), (String, String)> {
        let at = |key: &str| format!("orchestrator.{key}");
        for (name, value) in [
            ("plan_deadline_ms", self.plan_deadline_ms),
            ("partner_timeout_ms", self.partner_timeout_ms),
        ] {
            if value == 0 {
                return Err((at(name), "must be more than 0 milliseconds".into()));
            }
        }
        if !(1..=MAX_PARTNER_CONCURRENCY).contains(&self.partner_concurrency) {
            return Err((
                at("partner_concurrency"),
                format!(
                    "is {}; it must be between 1 and {MAX_PARTNER_CONCURRENCY} calls in flight per partner",
                    self.partner_concurrency
                ),
            ));
        }
        if self.breaker_failures > 0 && self.breaker_cooldown_ms == 0 {
            return Err((
                at("breaker_cooldown_ms"),
                "must be more than 0 milliseconds while the breaker is on (set `breaker_failures = 0` to turn it off)".into(),
            ));
        }
        for (i, rule) in self.lead_rules.iter().enumerate() {
            if rule.because.as_deref().is_some_and(|b| b.trim().is_empty()) {
                return Err((
                    format!("orchestrator.lead_rules[{i}].because"),
                    "must not be empty; leave it out to use the default wording".into(),
                ));
            }
        }
        Ok(())
    }
}

/// More calls than this in flight to one partner is a typo, not a bulkhead.
const MAX_PARTNER_CONCURRENCY: usize = 10_000;

/// `[plugins]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsSettings {
    /// Folder where `lib<plugin>.so` (or `libpathways_plugin_<plugin>.so`) is looked up;
    /// relative to the working directory.
    pub dir: PathBuf,
}

impl Default for PluginsSettings {
    fn default() -> Self {
        Self { dir: PathBuf::from("target/release") }
    }
}

/// One `[[partners]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerSettings {
    /// Stable id used in plans and the API: lower-case letters, digits, `-` and `_`.
    pub id: String,
    /// Which plugin library, e.g. `foodbank`, or a path to one.
    pub plugin: String,
    /// Whether the partner is asked at all.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// ONS local authority codes it serves; empty defers to the plugin's manifest.
    #[serde(default)]
    pub areas: Vec<String>,
    /// Handed to the plugin as JSON; the plugin validates it and names any bad key.
    #[serde(default = "empty_table")]
    pub settings: serde_json::Value,
    /// The environment variable holding the partner's callback signing secret
    /// (`whsec_<base64>`, Standard Webhooks); without it the partner cannot call back.
    #[serde(default)]
    pub webhook_secret_env: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

fn empty_table() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// A configuration that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {}{problem}", if field.is_empty() { String::new() } else { format!("at `{field}`: ") })]
pub struct SettingsError {
    /// The file, or the environment variable that set the field.
    pub source_name: String,
    /// The field, e.g. `partners[0].areas[1]`; empty for the whole file.
    pub field: String,
    /// What is wrong and what is expected.
    pub problem: String,
}

/// The environment variables that override the file.
const ENV_PREFIX: &str = "PATHWAYS";
const ENV_SEPARATOR: &str = "__";

impl Settings {
    /// Reads `file`, applies environment overrides, and validates the result.
    pub fn load(file: &Path) -> Result<Self, SettingsError> {
        Self::load_with_env(file, std::env::vars().collect())
    }

    fn load_with_env(file: &Path, env: HashMap<String, String>) -> Result<Self, SettingsError> {
        let file_name = file.display().to_string();
        let at_file = |field: String, problem: String| SettingsError {
            source_name: file_name.clone(),
            field,
            problem,
        };
        if let Err(e) = std::fs::metadata(file) {
            return Err(at_file(
                String::new(),
                format!("cannot read the configuration file: {e} (pass --config FILE or set PATHWAYS_CONFIG)"),
            ));
        }
        let config = Config::builder()
            .add_source(File::from(file).format(FileFormat::Toml))
            .add_source(
                Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator(ENV_SEPARATOR)
                    .separator(ENV_SEPARATOR)
                    .try_parsing(true)
                    .source(Some(env.clone().into_iter().collect())),
            )
            .build()
            .map_err(|e| at_file(String::new(), e.to_string()))?;
        let settings: Settings = serde_path_to_error::deserialize(config).map_err(|e| {
            let field = e.path().to_string();
            let problem = e.into_inner().to_string();
            blame(&file_name, &env, if field == "." { String::new() } else { field }, problem)
        })?;
        settings.validate().map_err(|(field, problem)| blame(&file_name, &env, field, problem))?;
        Ok(settings)
    }

    /// Checks what serde cannot; returns the field and the problem.
    fn validate(&self) -> Result<(), (String, String)> {
        self.orchestrator.validate()?;
        self.dispatch.validate()?;
        self.server.validate()?;
        for (i, key) in self.api_keys.iter().enumerate() {
            pathways_daemon::ApiKey::new(&key.id, &key.organisation, key.role, &key.hash)
                .map_err(|e| (format!("api_keys[{i}]"), e.to_string()))?;
            if let Some(first) =
                self.api_keys[..i].iter().position(|k| k.id == key.id || k.hash == key.hash)
            {
                return Err((
                    format!("api_keys[{i}]"),
                    format!("has the same id or hash as api_keys[{first}]; make each key with `pathways keys new`"),
                ));
            }
        }
        if !(1..=10_000).contains(&self.storage.commit_batch) {
            return Err((
                "storage.commit_batch".into(),
                format!("{} is out of range (1 to 10000)", self.storage.commit_batch),
            ));
        }
        let url = &self.storage.url;
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
        for (i, partner) in self.partners.iter().enumerate() {
            let at = |key: &str| format!("partners[{i}].{key}");
            if !is_partner_id(&partner.id) {
                return Err((
                    at("id"),
                    format!(
                        "`{}` is not a partner id (lower-case letters, digits, `-` and `_`, starting with a letter or digit)",
                        partner.id
                    ),
                ));
            }
            if let Some(first) = self.partners[..i].iter().position(|p| p.id == partner.id) {
                return Err((
                    at("id"),
                    format!("`{}` is already the id of partners[{first}]; each partner needs its own id", partner.id),
                ));
            }
            if partner.plugin.trim().is_empty() {
                return Err((at("plugin"), "must name a plugin, e.g. `foodbank`".into()));
            }
            if let Some(j) = partner.areas.iter().position(|a| !is_ons_local_authority(a)) {
                return Err((
                    format!("partners[{i}].areas[{j}]"),
                    format!(
                        "`{}` is not an ONS local authority code (a letter E, W, S or N and 8 digits, e.g. `E09000020`)",
                        partner.areas[j]
                    ),
                ));
            }
            if !partner.settings.is_object() {
                return Err((at("settings"), "must be a table of the plugin's settings".into()));
            }
        }
        Ok(())
    }

    /// The enabled partners with their index in `partners` (for error messages).
    pub fn enabled_partners(&self) -> impl Iterator<Item = (usize, &PartnerSettings)> {
        self.partners.iter().enumerate().filter(|(_, p)| p.enabled)
    }
}

/// Names the environment variable when one set `field`, else the file.
fn blame(
    file: &str,
    env: &HashMap<String, String>,
    field: String,
    problem: String,
) -> SettingsError {
    let var =
        format!("{ENV_PREFIX}{ENV_SEPARATOR}{}", field.replace('.', ENV_SEPARATOR).to_uppercase());
    let source_name = if !field.is_empty() && env.contains_key(&var) {
        format!("environment variable {var}")
    } else {
        file.to_string()
    };
    SettingsError { source_name, field, problem }
}

fn is_partner_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

mod dispatch;

pub use dispatch::DispatchSection;

#[cfg(test)]
mod tests;
