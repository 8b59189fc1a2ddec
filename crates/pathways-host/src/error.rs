//! Why a plugin could not be loaded or instantiated, in words an operator can act on.

use std::path::PathBuf;

/// A plugin that could not be found, loaded, checked or configured. Serialisable, so a plugin
/// host child can tell the daemon why it could not load its plugin in the daemon's own words.
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum LoadError {
    /// No library file for the plugin name.
    #[error("plugin `{plugin}` not found: looked for {}", tried.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", "))]
    NotFound {
        /// The plugin name from configuration.
        plugin: String,
        /// Every path tried.
        tried: Vec<PathBuf>,
    },
    /// The file is not a loadable library.
    #[error("`{}` is not a loadable library: {reason}", path.display())]
    NotALibrary {
        /// The file.
        path: PathBuf,
        /// The loader's reason.
        reason: String,
    },
    /// The library has no `pathways_plugin_entry_v1`.
    #[error("`{}` is not a pathways plugin: it has no `pathways_plugin_entry_v1` symbol (build it with `pathways_sdk::export_partner!`)", path.display())]
    NoEntrySymbol {
        /// The file.
        path: PathBuf,
    },
    /// The plugin speaks another ABI version.
    #[error("`{}` was built for plugin ABI v{found}, but this host speaks v{expected}: rebuild the plugin against this release's pathways-sdk", path.display())]
    AbiMismatch {
        /// The file.
        path: PathBuf,
        /// The plugin's ABI version.
        found: u32,
        /// The host's.
        expected: u32,
    },
    /// The plugin was built with an incompatible SDK.
    #[error("`{}` was built with pathways-sdk {found}, which is not compatible with this host's {expected}: rebuild the plugin", path.display())]
    SdkMismatch {
        /// The file.
        path: PathBuf,
        /// The plugin's SDK version.
        found: String,
        /// The host's.
        expected: String,
    },
    /// The plugin was built for another platform.
    #[error("`{}` was built for target `{found}`, but this host runs on `{expected}`", path.display())]
    TargetMismatch {
        /// The file.
        path: PathBuf,
        /// The plugin's target.
        found: String,
        /// The host's.
        expected: String,
    },
    /// The plugin broke the handshake (no vtable, unreadable manifest, ...).
    #[error("`{}` failed the plugin handshake: {reason}", path.display())]
    Handshake {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The plugin refused the partner's settings.
    #[error("partner `{partner_id}` (plugin `{plugin}`): {message}")]
    Settings {
        /// The partner id from configuration.
        partner_id: String,
        /// The plugin name.
        plugin: String,
        /// The plugin's reason, naming the key.
        message: String,
    },
    /// The plugin panicked while starting.
    #[error(
        "partner `{partner_id}` (plugin `{plugin}`): the plugin panicked while starting: {message}"
    )]
    InitPanicked {
        /// The partner id.
        partner_id: String,
        /// The plugin name.
        plugin: String,
        /// The panic message.
        message: String,
    },
    /// The plugin host child (`isolation = "process"`) could not be started, or stopped before
    /// it loaded the plugin.
    #[error("partner `{partner_id}`: the plugin host `{}` {reason}", program.display())]
    PluginHost {
        /// The partner id.
        partner_id: String,
        /// The program started as the plugin host.
        program: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl LoadError {
    /// Whether the fault is in what the operator gave us (configuration, a wrong file), which
    /// the command line reports with exit status 2.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, LoadError::InitPanicked { .. } | LoadError::PluginHost { .. })
    }
}
