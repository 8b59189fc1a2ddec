//! The host end of the log bridge: plugin log records into the host's `tracing`.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pathways_abi::{Bytes, LOG_DEBUG, LOG_ERROR, LOG_INFO, LOG_WARN};
use tracing::level_filters::LevelFilter;

/// What the host knows about the library a record came from. One per library, leaked: the
/// plugin may log until the process ends.
#[derive(Debug)]
pub(crate) struct LogSource {
    pub(crate) plugin: String,
}

/// The host's most verbose enabled level, in ABI terms.
pub(crate) fn max_level() -> u32 {
    match LevelFilter::current() {
        LevelFilter::OFF => 0,
        LevelFilter::ERROR => LOG_ERROR,
        LevelFilter::WARN => LOG_WARN,
        LevelFilter::INFO => LOG_INFO,
        LevelFilter::DEBUG => LOG_DEBUG,
        _ => pathways_abi::LOG_TRACE,
    }
}

/// Receives one record from a plugin.
pub(crate) unsafe extern "C" fn host_log(
    ctx: *const c_void,
    level: u32,
    target: Bytes,
    message: Bytes,
) {
    // A panic must not unwind into the plugin.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: ctx is the leaked LogSource this host gave the plugin.
        let source = unsafe { &*ctx.cast::<LogSource>() };
        // SAFETY: the plugin lends both byte strings for the duration of this call.
        let target = String::from_utf8_lossy(unsafe { target.as_slice() });
        // SAFETY: as above.
        let message = String::from_utf8_lossy(unsafe { message.as_slice() });
        let plugin = source.plugin.as_str();
        match level {
            LOG_ERROR => {
                tracing::error!(target: "pathways::plugin", plugin, plugin_target = %target, "{message}")
            }
            LOG_WARN => {
                tracing::warn!(target: "pathways::plugin", plugin, plugin_target = %target, "{message}")
            }
            LOG_INFO => {
                tracing::info!(target: "pathways::plugin", plugin, plugin_target = %target, "{message}")
            }
            LOG_DEBUG => {
                tracing::debug!(target: "pathways::plugin", plugin, plugin_target = %target, "{message}")
            }
            _ => {
                tracing::trace!(target: "pathways::plugin", plugin, plugin_target = %target, "{message}")
            }
        }
    }));
}
