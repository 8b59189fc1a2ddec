//! The dispatcher of `pathways`: sends referrals from the outbox to partners, cancels them at
//! partners, follows them to their outcome by status polling, and feeds the outcomes back to
//! the planner as pathway statistics. A library: the daemon (or a test, or a benchmark) gives
//! it a store and a [`DispatchHost`] and starts it with [`Dispatcher::start`].
//!
//! **Sending.** The send loop (`sender`) claims due outbox rows under a lease (several
//! daemons on one PostgreSQL never claim the same row), sends each through the partner of the
//! current partner set, and finishes the row: delivered, retry later (capped exponential
//! backoff with full jitter, the partner's `Retry-After` as a floor), or failed with the reason
//! (a permanent error, or the retry budget spent). The attempt is counted when claimed, so a
//! daemon killed mid-send still spends from the budget, and its lease lapses so another picks
//! the row up; the partner sees the referral's idempotency key each time, so a repeat creates
//! nothing new. Cancels (`POST /v1/referrals/{id}/cancel` of a referral being sent or
//! delivered) are claimed the same way from their own queue, before sends, and go through the
//! partner's `cancel_referral` with the same timeout, backoff and budgets.
//!
//! **Every partner call through the partner's lane.** Sends, cancels and status polls go
//! through [`ReferralLane`](pathways_orchestrator::ReferralLane): the partner's circuit breaker
//! (the same one its availability calls go through, so it counts send and poll failures too),
//! a bulkhead per kind of traffic (sends and cancels share one of `dispatch.partner_concurrency`
//! slots, status polls have another of the same size), and `send_timeout` as the deadline. A
//! claim takes no more of a partner's rows than its lane has room for, so a hung partner holds
//! at most its own slots, each until the deadline: its other rows stay unclaimed (unleased, no
//! attempt spent) while every other partner's are sent. An open circuit makes a send or cancel
//! a retry-later without calling the partner, no sooner than the circuit's cool-down; the claim
//! is given back without spending its attempt (the age budget still applies).
//!
//! **Polling** (`poll`) pages through every open referral with a keyset cursor each round,
//! and polls each one that is due, concurrently per partner up to the lane's poll slots; each
//! partner has its own queue, so a slow partner delays only its own referrals.
//!
//! Shutdown stops claiming at once and gives sends in flight the grace period to finish; any
//! still running are dropped and their leases lapse.

mod backoff;
mod cancel;
mod poll;
mod send;
mod sender;
mod settings;
mod stats;

pub use settings::DispatchSettings;
pub use stats::{planner_stats, STATS_WINDOW};

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathways_orchestrator::Orchestrator;
use pathways_store::{AuditEntry, DispatchOutcome, Store};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the dispatcher needs of the program it runs in, besides the store.
#[async_trait]
pub trait DispatchHost: Send + Sync + fmt::Debug + 'static {
    /// The current partner set with each partner's lane: in the daemon, the live
    /// orchestrator, replaced whole by a configuration reload. The dispatcher takes one
    /// snapshot per piece of work, so a send started before a reload finishes on the
    /// connector it started with.
    fn partners(&self) -> Arc<Orchestrator>;

    /// A send of a referral to `partner` is being attempted (for the metrics).
    fn send_attempted(&self, partner: &str) {
        let _ = partner;
    }

    /// A send to `partner` ended with `outcome` after `took` (for the metrics).
    fn send_finished(&self, partner: &str, outcome: &DispatchOutcome, took: Duration) {
        let _ = (partner, outcome, took);
    }

    /// Records an audit entry the dispatcher made (how a cancel at a partner ended, as key id
    /// `system:dispatch`). The host writes it to the audit log and deals with a failure.
    async fn audit(&self, entry: AuditEntry);
}

/// What every task of one dispatcher shares.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) host: Arc<dyn DispatchHost>,
    pub(crate) settings: DispatchSettings,
    pub(crate) crashes: send::HostCrashes,
}

/// A running dispatcher; [`Dispatcher::shutdown`] stops it.
#[derive(Debug)]
pub struct Dispatcher {
    stop: watch::Sender<bool>,
    sender: JoinHandle<()>,
    poller: JoinHandle<()>,
    stats: JoinHandle<()>,
}

impl Dispatcher {
    /// Starts sending, polling and refreshing the planner's statistics on the current tokio
    /// runtime (sending and polling only when `settings.enabled`).
    pub fn start(
        store: Arc<dyn Store>,
        host: Arc<dyn DispatchHost>,
        settings: DispatchSettings,
    ) -> Self {
        let ctx = Arc::new(Ctx { store, host, settings, crashes: Default::default() });
        let (stop, stopped) = watch::channel(false);
        let worker = format!("dispatcher-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let stats = tokio::spawn(stats::refresh(ctx.clone(), stopped.clone()));
        let (sender, poller) = if settings.enabled {
            tracing::info!(worker = %worker, concurrency = settings.concurrency, "dispatcher started");
            let sender = tokio::spawn(sender::run(ctx.clone(), worker, stopped.clone()));
            (sender, tokio::spawn(poll::run(ctx, stopped)))
        } else {
            tracing::info!("dispatch is off in this daemon (`dispatch.enabled = false`)");
            (tokio::spawn(async {}), tokio::spawn(async {}))
        };
        Self { stop, sender, poller, stats }
    }

    /// Stops claiming, lets sends in flight finish within `grace`, and returns.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        self.poller.abort();
        self.stats.abort();
        if tokio::time::timeout(grace, self.sender).await.is_err() {
            tracing::warn!("sends still in flight after the grace period; their leases will lapse");
        }
    }
}
