//! Status polling: asks each partner where its open referrals stand, on a schedule that backs
//! off per referral (doubling from `status_poll_base` to `status_poll_cap` while nothing
//! changes, back to the base when something does), until the referral reaches a final state.
//!
//! Every round (every half `status_poll_base`, between 50 ms and 30 s) pages through **every**
//! open referral with a keyset cursor ([`Store::open_referrals_after`], by id, 500 a page, from
//! plain columns), so none is left out however many there are, and queues each one that is due
//! on its partner's queue, oldest-listed first. Each partner's queue is drained concurrently,
//! up to its lane's poll slots, through the lane (breaker, poll bulkhead, `send_timeout`):
//! partners do not wait for one another, so a slow or hung partner delays only its own
//! referrals, and a partner whose circuit is open is not polled until its cool-down is over
//! (then one trial poll goes first). A referral is in at most one queue at a time, so a
//! partner that answers slowly is never asked twice about the same referral at once.
//!
//! The schedule lives in memory: after a restart every open referral is polled once soon,
//! which is cheap. Two daemons may both poll one referral; the store ignores the repeat.
//!
//! [`Store::open_referrals_after`]: pathways_store::Store::open_referrals_after

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use pathways_core::ReferralRef;
use pathways_orchestrator::{BreakerState, ReferralLane};
use pathways_store::{OpenReferral, ReferralId, StatusChange, StatusSource};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::Ctx;

/// Open referrals listed per page.
const PAGE: u32 = 500;

/// When a referral is next due, and the interval that got it there.
#[derive(Debug)]
struct Due {
    at: Instant,
    interval: Duration,
}

/// How one poll went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Polled {
    /// The partner answered with a state we did not have: recorded.
    Changed,
    /// Nothing new (or the partner failed to say): back off.
    Unchanged,
    /// The partner was not asked (its circuit is open): due again at the next round.
    NotAsked,
}

/// One poll that finished.
#[derive(Debug)]
struct Done {
    referral_id: ReferralId,
    partner_id: String,
    polled: Polled,
}

/// The poller's state between rounds.
#[derive(Debug, Default)]
struct Poller {
    schedule: HashMap<ReferralId, Due>,
    /// Due referrals waiting for a poll slot, per partner.
    queues: HashMap<String, VecDeque<OpenReferral>>,
    /// Polls running, per partner.
    running: HashMap<String, usize>,
    /// Referrals queued or being polled.
    busy: HashSet<ReferralId>,
    tasks: JoinSet<Done>,
}

/// The polling loop.
pub(crate) async fn run(ctx: Arc<Ctx>, mut stopped: watch::Receiver<bool>) {
    let tick = (ctx.settings.status_poll_base / 2)
        .clamp(Duration::from_millis(50), Duration::from_secs(30));
    let mut poller = Poller::default();
    let mut next_round = Instant::now() + tick;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next_round) => {
                poller.round(&ctx).await;
                next_round = Instant::now() + tick;
            }
            Some(done) = poller.tasks.join_next(), if !poller.tasks.is_empty() => {
                match done {
                    Ok(done) => poller.finished(&ctx, done),
                    // Only a panic outside the connector (caught by the lane) gets here.
                    Err(e) => tracing::error!(error = %e, "a status poll task failed"),
                }
            }
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
    }
}

impl Poller {
    /// Lists every open referral, page by page, queues the due ones and starts polls.
    async fn round(&mut self, ctx: &Ctx) {
        let now = Instant::now();
        let base = ctx.settings.status_poll_base;
        let mut open = HashSet::new();
        let mut after: Option<ReferralId> = None;
        let complete = loop {
            let page = match ctx.store.open_referrals_after(after.as_ref(), PAGE).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list open referrals to poll");
                    break false;
                }
            };
            let last_page = page.len() < PAGE as usize;
            after = page.last().map(|r| r.referral_id.clone());
            for referral in page {
                open.insert(referral.referral_id.clone());
                if self.busy.contains(&referral.referral_id) {
                    continue;
                }
                let due = self
                    .schedule
                    .entry(referral.referral_id.clone())
                    .or_insert(Due { at: now, interval: base });
                if due.at > now {
                    continue;
                }
                self.busy.insert(referral.referral_id.clone());
                self.queues.entry(referral.partner_id.clone()).or_default().push_back(referral);
            }
            // Polling starts with the first page, while the others are listed.
            self.start(ctx);
            if last_page {
                break true;
            }
        };
        if complete {
            // Forget the referrals that closed (or went away) since the last round.
            let busy = &self.busy;
            self.schedule.retain(|id, _| open.contains(id) || busy.contains(id));
        }
    }

    /// Starts queued polls, per partner up to its lane's free poll slots.
    fn start(&mut self, ctx: &Ctx) {
        let partners = ctx.host.partners();
        let now = Instant::now();
        let cap = ctx.settings.status_poll_cap;
        for (partner_id, queue) in &mut self.queues {
            if queue.is_empty() {
                continue;
            }
            let Some(lane) = partners.referral_lane(partner_id) else {
                // Not enabled in this configuration: nobody to ask; back off as unchanged.
                for referral in queue.drain(..) {
                    self.busy.remove(&referral.referral_id);
                    if let Some(due) = self.schedule.get_mut(&referral.referral_id) {
                        due.interval = (due.interval * 2).min(cap);
                        due.at = now + due.interval;
                    }
                }
                continue;
            };
            let running = self.running.entry(partner_id.clone()).or_default();
            let slots = match lane.breaker() {
                // Not before its cool-down: the next round looks again.
                BreakerState::Open { .. } | BreakerState::HalfOpen { probing: true } => 0,
                // One trial poll first.
                BreakerState::HalfOpen { probing: false } => 1,
                BreakerState::Closed { .. } => lane.polls().limit,
            };
            while *running < slots {
                let Some(referral) = queue.pop_front() else { break };
                *running += 1;
                let (lane, timeout) = (lane.clone(), ctx.settings.send_timeout);
                let store = ctx.store.clone();
                self.tasks.spawn(async move {
                    let polled = poll_one(&*store, &lane, &referral, timeout).await;
                    Done {
                        referral_id: referral.referral_id,
                        partner_id: referral.partner_id,
                        polled,
                    }
                });
            }
        }
        self.queues.retain(|_, queue| !queue.is_empty());
    }

    /// Reschedules a polled referral and fills the slot it freed.
    fn finished(&mut self, ctx: &Ctx, done: Done) {
        if let Some(running) = self.running.get_mut(&done.partner_id) {
            *running = running.saturating_sub(1);
        }
        self.busy.remove(&done.referral_id);
        let settings = ctx.settings;
        let now = Instant::now();
        if let Some(due) = self.schedule.get_mut(&done.referral_id) {
            match done.polled {
                Polled::Changed => due.interval = settings.status_poll_base,
                Polled::Unchanged => {
                    due.interval = (due.interval * 2).min(settings.status_poll_cap);
                }
                Polled::NotAsked => {}
            }
            due.at = match done.polled {
                Polled::NotAsked => now,
                _ => now + due.interval,
            };
        }
        if done.polled != Polled::NotAsked {
            self.start(ctx);
        }
    }
}

/// Polls one referral through its partner's lane and records a new state.
async fn poll_one(
    store: &dyn pathways_store::Store,
    lane: &ReferralLane,
    referral: &OpenReferral,
    timeout: Duration,
) -> Polled {
    let id = &referral.referral_id;
    let Ok(idempotency_key) = pathways_core::IdempotencyKey::new(referral.idempotency_key.clone())
    else {
        // Checked when the referral was made: a damaged record, not the partner's doing.
        tracing::error!(referral_id = %id, "the referral's stored key cannot be sent; not polled");
        return Polled::Unchanged;
    };
    let reference =
        ReferralRef { partner_reference: referral.partner_reference.clone(), idempotency_key };
    let status = match lane.status(&reference, timeout).await {
        Ok(status) => status,
        Err(e) if !e.reached_partner() => return Polled::NotAsked,
        Err(e) => {
            tracing::debug!(referral_id = %id, error = %e, "status poll failed");
            return Polled::Unchanged;
        }
    };
    let change = StatusChange {
        state: status.state,
        reason: status.reason,
        note: status.note,
        source: StatusSource::PartnerPoll,
        at: status.updated_at.unwrap_or_else(Utc::now),
    };
    match store.record_referral_status(id, &change).await {
        Ok(true) => {
            tracing::info!(referral_id = %id, state = ?change.state, "referral status from polling");
            Polled::Changed
        }
        Ok(false) => Polled::Unchanged,
        Err(e) => {
            tracing::warn!(referral_id = %id, error = %e, "cannot record a polled status");
            Polled::Unchanged
        }
    }
}
