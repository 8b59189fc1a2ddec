//! What every simulator is made of, whatever partner it plays: shared handler state behind an
//! [`Arc`], a fault injector seeded from the sandbox seed, a server on its own loopback
//! listener, and the `/_sandbox` control routes (`GET /_sandbox/stats`, `GET`/`PUT
//! /_sandbox/faults`), which are never faulted and never authenticated.
//!
//! A partner's folder supplies its state (implementing [`SimState`]), its router and any
//! control of its own (moving a voucher, a Task); [`Simulator`] does the rest, so the four
//! simulators start, stop and answer the control routes the same way.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::sync::watch;

use crate::faults::{FaultInjector, Faults};
use crate::http::{error, parse_json};
use crate::server::RunningServer;
use crate::webhook::{Notifier, Progress, WebhookSetup, WebhookStats};
use crate::SandboxError;

/// The state one simulator's handlers share.
pub(crate) trait SimState: Debug + Send + Sync + 'static {
    /// The counts `GET /_sandbox/stats` answers with.
    type Stats: Serialize + Send;

    /// The simulator's fault injector.
    fn faults(&self) -> &FaultInjector;

    /// A snapshot of the counts.
    fn stats(&self) -> Self::Stats;

    /// Where every referral the simulator holds stands now, for the webhook notifier.
    fn progress(&self) -> Vec<Progress>;
}

/// How a simulator's fault injector starts: the configured knobs and its random stream's seed
/// (the sandbox seed mixed with the partner's own stream constant).
#[derive(Debug, Clone)]
pub(crate) struct FaultSetup {
    /// The knobs configured for this simulator.
    pub faults: Faults,
    /// Seed of the injector's random stream.
    pub seed: u64,
}

/// A running simulator: its shared state, its server, and its webhook notifier if configured.
#[derive(Debug)]
pub(crate) struct Simulator<S> {
    state: Arc<S>,
    server: RunningServer,
    notifier: Option<Notifier>,
}

impl<S: SimState> Simulator<S> {
    /// Builds the state around a new fault injector, serves `router` plus the control routes
    /// on `listen`, and starts the webhook notifier when one is configured.
    pub(crate) async fn start(
        partner: &'static str,
        listen: SocketAddr,
        faults: FaultSetup,
        webhook: Option<WebhookSetup>,
        state: impl FnOnce(Arc<FaultInjector>) -> S,
        router: impl FnOnce(Arc<S>) -> Router,
    ) -> Result<Self, SandboxError> {
        let (stop, stopping) = watch::channel(false);
        let injector = Arc::new(FaultInjector::new(faults.faults, faults.seed, stopping));
        let state = Arc::new(state(injector));
        // The notifier first: a bad secret must not leave a server listening.
        let notifier = match webhook {
            Some(setup) => Some(Notifier::start(partner, setup, state.clone())?),
            None => None,
        };
        let router = router(state.clone()).merge(control_routes().with_state(state.clone()));
        let server = match RunningServer::start(partner, listen, router, stop).await {
            Ok(server) => server,
            Err(err) => {
                if let Some(notifier) = notifier {
                    notifier.stop().await;
                }
                return Err(err);
            }
        };
        Ok(Self { state, server, notifier })
    }

    /// The handlers' shared state.
    pub(crate) fn state(&self) -> &S {
        &self.state
    }

    /// `http://IP:PORT` of the simulator.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Replaces the fault knobs from now on.
    pub(crate) fn set_faults(&self, faults: Faults) {
        self.state.faults().set(faults);
    }

    /// A snapshot of the counts.
    pub(crate) fn stats(&self) -> S::Stats {
        self.state.stats()
    }

    /// Counts of the webhook notifier's deliveries, when one is configured.
    pub(crate) fn webhook_stats(&self) -> Option<WebhookStats> {
        self.notifier.as_ref().map(Notifier::stats)
    }

    /// Stops the simulator and its notifier; requests held by the `hang` fault are released.
    pub(crate) async fn stop(self) {
        if let Some(notifier) = self.notifier {
            notifier.stop().await;
        }
        self.server.stop().await;
    }
}

/// Locks a simulator's book. A panic while holding the lock cannot leave a book half-written
/// in a way that matters to a simulator, so a poisoned lock keeps serving.
pub(crate) fn lock<T>(book: &Mutex<T>) -> MutexGuard<'_, T> {
    book.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `GET /_sandbox/stats` and `GET`/`PUT /_sandbox/faults`.
fn control_routes<S: SimState>() -> Router<Arc<S>> {
    Router::new()
        .route("/_sandbox/stats", get(stats::<S>))
        .route("/_sandbox/faults", get(get_faults::<S>).put(put_faults::<S>))
}

async fn stats<S: SimState>(State(state): State<Arc<S>>) -> Response {
    Json(state.stats()).into_response()
}

async fn get_faults<S: SimState>(State(state): State<Arc<S>>) -> Response {
    Json(state.faults().get()).into_response()
}

async fn put_faults<S: SimState>(State(state): State<Arc<S>>, body: Bytes) -> Response {
    let faults: Faults = match parse_json(&body) {
        Ok(faults) => faults,
        Err(refused) => return refused.into_response(),
    };
    if let Err((field, message)) = faults.validate() {
        return error(StatusCode::BAD_REQUEST, "invalid_value", format!("`{field}` {message}"));
    }
    state.faults().set(faults.clone());
    Json(faults).into_response()
}
