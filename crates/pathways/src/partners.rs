//! From configuration to running partners: find each enabled partner's plugin library, load it
//! once, and create the partner with its settings (which the plugin validates); or, for a
//! built-in kind (`kind = "inbox"`), create it in process with no library.
//!
//! Errors name the configuration file, the partner and the problem; a plugin's own settings
//! error names the key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pathways_core::Partner;
use pathways_host::{resolve_library, LoadError, PluginLibrary, ProcessPartner};
use pathways_inbox::{InboxPartner, Mailer};
use pathways_orchestrator::{
    ConfiguredPartner, Messages, Orchestrator, PlanRules, SignpostCatalogue,
};
use pathways_store::Store;

use crate::commands::CliError;
use crate::settings::{BuiltinKind, Isolation, PartnerSettings, Settings};

/// One enabled partner, created from its plugin or built in.
pub struct LoadedPartner {
    /// The partner id from configuration.
    pub id: String,
    /// Its display name (the id when none is configured).
    pub name: String,
    /// The areas configuration gives it (empty defers to the manifest).
    pub areas: Vec<String>,
    /// The library file it was created from; `None` for a built-in kind (`inbox`).
    pub library: Option<PathBuf>,
    /// Where its plugin runs; `None` for a built-in kind.
    pub isolation: Option<Isolation>,
    /// The partner.
    pub partner: Arc<dyn Partner>,
    /// The council confirmed it as a domestic-abuse service.
    pub domestic_abuse_service: bool,
}

impl std::fmt::Debug for LoadedPartner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPartner")
            .field("id", &self.id)
            .field("plugin", &self.partner.manifest().plugin)
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

/// Loads every enabled partner of `settings`, read from `config_file`, for a command that
/// does not serve: an inbox partner then answers from its settings alone.
pub fn load_enabled(
    settings: &Settings,
    config_file: &Path,
) -> Result<Vec<LoadedPartner>, CliError> {
    load_enabled_with(settings, config_file, None)
}

/// [`load_enabled`] for the daemon: inbox partners keep their capacity and referrals in
/// `store`, and email their notices through `[email]`.
pub fn load_enabled_with(
    settings: &Settings,
    config_file: &Path,
    store: Option<Arc<dyn Store>>,
) -> Result<Vec<LoadedPartner>, CliError> {
    let mut libraries: HashMap<PathBuf, PluginLibrary> = HashMap::new();
    let mut loaded = Vec::new();
    let mut mailer: Option<Option<Mailer>> = None;
    for (index, partner) in settings.enabled_partners() {
        let fail = |e: LoadError| load_error(config_file, index, partner, e);
        let plugin = match (&partner.plugin, partner.kind) {
            (Some(plugin), _) => plugin,
            (None, Some(BuiltinKind::Inbox)) => {
                // Built once, and only when an inbox partner is enabled.
                if mailer.is_none() {
                    mailer = Some(build_mailer(settings, config_file)?);
                }
                let instance =
                    inbox(config_file, index, partner, store.clone(), mailer.clone().flatten())?;
                loaded.push(LoadedPartner {
                    id: partner.id.clone(),
                    name: partner.name.clone().unwrap_or_else(|| partner.id.clone()),
                    areas: partner.areas.clone(),
                    library: None,
                    isolation: None,
                    partner: Arc::new(instance),
                    domestic_abuse_service: partner.domestic_abuse_service,
                });
                continue;
            }
            (None, None) => {
                return Err(CliError::BadInput(format!(
                    "{}: at `partners[{index}]`: give `plugin` or `kind`",
                    config_file.display()
                )))
            }
        };
        let path = match &partner.library {
            Some(file) => file.clone(),
            None => resolve_library(&settings.plugins.dir, plugin).map_err(fail)?,
        };
        let isolation = partner.isolation(&settings.plugins);
        let instance: Arc<dyn Partner> = match isolation {
            Isolation::InProcess => {
                let library = match libraries.get(&path) {
                    Some(library) => library.clone(),
                    None => {
                        let library = PluginLibrary::open(&path).map_err(fail)?;
                        libraries.insert(path.clone(), library.clone());
                        library
                    }
                };
                check_library_names_plugin(config_file, index, partner, &path, library.manifest())?;
                Arc::new(library.instantiate(&partner.id, &partner.settings).map_err(fail)?)
            }
            // The library is opened in the child only: none of its code runs in the daemon.
            Isolation::Process => {
                let options = settings.plugins.host_options().map_err(|problem| {
                    CliError::BadInput(format!(
                        "{}: at `plugins.host_program`: {problem}",
                        config_file.display()
                    ))
                })?;
                let instance =
                    ProcessPartner::start(&options, &path, &partner.id, &partner.settings)
                        .map_err(fail)?;
                check_library_names_plugin(
                    config_file,
                    index,
                    partner,
                    &path,
                    instance.manifest(),
                )?;
                Arc::new(instance)
            }
        };
        loaded.push(LoadedPartner {
            id: partner.id.clone(),
            name: partner.name.clone().unwrap_or_else(|| partner.id.clone()),
            areas: partner.areas.clone(),
            library: Some(path),
            isolation: Some(isolation),
            partner: instance,
            domestic_abuse_service: partner.domestic_abuse_service,
        });
    }
    Ok(loaded)
}

/// A partner's own `library` file must be the plugin it names.
fn check_library_names_plugin(
    config_file: &Path,
    index: usize,
    partner: &PartnerSettings,
    path: &Path,
    manifest: &pathways_core::Manifest,
) -> Result<(), CliError> {
    let (named, plugin) = (&manifest.plugin, partner.connector());
    if partner.library.is_some() && named.replace('_', "-") != plugin.replace('_', "-") {
        return Err(CliError::BadInput(format!(
            "{}: at `partners[{index}].library` (partner `{}`): {} is the plugin `{named}`, \
             not `{}`; set `plugin = \"{named}\"` or point `library` at the right file",
            config_file.display(),
            partner.id,
            path.display(),
            plugin
        )));
    }
    Ok(())
}

/// The mailer `[email]` describes, if there is the section; its errors name the field.
fn build_mailer(settings: &Settings, config_file: &Path) -> Result<Option<Mailer>, CliError> {
    let Some(email) = &settings.email else { return Ok(None) };
    let file = config_file.display();
    let console_url = settings.console.to_settings(settings.server.listen).public_url;
    let email_settings = email.to_settings(&console_url).map_err(|(field, problem)| {
        CliError::BadInput(format!("{file}: at `{field}`: {problem}"))
    })?;
    let mailer = Mailer::new(&email_settings)
        .map_err(|e| CliError::BadInput(format!("{file}: at `email.{}`: {}", e.key, e.problem)))?;
    Ok(Some(mailer))
}

/// An inbox partner from its `[[partners]]` entry; a settings error names the key.
fn inbox(
    config_file: &Path,
    index: usize,
    partner: &PartnerSettings,
    store: Option<Arc<dyn Store>>,
    mailer: Option<Mailer>,
) -> Result<InboxPartner, CliError> {
    let file = config_file.display();
    let instance = InboxPartner::new(&partner.id, &partner.settings, store, mailer.clone())
        .map_err(|e| {
            let key = if e.key.is_empty() { String::new() } else { format!(".{}", e.key) };
            CliError::BadInput(format!(
                "{file}: at `partners[{index}].settings{key}` (partner `{}`): {}",
                partner.id, e.problem
            ))
        })?;
    if instance.settings().notify_email.is_some() && mailer.is_none() {
        return Err(CliError::BadInput(format!(
            "{file}: at `partners[{index}].settings.notify_email` (partner `{}`): notices are \
             emailed through the `[email]` section, which is missing; add it, or remove \
             `notify_email`",
            partner.id
        )));
    }
    Ok(instance)
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
            partner.id,
            partner.connector()
        ),
        _ => format!("{file}: at `partners[{index}].plugin` (partner `{}`): {error}", partner.id),
    };
    if error.is_bad_input() {
        CliError::BadInput(message)
    } else {
        CliError::Failed(anyhow::anyhow!(message))
    }
}
