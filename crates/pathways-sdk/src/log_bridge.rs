//! The plugin's `tracing` events, forwarded into the host's log.
//!
//! The plugin has its own copy of `tracing`, so events recorded in it never reach the host's
//! subscriber by themselves. This subscriber, installed once per library as the plugin's
//! global default, formats each event and hands it to the host's `log` function. Spans are
//! accepted but not forwarded: the host adds the partner's context on its side.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use pathways_abi::{Bytes, HostApi, LOG_DEBUG, LOG_ERROR, LOG_INFO, LOG_TRACE, LOG_WARN};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

struct HostLog {
    api: HostApi,
    max: LevelFilter,
    next_span: AtomicU64,
}

// SAFETY: the ABI requires the host's log context to be valid for the life of the process and
// its log function to be callable from any thread.
unsafe impl Send for HostLog {}
// SAFETY: as above; the struct is never mutated except through the atomic.
unsafe impl Sync for HostLog {}

/// Installs the bridge as this plugin's global subscriber; later calls keep the first.
pub(crate) fn install(api: HostApi) {
    let max = match api.max_log_level {
        0 => LevelFilter::OFF,
        LOG_ERROR => LevelFilter::ERROR,
        LOG_WARN => LevelFilter::WARN,
        LOG_INFO => LevelFilter::INFO,
        LOG_DEBUG => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let subscriber = HostLog { api, max, next_span: AtomicU64::new(1) };
    // Already set by an earlier instance of this library: keep that one.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

fn level_code(level: &Level) -> u32 {
    match *level {
        Level::ERROR => LOG_ERROR,
        Level::WARN => LOG_WARN,
        Level::INFO => LOG_INFO,
        Level::DEBUG => LOG_DEBUG,
        Level::TRACE => LOG_TRACE,
    }
}

/// Formats an event's fields as `message key=value ...`.
#[derive(Default)]
struct EventText {
    message: String,
    fields: String,
}

impl Visit for EventText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl Subscriber for HostLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max)
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = EventText::default();
        event.record(&mut text);
        text.message.push_str(&text.fields);
        let target = event.metadata().target();
        // SAFETY: the host's log function and context are valid for the life of the process;
        // the byte slices are borrowed for the duration of the call only.
        unsafe {
            (self.api.log)(
                self.api.ctx,
                level_code(event.metadata().level()),
                Bytes::from_slice(target.as_bytes()),
                Bytes::from_slice(text.message.as_bytes()),
            )
        };
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}
