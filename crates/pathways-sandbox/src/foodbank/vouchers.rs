//! The e-voucher desk: each food bank's capacity this week, the vouchers issued, and the
//! idempotency record that makes a repeated referral harmless (the same key with the same body
//! returns the first voucher; with another body it is refused).
//!
//! An issued voucher can be cancelled by the agency that asked for it; a cancelled voucher
//! stays cancelled, and one that was redeemed, expired or declined first cannot be cancelled.
//!
//! An issued voucher follows the sandbox clock ([`ClockConfig`]) until someone sets its status
//! by hand: accepted and in progress keep it `issued` (with its collection date), completed
//! makes it `redeemed`, and a refusal `declined` with the matching reason, except that the
//! clock's `could_not_contact` makes it `expired`: the voucher vocabulary has no such decline,
//! and a voucher nobody collects expiring is how a food bank says it never reached the client.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{Datelike, Days, NaiveDate, Utc, Weekday};
use serde_json::{json, Value};

use super::data::{self, FoodbankSeed};
use super::wire::{validate, ReferralStats, Voucher, VoucherReason, VoucherRequest, VoucherStatus};
use crate::clock::{ClockConfig, RejectReason, Stage};
use crate::idempotency::{IdempotencyRecord, Replay};
use crate::webhook::{EventReason, Progress, TaskState};
use crate::CapacityOverride;

/// What a referral POST came to.
#[derive(Debug)]
pub(crate) enum PostOutcome {
    /// A new voucher (201).
    Created(Voucher),
    /// The voucher an earlier POST with this key created (200).
    Repeated(Voucher),
    /// The key was used before with a different body (422).
    KeyReused,
    /// No food bank has that slug (404).
    UnknownFoodbank,
    /// The body is well-formed but unusable (422): a code and which field.
    Unprocessable { code: &'static str, message: String },
}

/// What a cancel came to.
#[derive(Debug)]
pub(crate) enum CancelOutcome {
    /// Cancelled now, or by an earlier cancel: the voucher as it stands (200).
    Cancelled(Voucher),
    /// The voucher reached another final state first and stays there (409).
    Ended(Voucher),
    /// No voucher has that id (404).
    Unknown,
}

/// Capacity of one food bank's desk right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Desk {
    accepting: bool,
    remaining: u32,
    waitlist_weeks: u32,
    next_session: NaiveDate,
}

/// One voucher and what its progress on the clock depends on.
#[derive(Debug)]
struct Entry {
    /// The voucher as issued or as last set by hand.
    voucher: Voucher,
    arrived: Instant,
    /// Set by hand (`set_status`): the clock no longer moves it.
    pinned: bool,
}

/// Every voucher, every idempotency key, the clock, and the statistics.
#[derive(Debug)]
pub(crate) struct VoucherBook {
    vouchers: HashMap<String, Entry>,
    by_key: IdempotencyRecord<VoucherRequest>,
    issued: HashMap<&'static str, u32>,
    ids: fastrand::Rng,
    clock: ClockConfig,
    clock_seed: u64,
    pub stats: ReferralStats,
}

impl VoucherBook {
    /// An empty book whose voucher ids come from `seed`, with the clock stopped.
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            vouchers: HashMap::new(),
            by_key: IdempotencyRecord::default(),
            issued: HashMap::new(),
            ids: fastrand::Rng::with_seed(seed),
            clock: ClockConfig { step_ms: 0, ..ClockConfig::default() },
            clock_seed: 0,
            stats: ReferralStats::default(),
        }
    }

    /// This book with issued vouchers following `clock` (seeded with `clock_seed`).
    pub(crate) fn with_clock(mut self, clock: ClockConfig, clock_seed: u64) -> Self {
        self.clock = clock;
        self.clock_seed = clock_seed;
        self
    }

    fn desk(
        &self,
        fb: &FoodbankSeed,
        today: NaiveDate,
        capacity: Option<CapacityOverride>,
    ) -> Desk {
        let issued = self.issued.get(fb.slug).copied().unwrap_or(0);
        let seeded = fb.vouchers;
        let (accepting, remaining, seeded_wait) = match capacity {
            _ if fb.closed => (false, 0, 0),
            None => (
                seeded.accepting,
                seeded.weekly_vouchers.saturating_sub(issued),
                seeded.waitlist_weeks,
            ),
            Some(CapacityOverride::Open) => (true, 10, 0),
            Some(CapacityOverride::Waitlist) => (true, 0, seeded.waitlist_weeks.max(2)),
            Some(CapacityOverride::Full) => (false, 0, 0),
        };
        // With this week's vouchers gone, a referral waits for next week's.
        let waitlist_weeks =
            if accepting && remaining == 0 { seeded_wait.max(1) } else { seeded_wait };
        let from =
            today.checked_add_days(Days::new(u64::from(waitlist_weeks) * 7)).unwrap_or(today);
        Desk {
            accepting,
            remaining,
            waitlist_weeks,
            next_session: next_session(from, seeded.session_days),
        }
    }

    /// `GET /evoucher/v1/foodbanks/{slug}/availability`, or `None` for an unknown slug.
    pub(crate) fn availability(
        &self,
        slug: &str,
        today: NaiveDate,
        capacity: Option<CapacityOverride>,
    ) -> Option<Value> {
        let fb = data::foodbank(slug)?;
        let desk = self.desk(fb, today, capacity);
        let (opens, closes) = fb.vouchers.session_hours;
        let days: Vec<&str> = fb.vouchers.session_days.iter().map(|d| day_code(*d)).collect();
        Some(json!({
            "foodbank": fb.slug,
            "accepting_referrals": desk.accepting,
            "vouchers_remaining_this_week": desk.remaining,
            "next_session": desk.next_session,
            "waitlist_weeks": desk.waitlist_weeks,
            "sessions": [{"days": days, "opens_at": opens, "closes_at": closes}],
            "updated_at": Utc::now(),
        }))
    }

    /// Handles a parsed referral under `key`.
    pub(crate) fn post(
        &mut self,
        key: &str,
        request: VoucherRequest,
        today: NaiveDate,
        capacity: Option<CapacityOverride>,
    ) -> PostOutcome {
        match self.by_key.replay(key, &request) {
            Replay::Fresh => {}
            Replay::KeyReused => return PostOutcome::KeyReused,
            Replay::Same(voucher_id) => {
                return match self.voucher_at(voucher_id, Instant::now()) {
                    Some(voucher) => PostOutcome::Repeated(voucher),
                    None => PostOutcome::Unprocessable {
                        code: "internal",
                        message: "voucher lost".into(),
                    },
                }
            }
        }
        let Some(fb) = data::foodbank(&request.foodbank) else {
            return PostOutcome::UnknownFoodbank;
        };
        if let Err((code, message)) = validate(&request, today) {
            return PostOutcome::Unprocessable { code, message };
        }
        if fb.closed {
            return PostOutcome::Unprocessable {
                code: "foodbank_closed",
                message: "`foodbank`: this food bank has closed".into(),
            };
        }
        let desk = self.desk(fb, today, capacity);
        let now = Utc::now();
        let voucher_id = self.new_voucher_id();
        let mut voucher = Voucher {
            voucher_id: voucher_id.clone(),
            foodbank: fb.slug.to_string(),
            status: VoucherStatus::Declined,
            status_reason: Some(VoucherReason::NoCapacity),
            agency_reference: request.agency.reference.clone(),
            collect_from: None,
            valid_until: None,
            issued_at: now,
            updated_at: now,
        };
        if desk.accepting {
            voucher.status = VoucherStatus::Issued;
            voucher.status_reason = None;
            voucher.collect_from = Some(desk.next_session);
            voucher.valid_until = desk.next_session.checked_add_days(Days::new(14));
            if desk.remaining > 0 {
                *self.issued.entry(fb.slug).or_insert(0) += 1;
            }
        }
        self.stats.vouchers_created += 1;
        self.vouchers.insert(
            voucher_id.clone(),
            Entry { voucher: voucher.clone(), arrived: Instant::now(), pinned: false },
        );
        self.by_key.remember(key, request, voucher_id);
        PostOutcome::Created(voucher)
    }

    /// A voucher by id, as it stands now.
    pub(crate) fn voucher(&self, voucher_id: &str) -> Option<Voucher> {
        self.voucher_at(voucher_id, Instant::now())
    }

    /// A voucher as it stands at `now`: an issued voucher nobody has set by hand is where the
    /// clock says it has got to.
    fn voucher_at(&self, voucher_id: &str, now: Instant) -> Option<Voucher> {
        let entry = self.vouchers.get(voucher_id)?;
        let mut voucher = entry.voucher.clone();
        if entry.pinned || voucher.status != VoucherStatus::Issued {
            return Some(voucher);
        }
        let elapsed = now.saturating_duration_since(entry.arrived);
        let (status, reason, steps) = match self.clock.stage(self.clock_seed, voucher_id, elapsed) {
            Stage::Received => return Some(voucher),
            Stage::Accepted => (VoucherStatus::Issued, None, 1),
            // A voucher has no "in progress": it stays issued, unchanged since it was issued.
            Stage::InProgress => (VoucherStatus::Issued, None, 1),
            Stage::Completed => (VoucherStatus::Redeemed, None, 3),
            Stage::Rejected(RejectReason::NoCapacity) => {
                (VoucherStatus::Declined, Some(VoucherReason::NoCapacity), 1)
            }
            Stage::Rejected(RejectReason::NotEligible) => {
                (VoucherStatus::Declined, Some(VoucherReason::NotEligible), 1)
            }
            Stage::Rejected(RejectReason::CouldNotContact) => (VoucherStatus::Expired, None, 1),
        };
        voucher.status = status;
        voucher.status_reason = reason;
        // It changed when the clock last moved it, not when it was asked about.
        let moved = std::time::Duration::from_millis(self.clock.step_ms.saturating_mul(steps));
        voucher.updated_at = chrono::Duration::from_std(moved)
            .ok()
            .and_then(|moved| voucher.issued_at.checked_add_signed(moved))
            .unwrap_or(voucher.issued_at);
        Some(voucher)
    }

    /// Where every voucher stands now, as referral events tell it: an issued voucher nobody
    /// has set by hand goes where the clock says (through the stages its `issued` status
    /// hides); a voucher declined on arrival or set by hand is what its status says.
    pub(crate) fn progress(&self) -> Vec<Progress> {
        let now = Instant::now();
        let mut all = Vec::with_capacity(self.vouchers.len());
        for (id, entry) in &self.vouchers {
            let voucher = &entry.voucher;
            if !entry.pinned && voucher.status == VoucherStatus::Issued {
                let stage = self.clock.stage(
                    self.clock_seed,
                    id,
                    now.saturating_duration_since(entry.arrived),
                );
                all.push(Progress::on_clock(id, stage, voucher.issued_at, self.clock.step_ms));
                continue;
            }
            let reason = voucher.status_reason.map(|reason| match reason {
                VoucherReason::NoCapacity => EventReason::NoCapacity,
                VoucherReason::OutOfArea => EventReason::OutOfArea,
                VoucherReason::NotEligible => EventReason::NotEligible,
                VoucherReason::MissingInformation => EventReason::MissingInformation,
                VoucherReason::ClientWithdrew => EventReason::NoLongerInterested,
                VoucherReason::AgencyWithdrew | VoucherReason::Other => EventReason::Other,
            });
            let (state, reason) = match voucher.status {
                VoucherStatus::Issued => (TaskState::Accepted, None),
                VoucherStatus::Redeemed => (TaskState::Completed, None),
                // Nobody collected it: the food bank never reached the client.
                VoucherStatus::Expired => (TaskState::Failed, Some(EventReason::CouldNotContact)),
                VoucherStatus::Cancelled => (TaskState::Cancelled, reason),
                VoucherStatus::Declined => (TaskState::Rejected, reason),
            };
            all.push(Progress {
                reference: id.clone(),
                state,
                reason,
                received_at: voucher.issued_at,
                changed_at: voucher.updated_at,
                area: None,
            });
        }
        all
    }

    /// Cancels an issued voucher for `reason`, as the agency asks. Cancelling a cancelled
    /// voucher changes nothing (the first reason stays); a voucher that was redeemed, expired
    /// or declined (by hand or on the clock) is not cancelled.
    pub(crate) fn cancel(&mut self, voucher_id: &str, reason: VoucherReason) -> CancelOutcome {
        let Some(now) = self.voucher(voucher_id) else {
            return CancelOutcome::Unknown;
        };
        match now.status {
            VoucherStatus::Cancelled => CancelOutcome::Cancelled(now),
            VoucherStatus::Redeemed | VoucherStatus::Expired | VoucherStatus::Declined => {
                CancelOutcome::Ended(now)
            }
            VoucherStatus::Issued => {
                self.set_status(voucher_id, VoucherStatus::Cancelled, Some(reason));
                self.stats.vouchers_cancelled += 1;
                match self.voucher(voucher_id) {
                    Some(voucher) => CancelOutcome::Cancelled(voucher),
                    None => CancelOutcome::Unknown,
                }
            }
        }
    }

    /// Moves a voucher to `status` (as the food bank would); `false` if there is no such
    /// voucher. The clock no longer moves it: what is set by hand wins.
    pub(crate) fn set_status(
        &mut self,
        voucher_id: &str,
        status: VoucherStatus,
        reason: Option<VoucherReason>,
    ) -> bool {
        let Some(entry) = self.vouchers.get_mut(voucher_id) else {
            return false;
        };
        entry.voucher.status = status;
        entry.voucher.status_reason = reason;
        entry.voucher.updated_at = Utc::now();
        entry.pinned = true;
        true
    }

    fn new_voucher_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        loop {
            let suffix: String =
                (0..8).map(|_| char::from(ALPHABET[self.ids.usize(..ALPHABET.len())])).collect();
            let id = format!("FBV-{suffix}");
            if !self.vouchers.contains_key(&id) {
                return id;
            }
        }
    }
}

/// The first session day on or after `from`.
/// A day as the availability answer spells it (FHIR's `daysOfWeek` codes).
fn day_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

pub(crate) fn next_session(from: NaiveDate, session_days: &[Weekday]) -> NaiveDate {
    (0..7)
        .filter_map(|offset| from.checked_add_days(Days::new(offset)))
        .find(|day| session_days.contains(&day.weekday()))
        .unwrap_or(from)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod clock_tests;
