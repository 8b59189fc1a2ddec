//! The food bank connector's settings: the `[partners.settings]` table of a food bank partner.
//!
//! The doc comments on the fields are the user documentation: they become the settings schema
//! that `pathways plugins check` and `pathways config check` show.

use pathways_sdk::connector::{self, HttpSettings as _};
use schemars::JsonSchema;
use serde::Deserialize;

/// Settings of a food bank partner.
///
/// ```toml
/// [partners.settings]
/// base_url = "http://127.0.0.1:9101"
/// api_key_env = "FOODBANK_API_KEY"
/// max_distance_m = 16000
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Base URL of the food bank network's API, which serves the e-voucher API under
    /// `/evoucher/v1/` and, unless `directory_url` is set, the Give Food v2 directory under
    /// `/api/2/`. Example: `http://127.0.0.1:9101` (the sandbox).
    pub base_url: String,

    /// Base URL of a Give Food API v2 directory served apart from `base_url`, e.g.
    /// `https://www.givefood.org.uk`. Leave it out when `base_url` serves the directory too.
    #[serde(default)]
    pub directory_url: Option<String>,

    /// Name of the environment variable holding the e-voucher API key (sent as a bearer token).
    /// Read once when the partner is loaded; loading fails if the variable is named but unset.
    /// Leave it out for an API without keys. Never put the key itself in the configuration.
    #[serde(default)]
    pub api_key_env: Option<String>,

    /// Deadline for one HTTP request to the partner, including reading its answer, in
    /// milliseconds.
    #[serde(default = "connector::default_timeout_ms")]
    pub timeout_ms: u64,

    /// Deadline for opening a connection to the partner, in milliseconds.
    #[serde(default = "connector::default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,

    /// Food banks farther than this from the client's postcode district (straight line, in
    /// metres) are not offered. 16 000 m is about 10 miles: a bus ride in a town, a drive in
    /// the country.
    #[serde(default = "default_max_distance_m")]
    pub max_distance_m: u32,

    /// Most food banks offered for one query, nearest first (1 to 10; the directory returns
    /// at most 10).
    #[serde(default = "default_max_results")]
    pub max_results: usize,
}

fn default_max_distance_m() -> u32 {
    16_000
}

fn default_max_results() -> usize {
    5
}

impl Settings {
    /// Settings for `base_url` with every default.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            directory_url: None,
            api_key_env: None,
            timeout_ms: connector::DEFAULT_TIMEOUT_MS,
            connect_timeout_ms: connector::DEFAULT_CONNECT_TIMEOUT_MS,
            max_distance_m: default_max_distance_m(),
            max_results: default_max_results(),
        }
    }

    /// Checks what the types cannot; the error names the setting and says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_timeouts()?;
        if self.max_distance_m == 0 {
            return Err("settings key `max_distance_m`: must be at least 1".into());
        }
        if !(1..=10).contains(&self.max_results) {
            return Err(format!(
                "settings key `max_results`: is {}; must be 1 to 10",
                self.max_results
            ));
        }
        Ok(())
    }
}

pathways_sdk::http_settings!(Settings, "the e-voucher API key");
