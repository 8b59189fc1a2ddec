//! The council connector's settings: the `[partners.settings]` table of a council partner.
//!
//! The doc comments on the fields are the user documentation: they become the settings schema
//! that `pathways plugins check` and `pathways config check` show.

use std::collections::BTreeMap;

use pathways_sdk::connector::{self, HttpSettings as _};
use pathways_sdk::NeedCode;
use schemars::JsonSchema;
use serde::Deserialize;

/// Settings of a council partner: its Open Referral UK (HSDS 3) service directory and its
/// Open311 GeoReport v2 endpoint for service requests.
///
/// ```toml
/// [partners.settings]
/// base_url = "http://127.0.0.1:9104"
/// jurisdiction_id = "E06000051"
/// proximity_m = 30000
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Base URL of the council's APIs, which serves the HSDS directory under `/hsds` and Open311
    /// GeoReport v2 under `/open311/v2`, unless `directory_url` or `open311_url` says
    /// otherwise. Example: `http://127.0.0.1:9104` (the sandbox).
    pub base_url: String,

    /// Base URL of the HSDS 3 directory when it is not `{base_url}/hsds`, e.g.
    /// `https://directory.council.example/api/v1` (the URL `/services` is appended to).
    #[serde(default)]
    pub directory_url: Option<String>,

    /// Base URL of the Open311 GeoReport v2 endpoint when it is not `{base_url}/open311/v2`
    /// (the URL `/requests.json` is appended to).
    #[serde(default)]
    pub open311_url: Option<String>,

    /// GeoReport `jurisdiction_id` sent with every Open311 call, for an endpoint that serves
    /// several councils; usually the council's ONS code, e.g. `E06000051`. Leave it out for an
    /// endpoint that serves one council.
    #[serde(default)]
    pub jurisdiction_id: Option<String>,

    /// Name of the environment variable holding the Open311 API key (sent as the GeoReport
    /// `api_key` form field of each service request). Read once when the partner is loaded;
    /// loading fails if the variable is named but unset. Never put the key itself here.
    #[serde(default)]
    pub api_key_env: Option<String>,

    /// Deadline for one HTTP request to the council, including reading its answer, in
    /// milliseconds.
    #[serde(default = "connector::default_timeout_ms")]
    pub timeout_ms: u64,

    /// Deadline for opening a connection to the council, in milliseconds.
    #[serde(default = "connector::default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,

    /// Services with a venue farther than this from the client's postcode district (straight
    /// line, in metres) are not offered; services delivered by phone, online or at home are
    /// offered wherever their service area covers the client. 16 000 m is about 10 miles.
    #[serde(default = "default_proximity_m")]
    pub proximity_m: u32,

    /// Services asked for per directory page (1 to 100). The directory may return fewer; every
    /// page is read until the last.
    #[serde(default = "default_per_page")]
    pub per_page: u32,

    /// Most directory pages read for one taxonomy term (1 to 100): a guard against a directory
    /// whose pages never end. Services beyond it are left out, with a warning in the log.
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,

    /// Capacity figures older than this many days (by their `updated` date) are not trusted:
    /// the service is offered with `unknown` capacity.
    #[serde(default = "default_capacity_max_age_days")]
    pub capacity_max_age_days: u32,

    /// Replaces the taxonomy terms searched for a need, for a directory that tags services
    /// with other terms than the built-in table (see the connector's documentation). Keys are
    /// need codes the connector serves; values are taxonomy term ids, e.g.
    /// `social_isolation = ["esdNeed:69", "esdServiceType:23"]`.
    #[serde(default)]
    pub taxonomy_terms: BTreeMap<String, Vec<String>>,
}

fn default_proximity_m() -> u32 {
    16_000
}

fn default_per_page() -> u32 {
    25
}

fn default_max_pages() -> u32 {
    10
}

fn default_capacity_max_age_days() -> u32 {
    14
}

impl Settings {
    /// Settings for `base_url` with every default.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            directory_url: None,
            open311_url: None,
            jurisdiction_id: None,
            api_key_env: None,
            timeout_ms: connector::DEFAULT_TIMEOUT_MS,
            connect_timeout_ms: connector::DEFAULT_CONNECT_TIMEOUT_MS,
            proximity_m: default_proximity_m(),
            per_page: default_per_page(),
            max_pages: default_max_pages(),
            capacity_max_age_days: default_capacity_max_age_days(),
            taxonomy_terms: BTreeMap::new(),
        }
    }

    /// Checks what the types cannot; the error names the setting and says what is allowed.
    /// `served` are the needs the connector serves (the keys `taxonomy_terms` may use).
    pub fn validate(&self, served: &[NeedCode]) -> Result<(), String> {
        self.validate_timeouts()?;
        if self.proximity_m == 0 {
            return Err("settings key `proximity_m`: must be at least 1".into());
        }
        for (key, value) in [("per_page", self.per_page), ("max_pages", self.max_pages)] {
            if !(1..=100).contains(&value) {
                return Err(format!("settings key `{key}`: is {value}; must be 1 to 100"));
            }
        }
        if self.jurisdiction_id.as_deref().is_some_and(|j| j.trim().is_empty()) {
            return Err(
                "settings key `jurisdiction_id`: must not be empty; leave it out instead".into()
            );
        }
        for (need, terms) in &self.taxonomy_terms {
            let known = served.iter().any(|n| n.as_str() == need);
            if !known {
                let names: Vec<&str> = served.iter().map(|n| n.as_str()).collect();
                return Err(format!(
                    "settings key `taxonomy_terms.{need}`: not a need this connector serves ({})",
                    names.join(", ")
                ));
            }
            if terms.is_empty() || terms.iter().any(|t| t.trim().is_empty()) {
                return Err(format!(
                    "settings key `taxonomy_terms.{need}`: give one or more non-empty term ids"
                ));
            }
        }
        Ok(())
    }

    /// The HSDS directory's base URL.
    pub fn directory_base(&self) -> String {
        self.directory_url
            .clone()
            .unwrap_or_else(|| format!("{}/hsds", self.base_url.trim_end_matches('/')))
    }

    /// The Open311 endpoint's base URL.
    pub fn open311_base(&self) -> String {
        self.open311_url
            .clone()
            .unwrap_or_else(|| format!("{}/open311/v2", self.base_url.trim_end_matches('/')))
    }
}

pathways_sdk::http_settings!(Settings, "the Open311 API key");
