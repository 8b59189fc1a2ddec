//! Process isolation (`isolation = "process"`): each partner's plugin in a child process of
//! its own, so a plugin that aborts, segfaults, overflows its stack or is killed for its memory
//! takes down only that child, not the daemon and every other partner with it.
//!
//! The daemon side is [`ProcessPartner`]; the child side, [`run_plugin_host`], is what the
//! `pathways plugin-host` subcommand runs. They speak [`frame`]s over the child's stdin and
//! stdout: the same op and JSON bytes a plugin gets in process, with an id per call. The child
//! loads the plugin with [`PluginLibrary`](crate::PluginLibrary) exactly as the daemon does,
//! after denying itself filesystem writes ([`sandbox`]).
//!
//! One child per partner instance, not per library: partners sharing a library keep their own
//! crash domain and settings, at the cost of one process (a few MB) each.

mod child;
mod frame;
mod outbox;
mod partner;
mod sandbox;

pub use child::run_plugin_host;
pub use partner::{HostOptions, ProcessPartner, PLUGIN_HOST_SUBCOMMAND};
