//! The configuration file (CONTRACT.md, "Configuration"): read with the `config` crate from a
//! TOML file, then `PATHWAYS__SECTION__KEY` environment overrides, strictly.
//!
//! These structs, with their doc comments, are the reference for every key. An unknown or
//! misspelt key is an error, never ignored, and every error names the file (or the environment
//! variable), the field and the problem, e.g.
//! `config/pathways.toml: at \`partners[1].areas[0]\`: \`Kensington\` is not an ONS local authority code ...`.

use std::collections::HashMap;
use std::path::Path;

use config::{Config, Environment, File, FileFormat};
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
    /// How long personal data is kept.
    #[serde(default)]
    pub retention: RetentionSection,
    /// Referring organisations by id (`[organisations.<id>]`): the names plans say instead of
    /// ids, and the national network each belongs to.
    #[serde(default)]
    pub organisations: std::collections::BTreeMap<String, pathways_orchestrator::Organisation>,
    /// The web console served beside the API.
    #[serde(default)]
    pub console: ConsoleSection,
    /// How email notices are sent (to inbox partners' `notify_email`); none without it.
    #[serde(default)]
    pub email: Option<EmailSection>,
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
        server::validate_keys(&self.api_keys)?;
        self.storage.validate()?;
        self.retention.validate()?;
        self.console.validate(self.server.listen)?;
        partners::validate(&self.partners)?;
        partners::validate_isolation(&self.plugins, &self.partners)?;
        if let Some(email) = &self.email {
            email.validate()?;
        }
        Ok(())
    }

    /// The data keys `[storage]` names, or a [`SettingsError`] naming the field and how to
    /// make a key; `file` is the configuration file, for the message.
    pub fn data_keys(&self, file: &Path) -> Result<pathways_store::DataKeys, SettingsError> {
        self.storage.data_keys().map_err(|(field, problem)| SettingsError {
            source_name: file.display().to_string(),
            field,
            problem,
        })
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

mod console;
mod dispatch;
mod email;
mod orchestrator;
mod partners;
mod retention;
mod server;

pub use console::ConsoleSection;
pub use dispatch::DispatchSection;
pub use email::EmailSection;
pub use orchestrator::OrchestratorSection;
pub use partners::{BuiltinKind, Isolation, PartnerSettings, PluginsSettings};
pub use retention::RetentionSection;
pub use server::{ApiKeySettings, ServerSettings, StorageSettings};

#[cfg(test)]
mod tests;
