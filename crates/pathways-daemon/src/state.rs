//! What every request shares: the store, the live configuration (orchestrator and keys,
//! swapped whole on reload), the metrics and the limits.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use pathways_orchestrator::Orchestrator;
use pathways_store::Store;

use crate::auth::KeyRing;
use crate::metrics::Metrics;
use pathways_referrals::DispatchSettings;

/// The part of the configuration a reload replaces, as one unit: a request takes one snapshot
/// and keeps it to the end, so a plan started before a reload finishes on the partners it
/// started with, and one started after uses the new set.
#[derive(Debug)]
pub struct Live {
    /// Plans cases against the enabled partners.
    pub orchestrator: Arc<Orchestrator>,
    /// The API keys.
    pub keys: Arc<KeyRing>,
    /// Each partner's callback signing secret, by partner id; a partner without one cannot
    /// call back.
    pub webhook_secrets: Arc<std::collections::HashMap<String, crate::webhooks::WebhookSecret>>,
}

/// Bounds that protect the daemon from clients and from itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body accepted; more is 413.
    pub max_body_bytes: usize,
    /// Longest a request may take, body and handler together; then 503.
    pub request_timeout: Duration,
    /// Requests handled at once; more are answered 429 at once, not queued.
    pub max_concurrent_requests: usize,
    /// Longest a client may take to send a request's headers (slow-loris guard).
    pub header_read_timeout: Duration,
    /// Longest a client may take to send a request's body once its headers are in; then 408.
    pub body_read_timeout: Duration,
    /// How long shutdown waits for requests in flight before it closes them.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 256,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// The state every handler receives; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    live: RwLock<Arc<Live>>,
    metrics: Metrics,
    limits: Limits,
    dispatch: DispatchSettings,
    /// One permit per request handled at once (`Limits::max_concurrent_requests`).
    slots: Arc<tokio::sync::Semaphore>,
    /// How the last configuration reload ended, if there was one.
    last_reload: std::sync::Mutex<Option<ReloadRecord>>,
}

/// How a configuration reload ended, for the console's partners page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadRecord {
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Whether the new configuration serves.
    pub applied: bool,
    /// Why it was refused (the configuration error, naming file and field).
    pub reason: Option<String>,
}

impl AppState {
    /// State over `store` with `live` as the first configuration.
    pub fn new(
        store: Arc<dyn Store>,
        live: Live,
        limits: Limits,
        dispatch: DispatchSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                live: RwLock::new(Arc::new(live)),
                metrics: Metrics::default(),
                slots: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent_requests)),
                limits,
                dispatch,
                last_reload: std::sync::Mutex::new(None),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// A snapshot of the live configuration; keep it for the whole of one piece of work.
    pub fn live(&self) -> Arc<Live> {
        self.inner.live.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Replaces the live configuration whole; work holding the old snapshot finishes on it.
    /// The new orchestrator first takes over the old one's lanes (breaker state, calls in
    /// flight) for the partners that stay, its pathway statistics and its partners' last
    /// answers ([`Orchestrator::adopt`]), so a reload forgets neither a failing partner nor
    /// what the planner has learnt. Returns the ids of the partners whose lanes were kept.
    pub fn replace_live(&self, live: Live) -> Vec<String> {
        let mut current = self.inner.live.write().unwrap_or_else(PoisonError::into_inner);
        let kept = if Arc::ptr_eq(&live.orchestrator, &current.orchestrator) {
            Vec::new()
        } else {
            live.orchestrator.adopt(&current.orchestrator)
        };
        *current = Arc::new(live);
        kept
    }

    /// Records how a reload ended.
    pub fn record_reload(&self, record: ReloadRecord) {
        *self.inner.last_reload.lock().unwrap_or_else(PoisonError::into_inner) = Some(record);
    }

    /// How the last reload ended.
    pub fn last_reload(&self) -> Option<ReloadRecord> {
        self.inner.last_reload.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// The request slots: a request handles only while it holds one.
    pub fn slots(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.inner.slots
    }

    /// How referrals are dispatched and followed.
    pub fn dispatch_settings(&self) -> DispatchSettings {
        self.inner.dispatch
    }
}
