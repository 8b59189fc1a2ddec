//! Keeping panics inside the plugin.
//!
//! Unwinding across `extern "C"` aborts the process, so every export catches panics and turns
//! them into a status. The plugin's panic hook (its own std's, not the host's) sends the panic
//! to the host log instead of stderr.

use std::any::Any;
use std::sync::Once;

/// The message carried by a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Routes this plugin's panics to the host's log (once per library).
pub(crate) fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let location =
                info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            tracing::error!(location = %location, "plugin panicked: {}", panic_message(info.payload()));
        }));
    });
}
