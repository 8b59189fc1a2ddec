//! Loading partner plugins: from a library file to a [`Partner`](pathways_core::Partner).
//!
//! [`PluginLibrary::open`] loads a library with `libloading`, resolves its one entry symbol and
//! checks the handshake (ABI version, SDK version, target triple, manifest) before any other
//! plugin code runs. [`PluginLibrary::instantiate`] hands the plugin its settings and wraps
//! the instance as a [`DylibPartner`], which implements `Partner`: the rest of the system cannot
//! tell a loaded plugin from a compiled-in connector.
//!
//! With `isolation = "process"` the same loading happens in a child process of the daemon
//! (`pathways plugin-host`), and [`ProcessPartner`] speaks to it: see [`process`].
//!
//! Libraries are never unloaded. A plugin's threads, thread-locals and copy of std live in the
//! library's code; unloading it safely would need every one of them gone first, and nothing can
//! prove that. Upgrading a plugin means a restart or a new instance from a new file.

pub mod conformance;
mod error;
mod library;
mod log;
mod partner;
pub mod process;
mod recorder;

pub use error::LoadError;
pub use library::{resolve_library, PluginLibrary};
pub use partner::{CallStats, DylibPartner};
pub use process::{run_plugin_host, HostOptions, ProcessPartner};

/// The `pathways-sdk` version this host was released with; plugins must be semver-compatible.
pub const HOST_SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The target triple this host was built for; plugins must match it exactly.
pub const HOST_TARGET: &str = env!("PATHWAYS_HOST_TARGET");
