//! The sandbox's configuration (`config/sandbox.toml`): where each simulator listens, the seed
//! of its random choices, and its fault knobs.
//!
//! Parsing is strict: an unknown or misspelt key is an error that names the file, the field's
//! path and the line, because a knob that is silently ignored makes a test prove nothing.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::clock::ClockConfig;
use crate::council::CouncilSimConfig;
use crate::faults::Faults;
use crate::housing::HousingSimConfig;
use crate::nhs::NhsSimConfig;
use crate::webhook::WebhookConfig;
use crate::SandboxError;

/// Configuration of every simulated partner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Seed of every random choice the simulators make (faults, jitter, voucher ids), so a run
    /// can be repeated exactly.
    pub seed: u64,
    /// Pins the simulators' calendar (`"2026-11-20"`), so dates in answers do not move with
    /// the clock; `None` uses today's date.
    pub today: Option<NaiveDate>,
    /// How simulated referrals progress through their states.
    pub clock: ClockConfig,
    /// The food bank simulator (Give Food directory and e-voucher API).
    pub foodbank: FoodbankSimConfig,
    /// The housing authority simulator (Duty to Refer intake).
    pub housing: HousingSimConfig,
    /// The NHS simulator (FHIR R4, BaRS shape).
    pub nhs: NhsSimConfig,
    /// The council simulator (HSDS 3 directory and Open311 GeoReport v2).
    pub council: CouncilSimConfig,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            seed: 20_261_120,
            today: None,
            clock: ClockConfig::default(),
            foodbank: FoodbankSimConfig::default(),
            housing: HousingSimConfig::default(),
            nhs: NhsSimConfig::default(),
            council: CouncilSimConfig::default(),
        }
    }
}

/// Configuration of the food bank simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FoodbankSimConfig {
    /// Address to listen on; port 0 picks a free port (see [`crate::Sandbox::foodbank_url`]).
    pub listen: SocketAddr,
    /// When set, the e-voucher API requires `Authorization: Bearer <api_key>` (the directory
    /// stays open, as Give Food's is).
    pub api_key: Option<String>,
    /// Latency and failure knobs.
    pub faults: Faults,
    /// Where referral events are posted, if anywhere (see the `webhook` module).
    pub webhook: Option<WebhookConfig>,
}

impl Default for FoodbankSimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: None,
            faults: Faults::default(),
            webhook: None,
        }
    }
}

impl SandboxConfig {
    /// Reads and validates a TOML configuration file.
    pub fn from_toml_file(path: &Path) -> Result<Self, SandboxError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SandboxError::ReadConfig { file: path.to_path_buf(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates a TOML configuration held in memory.
    pub fn from_toml_str(s: &str) -> Result<Self, SandboxError> {
        Self::parse(s, "sandbox configuration")
    }

    fn parse(text: &str, origin: &str) -> Result<Self, SandboxError> {
        let deserializer = toml::Deserializer::new(text);
        let config: SandboxConfig =
            serde_path_to_error::deserialize(deserializer).map_err(|err| {
                let field = err.path().to_string();
                let inner = err.into_inner();
                let line = inner.span().map(|span| line_of(text, span.start));
                SandboxError::Config {
                    origin: origin.to_string(),
                    field: if field == "." { String::new() } else { field },
                    line,
                    message: inner.message().to_string(),
                }
            })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Checks what serde cannot: fractions between 0 and 1, usable webhooks.
    fn validate(&self, origin: &str) -> Result<(), SandboxError> {
        let simulators = [
            ("foodbank", &self.foodbank.faults, &self.foodbank.webhook),
            ("housing", &self.housing.faults, &self.housing.webhook),
            ("nhs", &self.nhs.faults, &self.nhs.webhook),
            ("council", &self.council.faults, &self.council.webhook),
        ];
        for (name, faults, webhook) in simulators {
            let refused = |section: &str, (field, message): (&str, String)| SandboxError::Config {
                origin: origin.to_string(),
                field: format!("{name}.{section}.{field}"),
                line: None,
                message,
            };
            faults.validate().map_err(|e| refused("faults", e))?;
            if let Some(webhook) = webhook {
                webhook.validate().map_err(|e| refused("webhook", e))?;
            }
        }
        Ok(())
    }
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_loopback_defaults_without_faults() {
        let config = SandboxConfig::from_toml_str("").unwrap();
        assert_eq!(config, SandboxConfig::default());
        assert!(config.foodbank.listen.ip().is_loopback());
        assert_eq!(config.foodbank.faults, Faults::default());
    }

    #[test]
    fn shipped_config_file_is_valid_and_fault_free() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/sandbox.toml");
        let config = SandboxConfig::from_toml_file(&path).unwrap();
        assert_eq!(config.foodbank.listen, "127.0.0.1:9101".parse().unwrap());
        assert_eq!(config.foodbank.faults, Faults::default());
    }

    #[test]
    fn misspelt_knob_names_its_path_and_line() {
        let text =
            "seed = 7\n[foodbank]\nlisten = \"127.0.0.1:0\"\n[foodbank.faults]\neror_rate = 0.5\n";
        let err = SandboxConfig::from_toml_str(text).unwrap_err().to_string();
        assert!(err.contains("eror_rate"), "{err}");
        assert!(err.contains("foodbank.faults"), "{err}");
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("error_rate"), "lists the known knobs: {err}");
    }

    #[test]
    fn fraction_out_of_range_is_refused_with_its_field() {
        let text = "[foodbank.faults]\nerror_rate = 1.5\n";
        let err = SandboxConfig::from_toml_str(text).unwrap_err().to_string();
        assert!(err.contains("foodbank.faults.error_rate"), "{err}");
        assert!(err.contains("between 0 and 1"), "{err}");
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("pathways-sandbox-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "[foodbank]\nlisten = \"not an address\"\n").unwrap();
        let err = SandboxConfig::from_toml_file(&path).unwrap_err().to_string();
        assert!(err.contains("bad.toml"), "{err}");
        assert!(err.contains("foodbank.listen"), "{err}");
        let missing =
            SandboxConfig::from_toml_file(&dir.join("absent.toml")).unwrap_err().to_string();
        assert!(missing.contains("absent.toml"), "{missing}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn pinned_date_and_knobs_are_read() {
        let text = "seed = 42\ntoday = \"2026-11-20\"\n[foodbank.faults]\nlatency_ms = 30\ncapacity = \"full\"\n";
        let config = SandboxConfig::from_toml_str(text).unwrap();
        assert_eq!(config.seed, 42);
        assert_eq!(config.today, NaiveDate::from_ymd_opt(2026, 11, 20));
        assert_eq!(config.foodbank.faults.latency_ms, 30);
        assert_eq!(config.foodbank.faults.capacity, Some(crate::CapacityOverride::Full));
    }
}
