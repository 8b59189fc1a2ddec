//! From configuration to running partners: find each enabled partner's plugin library, load it
//! once, and create the partner with its settings (which the plugin validates).
//!
//! Errors name the configuration file, the partner and the problem; a plugin's own settings
//! error names the key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pathways_host::{resolve_library, DylibPartner, LoadError, PluginLibrary};
use pathways_orchestrator::{
    ConfiguredPartner, Messages, Orchestrator, PlanRules, SignpostCatalogue,
};

use crate::commands::CliError;
use crate::settings::{PartnerSettings, Settings};

/// One enabled partner, created from its plugin.
#[derive(Debug)]
pub struct LoadedPartner {
    /// The partner id from configuration.
    pub id: String,
    /// Its display name (the id when none is configured).
    pub name: String,
    /// The areas configuration gives it (empty defers to the manifest).
    pub areas: Vec<String>,
    /// The library it was created from.
    pub library: PluginLibrary,
    /// The partner.
    pub partner: Arc<DylibPartner>,
    /// The council confirmed it as a domestic-abuse service.
    pub domestic_abuse_service: bool,
}

/// Loads every enabled partner of `settings`, read from `config_file`.
pub fn load_enabled(
    settings: &Settings,
    config_file: &Path,
) -> Result<Vec<LoadedPartner>, CliError> {
    let mut libraries: HashMap<PathBuf, PluginLibrary> = HashMap::new();
    let mut loaded = Vec::new();
    for (index, partner) in settings.enabled_partners() {
        let fail = |e: LoadError| load_error(config_file, index, partner, e);
        let path = match &partner.library {
            Some(file) => file.clone(),
            None => resolve_library(&settings.plugins.dir, &partner.plugin).map_err(fail)?,
        };
        let library = match libraries.get(&path) {
            Some(library) => library.clone(),
            None => {
                let library = PluginLibrary::open(&path).map_err(fail)?;
                libraries.insert(path.clone(), library.clone());
                library
            }
        };
        let named = &library.manifest().plugin;
        if partner.library.is_some() && named.replace('_', "-") != partner.plugin.replace('_', "-")
        {
            return Err(CliError::BadInput(format!(
                "{}: at `partners[{index}].library` (partner `{}`): {} is the plugin `{named}`, \
                 not `{}`; set `plugin = \"{named}\"` or point `library` at the right file",
                config_file.display(),
                partner.id,
                path.display(),
                partner.plugin
            )));
        }
        let instance = library.instantiate(&partner.id, &partner.settings).map_err(fail)?;
        loaded.push(LoadedPartner {
            id: partner.id.clone(),
            name: partner.name.clone().unwrap_or_else(|| partner.id.clone()),
            areas: partner.areas.clone(),
            library,
            partner: Arc::new(instance),
            domestic_abuse_service: partner.domestic_abuse_service,
        });
    }
    Ok(loaded)
}

/// An orchestrator over `loaded`, with the signposts and lead rules configuration names.
pub fn orchestrator(
    settings: &Settings,
    loaded: &[LoadedPartner],
) -> Result<Orchestrator, CliError> {
    let signposts = match &settings.orchestrator.signposts {
        Some(path) => SignpostCatalogue::from_toml_file(path)
            .map_err(|e| CliError::BadInput(e.to_string()))?,
        None => SignpostCatalogue::builtin(),
    };
    let partners = loaded
        .iter()
        .map(|p| ConfiguredPartner {
            id: p.id.clone(),
            name: p.name.clone(),
            areas: p.areas.clone(),
            partner: p.partner.clone(),
            domestic_abuse_service: p.domestic_abuse_service,
        })
        .collect();
    let messages = match &settings.orchestrator.messages_dir {
        Some(dir) => Messages::load_dir(dir).map_err(|e| CliError::BadInput(e.to_string()))?,
        None => Messages::builtin(),
    };
    let rules = PlanRules {
        lead_rules: settings.orchestrator.lead_rules.clone(),
        signposts,
        messages,
        organisations: settings.organisations.clone(),
    };
    // Sends, cancels and status polls go through the same lanes as availability questions,
    // with bulkheads of `dispatch.partner_concurrency` slots.
    let referral_slots = usize::try_from(settings.dispatch.partner_concurrency).unwrap_or(1);
    Ok(Orchestrator::new(partners, settings.orchestrator.to_settings(), rules)
        .with_referral_concurrency(referral_slots))
}

fn load_error(
    config_file: &Path,
    index: usize,
    partner: &PartnerSettings,
    error: LoadError,
) -> CliError {
    let file = config_file.display();
    let message = match error {
        // These already name the partner id (and, for settings, the plugin names the key).
        LoadError::Settings { .. } => format!("{file}: at `partners[{index}].settings`: {error}"),
        LoadError::InitPanicked { .. } => format!("{file}: {error}"),
        LoadError::NotFound { .. } => format!(
            "{file}: at `partners[{index}].plugin` (partner `{}`): {error}; build the plugins \
             (`cargo build --release -p pathways-plugin-{}`) or point `plugins.dir` at them",
            partner.id, partner.plugin
        ),
        _ => format!("{file}: at `partners[{index}].plugin` (partner `{}`): {error}", partner.id),
    };
    if error.is_bad_input() {
        CliError::BadInput(message)
    } else {
        CliError::Failed(anyhow::anyhow!(message))
    }
}
