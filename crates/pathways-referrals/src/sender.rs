//! The send loop: claims due cancels, then due outbox rows, each within its partner's room
//! (the free slots of its lane's send bulkhead, less the sends this loop has started and not
//! yet seen finish), and runs each attempt as its own task, up to `concurrency` at once.
//!
//! A partner whose lane is full gets no room: its rows are not claimed, so they are neither
//! leased nor charged an attempt, and the claim takes other partners' rows instead. When
//! nothing it may take is due the loop waits for the poll interval or for a send to finish
//! (which frees room), whichever comes first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use pathways_orchestrator::Orchestrator;
use pathways_store::PartnerRoom;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::{cancel, send, Ctx};

/// The send loop.
pub(crate) async fn run(ctx: Arc<Ctx>, worker: String, mut stopped: watch::Receiver<bool>) {
    let settings = ctx.settings;
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let per_partner = InFlight::default();
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
        // One snapshot of the partner set for this round: the lanes claimed for are the
        // lanes sent through.
        let partners = ctx.host.partners();
        let mut room = per_partner.room(&partners);
        // Cancels first: withdrawing a referral matters more than sending a new one, and
        // there are few.
        let now = Utc::now();
        let cancels =
            match ctx.store.claim_cancels_within(&worker, free, settings.lease, now, &room).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim cancels; trying again");
                    Vec::new()
                }
            };
        let free = free.saturating_sub(u32::try_from(cancels.len()).unwrap_or(u32::MAX));
        let cancelling = !cancels.is_empty();
        for item in cancels {
            room.take(&item.partner_id);
            let started = per_partner.start(&item.partner_id);
            let lane = partners.referral_lane(&item.partner_id);
            let (ctx, worker) = (ctx.clone(), worker.clone());
            in_flight.spawn(async move {
                let _started = started;
                cancel::attempt(&ctx, &worker, item, lane).await;
            });
        }
        if free == 0 {
            continue;
        }
        let now = Utc::now();
        match ctx.store.claim_outbox_within(&worker, free, settings.lease, now, &room).await {
            Ok(items) if !items.is_empty() => {
                for item in items {
                    let started = per_partner.start(&item.partner_id);
                    let lane = partners.referral_lane(&item.partner_id);
                    let (ctx, worker) = (ctx.clone(), worker.clone());
                    in_flight.spawn(async move {
                        let _started = started;
                        send::attempt(&ctx, &worker, item, lane).await;
                    });
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

/// Sends and cancels this loop has started per partner and not yet seen finish. Counted at
/// spawn, before the task takes its bulkhead slot, so a claim right after a spawn does not
/// see room that is already promised.
#[derive(Debug, Default, Clone)]
struct InFlight(Arc<Mutex<HashMap<String, u32>>>);

impl InFlight {
    /// Each lane's room: its send slots less what is in flight to its partner.
    fn room(&self, partners: &Orchestrator) -> PartnerRoom {
        let counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut room = PartnerRoom::default();
        for lane in partners.referral_lanes() {
            let limit = u32::try_from(lane.sends().limit).unwrap_or(u32::MAX);
            let busy = counts.get(lane.partner_id()).copied().unwrap_or(0);
            room.set(lane.partner_id(), limit.saturating_sub(busy));
        }
        room
    }

    /// Counts one more to `partner` until the returned guard is dropped (the task ends, or
    /// is dropped at shutdown).
    fn start(&self, partner: &str) -> Started {
        *self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(partner.into())
            .or_default() += 1;
        Started { counts: self.clone(), partner: partner.into() }
    }
}

/// One send or cancel in flight, counted until dropped.
#[derive(Debug)]
struct Started {
    counts: InFlight,
    partner: String,
}

impl Drop for Started {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.partner) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.partner);
            }
        }
    }
}
