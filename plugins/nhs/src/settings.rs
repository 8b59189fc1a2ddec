//! The NHS connector's settings: the `[partners.settings]` table of an NHS partner.
//!
//! The doc comments on the fields are the user documentation: they become the settings schema
//! that `pathways plugins check` and `pathways config check` show.

use pathways_sdk::connector::{self, HttpSettings as _};
use schemars::JsonSchema;
use serde::Deserialize;

/// Settings of an NHS partner: a FHIR R4 server that lists services (HealthcareService) and
/// takes BaRS referrals (`$process-message`).
///
/// ```toml
/// [partners.settings]
/// base_url = "http://127.0.0.1:9102"
/// source_endpoint = "http://fhir.nhs.uk/Id/dos-service-id|2222222222"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Base URL of the FHIR R4 API: `HealthcareService`, `$process-message`, `Task`,
    /// `ServiceRequest` and `metadata` are found under it. Example: `http://127.0.0.1:9102` (the
    /// sandbox).
    pub base_url: String,

    /// Name of the environment variable holding the bearer token for the API (the BaRS
    /// gateway's access token). Read once when the partner is loaded; loading fails if the
    /// variable is named but unset. Leave it out for an API without tokens. Never put the
    /// token itself in the configuration.
    #[serde(default)]
    pub api_key_env: Option<String>,

    /// Deadline for one HTTP request, including reading its answer, in milliseconds.
    #[serde(default = "connector::default_timeout_ms")]
    pub timeout_ms: u64,

    /// Deadline for opening a connection, in milliseconds.
    #[serde(default = "connector::default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,

    /// Identifier system of the services' BaRS endpoints. A HealthcareService is offered only
    /// if it has an identifier in this system; its value becomes the offer's service id and,
    /// on referral, the `NHSD-Target-Identifier` header and `MessageHeader.destination`.
    #[serde(default = "default_target_identifier_system")]
    pub target_identifier_system: String,

    /// This sender's own endpoint on the BaRS Endpoint Catalogue, sent as
    /// `MessageHeader.source.endpoint` so that the receiver can answer asynchronously, e.g.
    /// `http://fhir.nhs.uk/Id/dos-service-id|2222222222`.
    #[serde(default = "default_source_endpoint")]
    pub source_endpoint: String,

    /// Most services offered for one need, in the directory's order (1 to 20).
    #[serde(default = "default_max_offers_per_need")]
    pub max_offers_per_need: usize,
}

fn default_target_identifier_system() -> String {
    "http://fhir.nhs.uk/Id/dos-service-id".into()
}

fn default_source_endpoint() -> String {
    "urn:pathways:referrer".into()
}

fn default_max_offers_per_need() -> usize {
    5
}

impl Settings {
    /// Settings for `base_url` with every default.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key_env: None,
            timeout_ms: connector::DEFAULT_TIMEOUT_MS,
            connect_timeout_ms: connector::DEFAULT_CONNECT_TIMEOUT_MS,
            target_identifier_system: default_target_identifier_system(),
            source_endpoint: default_source_endpoint(),
            max_offers_per_need: default_max_offers_per_need(),
        }
    }

    /// Checks what the types cannot; the error names the setting and says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_timeouts()?;
        for (key, value) in [
            ("target_identifier_system", &self.target_identifier_system),
            ("source_endpoint", &self.source_endpoint),
        ] {
            // Both go into FHIR `uri`/`url` elements and a JSON header: no spaces, not empty.
            if value.is_empty() || value.chars().any(char::is_whitespace) || !value.contains(':') {
                return Err(format!(
                    "settings key `{key}`: must be a URI without spaces, e.g. `http://fhir.nhs.uk/Id/dos-service-id`"
                ));
            }
        }
        if !(1..=20).contains(&self.max_offers_per_need) {
            return Err(format!(
                "settings key `max_offers_per_need`: is {}; must be 1 to 20",
                self.max_offers_per_need
            ));
        }
        Ok(())
    }
}

pathways_sdk::http_settings!(Settings, "the API's bearer token");
