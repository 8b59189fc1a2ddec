//! The send loop: claims due cancels, then due outbox rows, each within its partner's room
//! (the free slots of its lane's send bulkhead, less the sends this loop has started and not
//! yet seen finish), and runs each attempt as its own task, up to `concurrency` at once.
//!
//! A partner whose lane is full gets no room: its rows are not claimed, so they are neither
//! leased nor charged an attempt, and the claim takes other partners' rows instead. When
//! nothing it may take is due the loop waits for the poll interval or for a send to finish
//! (which frees room), whichever comes first.
//!
//! A lane that stays full (its oldest send has been running for `STALLED_AFTER`: a hung or
//! very slow partner) has its backlog deferred: all but its oldest `concurrency` due rows get a
//! `not_before` `DEFER_FOR` later, renewed while it stays stalled. Every claim walks the due
//! rows oldest first, so a hung partner's thousand queued referrals would otherwise be walked
//! past by every claim for the others; its oldest stay due for the moment its lane frees.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use pathways_orchestrator::Orchestrator;
use pathways_store::PartnerRoom;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::{cancel, send, Ctx};

/// A full lane whose oldest send has run this long is stalled.
const STALLED_AFTER: Duration = Duration::from_millis(500);
/// How long a stalled partner's backlog is moved out of the way at a time.
const DEFER_FOR: Duration = Duration::from_secs(1);

/// The send loop.
pub(crate) async fn run(ctx: Arc<Ctx>, worker: String, mut stopped: watch::Receiver<bool>) {
    let settings = ctx.settings;
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let per_partner = InFlight::default();
    let limit = settings.concurrency.max(1);
    let batch = (limit / 4).max(1);
    let mut waited = false;
    let mut deferred: HashMap<String, Instant> = HashMap::new();
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
        // While sends are in flight, claim in batches of at least a quarter of the slots (or
        // once the poll interval has passed): each claim looks past the queued rows of the
        // partners with no room (a hung partner's), so fewer, larger claims keep that cost off
        // the store's writer.
        if free < batch && !in_flight.is_empty() && !waited {
            waited = true;
            tokio::select! {
                _ = in_flight.join_next() => waited = false,
                () = tokio::time::sleep(settings.poll_interval) => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        waited = false;
        // One snapshot of the partner set for this round: the lanes claimed for are the
        // lanes sent through.
        let partners = ctx.host.partners();
        let mut room = per_partner.room(&partners);
        defer_stalled(&ctx, &per_partner, &room, limit, &mut deferred).await;
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

/// Defers the backlog of each full lane whose oldest send has run for [`STALLED_AFTER`], once
/// per [`DEFER_FOR`], keeping its `keep` oldest rows due.
async fn defer_stalled(
    ctx: &Ctx,
    per_partner: &InFlight,
    room: &PartnerRoom,
    keep: u32,
    deferred: &mut HashMap<String, Instant>,
) {
    let now = Instant::now();
    deferred.retain(|_, until| *until > now);
    for partner in room.full() {
        if deferred.contains_key(&partner) || !per_partner.stalled(&partner, STALLED_AFTER) {
            continue;
        }
        deferred.insert(partner.clone(), now + DEFER_FOR);
        let until = Utc::now() + chrono::Duration::from_std(DEFER_FOR).unwrap_or_default();
        match ctx.store.defer_outbox(&partner, keep, until, Utc::now()).await {
            Ok(0) => {}
            Ok(moved) => tracing::debug!(partner = %partner, moved,
                "partner's lane stalled: its queued referrals wait"),
            Err(e) => tracing::warn!(partner = %partner, error = %e,
                "cannot set a stalled partner's queue aside"),
        }
    }
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
struct InFlight(Arc<Mutex<HashMap<String, HashMap<u64, Instant>>>>, Arc<AtomicU64>);

impl InFlight {
    /// Each lane's room: its send slots less what is in flight to its partner.
    fn room(&self, partners: &Orchestrator) -> PartnerRoom {
        let counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut room = PartnerRoom::default();
        for lane in partners.referral_lanes() {
            let limit = lane.sends().limit;
            let busy = counts.get(lane.partner_id()).map_or(0, HashMap::len);
            let free = u32::try_from(limit.saturating_sub(busy)).unwrap_or(u32::MAX);
            room.set(lane.partner_id(), free);
        }
        room
    }

    /// Whether the oldest send in flight to `partner` started more than `after` ago.
    fn stalled(&self, partner: &str, after: Duration) -> bool {
        let counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        counts
            .get(partner)
            .and_then(|started| started.values().min().copied())
            .is_some_and(|oldest| oldest.elapsed() >= after)
    }

    /// Counts one more to `partner` until the returned guard is dropped (the task ends, or
    /// is dropped at shutdown).
    fn start(&self, partner: &str) -> Started {
        let id = self.1.fetch_add(1, Ordering::Relaxed);
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        counts.entry(partner.into()).or_default().insert(id, Instant::now());
        Started { counts: self.clone(), partner: partner.into(), id }
    }
}

/// One send or cancel in flight, counted until dropped.
#[derive(Debug)]
struct Started {
    counts: InFlight,
    partner: String,
    id: u64,
}

impl Drop for Started {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(started) = counts.get_mut(&self.partner) {
            started.remove(&self.id);
            if started.is_empty() {
                counts.remove(&self.partner);
            }
        }
    }
}
