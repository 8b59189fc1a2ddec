//! `[plugins]` and `[[partners]]`: where plugin libraries are found and which partners a
//! council enables, each a plugin instance with its own settings.

use std::path::PathBuf;

use pathways_core::{is_ons_local_authority, PartnerId};
use pathways_host::HostOptions;
use serde::Deserialize;

/// `[plugins]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsSettings {
    /// Folder, or list of folders searched in order, where `lib<plugin>.so` (or
    /// `libpathways_plugin_<plugin>.so`) is looked up; relative to the working directory. A
    /// supplier's connectors can live in a folder of their own beside ours.
    #[serde(deserialize_with = "one_or_many")]
    pub dir: Vec<PathBuf>,
    /// How a partner's plugin runs unless its `[[partners]]` entry says otherwise:
    /// `in_process` (the default: loaded into the daemon, the fastest) or `process` (in a child
    /// process of its own, so a plugin that crashes takes down only its child, which is
    /// restarted; see docs/operating.md).
    pub isolation: Isolation,
    /// The program started as `<program> plugin-host` for each partner with `isolation =
    /// "process"`: by default the running `pathways` itself. Set it when the daemon runs from
    /// somewhere it cannot find itself again (e.g. inside a test binary).
    pub host_program: Option<PathBuf>,
    /// With `isolation = "process"`: a cancelled call the plugin has still not let go of this
    /// many milliseconds after its cancel means the plugin host is hung; it is killed and
    /// restarted. 100 to 600000.
    pub hung_after_ms: u64,
    /// With `isolation = "process"`: a cap on each plugin host's heap in MiB (an allocation
    /// past it aborts that host, which is restarted); 0, the default, for none. Each host is
    /// also the first process the kernel's out-of-memory killer takes.
    pub memory_limit_mb: u64,
}

impl Default for PluginsSettings {
    fn default() -> Self {
        Self {
            dir: vec![PathBuf::from("target/release")],
            isolation: Isolation::InProcess,
            host_program: None,
            hung_after_ms: HostOptions::HUNG_AFTER.as_millis() as u64,
            memory_limit_mb: 0,
        }
    }
}

impl PluginsSettings {
    /// How plugin hosts are run, from these settings.
    pub fn host_options(&self) -> Result<HostOptions, String> {
        Ok(HostOptions {
            program: self.host_program()?,
            hung_after: std::time::Duration::from_millis(self.hung_after_ms),
            memory_limit: (self.memory_limit_mb > 0).then(|| self.memory_limit_mb * 1024 * 1024),
        })
    }

    /// The program started as the plugin host: `host_program`, or the running executable.
    pub fn host_program(&self) -> Result<PathBuf, String> {
        match &self.host_program {
            Some(program) => Ok(program.clone()),
            None => std::env::current_exe().map_err(|e| {
                format!(
                    "the running program cannot be found again ({e}), so it cannot start \
                     plugin hosts; set `plugins.host_program` to the `pathways` binary"
                )
            }),
        }
    }
}

/// Where a partner's plugin runs (`isolation = "…"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Loaded into the daemon: the fastest, but a plugin that aborts or segfaults takes the
    /// daemon down with it.
    #[default]
    InProcess,
    /// In a child process of its own (`pathways plugin-host`), denied filesystem writes.
    Process,
}

impl Isolation {
    /// The setting's value, for listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::InProcess => "in_process",
            Isolation::Process => "process",
        }
    }
}

/// A folder, or a list of folders.
fn one_or_many<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "a folder, or a list of folders")]
    enum Dirs {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match Dirs::deserialize(deserializer)? {
        Dirs::One(dir) => vec![dir],
        Dirs::Many(dirs) => dirs,
    })
}

/// One `[[partners]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerSettings {
    /// Stable id used in plans and the API: lower-case letters, digits, `-` and `_`.
    pub id: String,
    /// The partner's name as a client knows it, e.g. `North Kensington Food Bank`; plans say
    /// it instead of the id (the id when left out).
    #[serde(default)]
    pub name: Option<String>,
    /// Which plugin library, e.g. `foodbank` (looked up in `plugins.dir`), or a path to one.
    /// Exactly one of `plugin` and `kind` is given.
    #[serde(default)]
    pub plugin: Option<String>,
    /// A partner built into pathways instead of a plugin: `inbox`, for a partner without an
    /// API whose staff answer referrals in the console (its settings: `needs`, `shares`,
    /// `services`, optionally `notify_email`). Exactly one of `plugin` and `kind` is given.
    #[serde(default)]
    pub kind: Option<BuiltinKind>,
    /// The plugin library file itself, wherever it was built (e.g. a supplier's own
    /// `target/release/libacme_partner.so`), instead of looking `plugin` up in `plugins.dir`;
    /// its manifest must name `plugin`.
    #[serde(default)]
    pub library: Option<PathBuf>,
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
    /// The council confirms that this partner is a domestic-abuse service: only then does its
    /// referral for a client's domestic-abuse need carry a safe-contact client's address and
    /// contact details. A plugin declaring `domestic_abuse` is not enough on its own
    /// (`pathways config check` warns where the two disagree).
    #[serde(default)]
    pub domestic_abuse_service: bool,
    /// Where its plugin runs: `in_process` or `process`; `plugins.isolation` when left out.
    #[serde(default)]
    pub isolation: Option<Isolation>,
}

/// A partner kind built into pathways (`kind = "…"` in a `[[partners]]` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinKind {
    /// A partner without an API: its staff answer referrals in the console.
    Inbox,
}

impl PartnerSettings {
    /// The plugin's name, or the built-in kind's (`inbox`), for messages and listings.
    pub fn connector(&self) -> &str {
        match (&self.plugin, self.kind) {
            (Some(plugin), _) => plugin,
            (None, Some(BuiltinKind::Inbox)) => pathways_inbox::PLUGIN,
            (None, None) => "",
        }
    }
}

impl PartnerSettings {
    /// Where this partner's plugin runs, given `[plugins]`.
    pub fn isolation(&self, plugins: &PluginsSettings) -> Isolation {
        self.isolation.unwrap_or(plugins.isolation)
    }
}

fn enabled_by_default() -> bool {
    true
}

fn empty_table() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// Checks every `[[partners]]` entry: id, uniqueness, plugin, areas, settings table.
pub(super) fn validate(partners: &[PartnerSettings]) -> Result<(), (String, String)> {
    for (i, partner) in partners.iter().enumerate() {
        let at = |key: &str| format!("partners[{i}].{key}");
        if !PartnerId::is_valid(&partner.id) {
            return Err((
                at("id"),
                format!("`{}` is not a partner id: it must be {}", partner.id, PartnerId::RULE),
            ));
        }
        if let Some(first) = partners[..i].iter().position(|p| p.id == partner.id) {
            return Err((
                at("id"),
                format!(
                    "`{}` is already the id of partners[{first}]; each partner needs its own id",
                    partner.id
                ),
            ));
        }
        match (&partner.plugin, partner.kind) {
            (Some(_), Some(_)) | (None, None) => {
                return Err((
                    format!("partners[{i}]"),
                    "give exactly one of `plugin` (a plugin library, e.g. `plugin = \"foodbank\"`) \
                     and `kind` (`kind = \"inbox\"` for a partner without an API, whose staff \
                     answer in the console)"
                        .into(),
                ));
            }
            (Some(plugin), None) if plugin.trim().is_empty() => {
                return Err((at("plugin"), "must name a plugin, e.g. `foodbank`".into()));
            }
            (None, Some(BuiltinKind::Inbox)) => {
                if partner.library.is_some() {
                    return Err((at("library"), "an inbox partner has no plugin library".into()));
                }
                if partner.isolation.is_some() {
                    return Err((
                        at("isolation"),
                        "an inbox partner is built into the daemon: it has no plugin to isolate"
                            .into(),
                    ));
                }
                if partner.webhook_secret_env.is_some() {
                    return Err((
                        at("webhook_secret_env"),
                        "an inbox partner does not call back: its staff answer in the console"
                            .into(),
                    ));
                }
            }
            (Some(_), None) => {}
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

/// Checks that the plugin host program exists when an enabled partner runs its plugin in a
/// process of its own, so a missing one is a configuration error at start, not a partner that
/// never answers.
pub(super) fn validate_isolation(
    plugins: &PluginsSettings,
    partners: &[PartnerSettings],
) -> Result<(), (String, String)> {
    if !(100..=600_000).contains(&plugins.hung_after_ms) {
        return Err((
            "plugins.hung_after_ms".into(),
            format!("must be 100 to 600000 (milliseconds), not {}", plugins.hung_after_ms),
        ));
    }
    if plugins.memory_limit_mb != 0 && !(16..=1_048_576).contains(&plugins.memory_limit_mb) {
        return Err((
            "plugins.memory_limit_mb".into(),
            format!(
                "must be 0 (no cap) or 16 to 1048576 (MiB), not {}: a plugin host needs some \
                 memory to load its plugin",
                plugins.memory_limit_mb
            ),
        ));
    }
    let isolated = partners
        .iter()
        .any(|p| p.enabled && p.plugin.is_some() && p.isolation(plugins) == Isolation::Process);
    if !isolated {
        return Ok(());
    }
    let program =
        plugins.host_program().map_err(|problem| ("plugins.host_program".into(), problem))?;
    if !program.is_file() {
        return Err((
            "plugins.host_program".into(),
            format!(
                "`{}` is not a file; it is started as the plugin host of each partner with \
                 `isolation = \"process\"`: point it at the `pathways` binary, or leave it out \
                 to use the running one",
                program.display()
            ),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let executable = std::fs::metadata(&program)
            .map(|m| m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        if !executable {
            return Err((
                "plugins.host_program".into(),
                format!(
                    "`{}` is not executable; it is started as the plugin host",
                    program.display()
                ),
            ));
        }
    }
    Ok(())
}
