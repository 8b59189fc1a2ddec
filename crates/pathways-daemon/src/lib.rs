//! The HTTP API of `pathways` (CONTRACT.md, "HTTP API"): cases and plans under `/v1`, bearer
//! API keys bound to an organisation and a role, an append-only audit of every case action,
//! Prometheus metrics, an OpenAPI document generated from the route table, and a serving loop
//! with header-read timeouts and graceful shutdown.
//!
//! The binary builds a [`Daemon`] from its configuration and runs [`Daemon::serve`]; tests
//! drive [`Daemon::router`] in-process. A reload ([`Daemon::reload`]) swaps the partners and
//! keys whole: work already holding the old set finishes on it.

pub mod access;
pub mod api;
mod auth;
mod dispatch;
mod error;
mod inbox;
mod layers;
mod metrics;
mod openapi;
mod protocol;
mod referrals;
mod reports;
pub mod retention;
mod routes;
mod serve;
pub mod service;
mod state;
mod webhooks;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use pathways_store::Store;
use tokio::net::TcpListener;

pub use auth::{hash_token, is_code, new_token, ApiKey, Caller, KeyRing, Role};
pub use error::{ApiError, DaemonError};
pub use inbox::{PartnerUpdate, COUNT_MAX as INBOX_COUNT_MAX};
pub use metrics::ReloadResult;
pub use openapi::document as openapi_document;
pub use pathways_referrals::{DispatchSettings, Dispatcher};
pub use referrals::reroute::{RerouteMode, RerouteProposal, Reroutes};
/// How referral intake fingerprints a request and derives each referral's key: for tests that
/// play a daemon which died mid-request.
pub use referrals::{
    fingerprint as referral_fingerprint, referral_key, CancelBody, Cancelled, ReferralRequest,
    NOTE_MAX as CANCEL_NOTE_MAX,
};
pub use reports::outcomes::{
    FollowUpRequest, NeedsMet, OutcomeReport, OutcomeRow, WellbeingChange, SUPPRESS_BELOW,
};
pub use reports::schedule::{DueCase, DueList, ScheduleView};
pub use reports::{csv_cell, unmet_csv};
pub use routes::consent::{ConsentCancel, ConsentChange, ConsentChanged};
pub use routes::{table as route_table, Access, RouteSpec};
pub use state::{Limits, Live, ReloadRecord};
pub use webhooks::{verify as verify_webhook, VerifyError, WebhookRefusal, WebhookSecret};

use state::AppState;

/// The daemon: shared state and the router over it.
#[derive(Debug, Clone)]
pub struct Daemon {
    state: AppState,
    /// A front end served beside the API (the web console), answering every path the API
    /// does not own.
    front: Option<Router>,
}

impl Daemon {
    /// A daemon over `store`, serving `live` (partners and keys) within `limits`.
    pub fn new(store: Arc<dyn Store>, live: Live, limits: Limits) -> Self {
        Self::with_dispatch(store, live, limits, DispatchSettings::default())
    }

    /// A daemon that dispatches and follows referrals with `dispatch`.
    pub fn with_dispatch(
        store: Arc<dyn Store>,
        live: Live,
        limits: Limits,
        dispatch: DispatchSettings,
    ) -> Self {
        Self { state: AppState::new(store, live, limits, dispatch), front: None }
    }

    /// Starts the dispatcher (sending from the outbox, polling statuses, refreshing the
    /// planner's statistics) in the background, over this daemon's store, live partner set,
    /// metrics and audit log.
    pub fn start_dispatcher(&self) -> Dispatcher {
        let host = std::sync::Arc::new(dispatch::DaemonHost::new(self.state.clone()));
        Dispatcher::start(self.state.store().clone(), host, self.state.dispatch_settings())
    }

    /// Starts the automatic re-router (`[dispatch] reroute = "auto"`), looking every `tick`
    /// for referrals rejected or failed since it last looked; it stops when the returned
    /// sender is dropped or sent `true`.
    pub fn start_rerouter(
        &self,
        tick: std::time::Duration,
    ) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        (stop, tokio::spawn(referrals::reroute::run(self.state.clone(), tick, stopped)))
    }

    /// Starts the retention sweep in the background; it stops when the returned sender is
    /// dropped or sent `true`.
    pub fn start_retention(
        &self,
        settings: retention::RetentionSettings,
    ) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        (stop, retention::start(self.state.store().clone(), settings, stopped))
    }

    /// Checks that `keys` open what is stored (see `Store::verify_data_keys`): a reload calls
    /// this before [`replace_data_keys`](Self::replace_data_keys).
    pub async fn verify_data_keys(
        &self,
        keys: &pathways_store::DataKeys,
    ) -> Result<(), pathways_store::StoreError> {
        self.state.store().verify_data_keys(keys).await
    }

    /// Replaces the store's data keys (a configuration reload).
    pub fn replace_data_keys(&self, keys: pathways_store::DataKeys) {
        self.state.store().replace_data_keys(keys);
    }

    /// The shared state, for a front end running in this process ([`service::Handle`]).
    pub fn handle(&self) -> service::Handle {
        service::Handle { state: self.state.clone() }
    }

    /// Serves `front` (the web console, with its own middleware) beside the API: it answers
    /// every path but `/v1/…` and the operational ones (`/healthz`, `/readyz`, `/metrics`,
    /// `/openapi.json`), which stay the API's with the API's middleware and JSON errors.
    pub fn with_front(mut self, front: Router) -> Self {
        self.front = Some(front);
        self
    }

    /// The API and, when one is mounted, the front end beside it.
    pub fn app(&self) -> Router {
        let api = self.router();
        let Some(front) = self.front.clone() else {
            return api;
        };
        let steer = tower::service_fn(move |req: axum::extract::Request| {
            let api = api.clone();
            let front = front.clone();
            async move {
                use tower::ServiceExt;
                if layers::is_api_path(req.uri().path()) {
                    api.oneshot(req).await
                } else {
                    front.oneshot(req).await
                }
            }
        });
        Router::new().fallback_service(steer)
    }

    /// The API's router, middleware included.
    pub fn router(&self) -> Router {
        let mut router = Router::new();
        for (spec, handler) in routes::table() {
            router = router.route(spec.path, handler);
        }
        let router =
            router.fallback(layers::no_route).method_not_allowed_fallback(layers::wrong_method);
        layers::wrap(router, self.state.clone())
    }

    /// Handles one API request in process, exactly as if it had come over HTTP (the whole
    /// middleware stack included): `pathways demo` drives the daemon with it. Returns the
    /// status and the JSON body (`null` when the body is empty or not JSON).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        bearer: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<(u16, serde_json::Value), DaemonError> {
        use tower::ServiceExt;
        let mut builder = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {bearer}"));
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(axum::body::Body::from(body.unwrap_or_default()))
            .map_err(|e| DaemonError::Request(e.to_string()))?;
        let response = self.router().oneshot(request).await.unwrap_or_else(|e| match e {});
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 4 * 1024 * 1024)
            .await
            .map_err(|e| DaemonError::Request(e.to_string()))?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)))
    }

    /// Replaces the partners and keys for requests that start from now on. Partners that
    /// stay keep their lanes (breaker state, calls in flight) and the planner keeps its
    /// pathway statistics; returns the ids of the partners whose lanes were kept.
    pub fn reload(&self, live: Live) -> Vec<String> {
        self.state.replace_live(live)
    }

    /// Counts a reload attempt in the metrics and remembers how it ended (with why, when it
    /// was refused) for the console's partners page.
    pub fn count_reload(&self, result: ReloadResult, reason: Option<String>) {
        self.state.metrics().config_reload(result);
        self.state.record_reload(state::ReloadRecord {
            at: chrono::Utc::now(),
            applied: result == ReloadResult::Ok,
            reason,
        });
    }

    /// Serves on `listener` until `shutdown` completes, then drains requests in flight for at
    /// most the configured grace period.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), DaemonError> {
        let limits = self.state.limits();
        serve::serve(
            listener,
            self.app(),
            limits.header_read_timeout,
            limits.shutdown_grace,
            shutdown,
        )
        .await
    }
}

impl Live {
    /// A live configuration of this orchestrator and these keys.
    pub fn new(orchestrator: pathways_orchestrator::Orchestrator, keys: KeyRing) -> Self {
        Self {
            orchestrator: Arc::new(orchestrator),
            keys: Arc::new(keys),
            webhook_secrets: Arc::default(),
        }
    }

    /// The same, with these partners' callback signing secrets (by partner id).
    pub fn with_webhook_secrets(
        mut self,
        secrets: std::collections::HashMap<String, WebhookSecret>,
    ) -> Self {
        self.webhook_secrets = Arc::new(secrets);
        self
    }
}
