//! The dispatcher: sends referrals from the outbox to partners, and follows them by polling.
//!
//! A background task of the daemon. It claims due outbox rows under a lease (several daemons
//! on one PostgreSQL never claim the same row), sends each through the partner of the current
//! partner set, and finishes the row: delivered, retry later (capped exponential backoff with
//! full jitter, the partner's `Retry-After` as a floor), or failed with the reason (a permanent
//! error, or the retry budget spent). The attempt is counted when claimed, so a daemon killed
//! mid-send still spends from the budget, and its lease lapses so another picks the row up; the
//! partner sees the referral's idempotency key each time, so a repeat creates nothing new.
//!
//! Cancels (`POST /v1/referrals/{id}/cancel` of a referral being sent or delivered) are
//! claimed the same way from their own queue, before sends, and go through the partner's
//! `cancel_referral` with the same timeout, backoff and budgets.
//!
//! Shutdown stops claiming at once and gives sends in flight the grace period to finish; any
//! still running are dropped and their leases lapse.

mod backoff;
mod cancel;
mod poll;
mod send;
mod settings;

pub use settings::DispatchSettings;

use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::state::AppState;

/// A running dispatcher; [`Dispatcher::shutdown`] stops it.
#[derive(Debug)]
pub struct Dispatcher {
    stop: watch::Sender<bool>,
    sender: JoinHandle<()>,
    poller: JoinHandle<()>,
    stats: JoinHandle<()>,
}

impl Dispatcher {
    /// Starts sending and polling on the current runtime.
    pub(crate) fn start(state: AppState, settings: DispatchSettings) -> Self {
        let (stop, stopped) = watch::channel(false);
        let worker = format!("dispatcher-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let stats = tokio::spawn(crate::reports::refresh(
            state.clone(),
            settings.stats_refresh,
            stopped.clone(),
        ));
        let (sender, poller) = if settings.enabled {
            tracing::info!(worker = %worker, concurrency = settings.concurrency, "dispatcher started");
            let sender = tokio::spawn(run(state.clone(), settings, worker, stopped.clone()));
            (sender, tokio::spawn(poll::run(state, settings, stopped)))
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

/// The send loop.
async fn run(
    state: AppState,
    settings: DispatchSettings,
    worker: String,
    mut stopped: watch::Receiver<bool>,
) {
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let limit = settings.concurrency.max(1);
    loop {
        if *stopped.borrow() {
            break;
        }
        while in_flight.try_join_next().is_some() {}
        let free = limit.saturating_sub(u32::try_from(in_flight.len()).unwrap_or(u32::MAX));
        if free == 0 {
            tokio::select! {
                _ = in_flight.join_next() => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        // Cancels first: withdrawing a referral matters more than sending a new one, and
        // there are few.
        let cancels =
            match state.store().claim_cancels(&worker, free, settings.lease, Utc::now()).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim cancels; trying again");
                    Vec::new()
                }
            };
        let free = free.saturating_sub(u32::try_from(cancels.len()).unwrap_or(u32::MAX));
        let cancelling = !cancels.is_empty();
        for item in cancels {
            in_flight.spawn(cancel::attempt(state.clone(), settings, worker.clone(), item));
        }
        if free == 0 {
            continue;
        }
        match state.store().claim_outbox(&worker, free, settings.lease, Utc::now()).await {
            Ok(items) if !items.is_empty() => {
                for item in items {
                    in_flight.spawn(send::attempt(state.clone(), settings, worker.clone(), item));
                }
            }
            Ok(_) if cancelling => {}
            Ok(_) => idle(&mut in_flight, &mut stopped, settings.poll_interval).await,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim from the outbox; trying again");
                idle(&mut in_flight, &mut stopped, settings.poll_interval).await;
            }
        }
    }
    // Stop claiming; wait for the sends in flight (the caller bounds this wait).
    while in_flight.join_next().await.is_some() {}
    tracing::info!("dispatcher stopped");
}

/// Waits for the poll interval, a send to finish, or the stop signal.
async fn idle(in_flight: &mut JoinSet<()>, stopped: &mut watch::Receiver<bool>, wait: Duration) {
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
        _ = stopped.changed() => {}
    }
}
