//! The authorities' referral intake: availability of each housing options team, the referrals
//! received, their progress on the sandbox clock, and the idempotency record that makes a
//! repeated referral harmless (the same key with the same body returns the first receipt; with
//! another body it is refused). A referral the referrer withdraws stays withdrawn, whatever
//! the clock would have done with it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use super::data::{self, AuthoritySeed};
use super::wire::{
    validate, DeclineReason, DtrReason, DtrRequest, DtrStatus, Duty, HousingStats, Outcome,
    Receipt, ReferralView, WithdrawalReason,
};
use crate::clock::{ClockConfig, RejectReason, Stage};
use crate::idempotency::{IdempotencyRecord, Replay};
use crate::webhook::{EventReason, Progress, TaskState};
use crate::CapacityOverride;

/// What a referral POST came to.
#[derive(Debug)]
pub(crate) enum PostOutcome {
    /// A new referral (201).
    Created(Receipt),
    /// The referral an earlier POST with this key recorded (200).
    Repeated(Receipt),
    /// The key was used before with a different body (422).
    KeyReused,
    /// The body is well-formed but unusable (422): a code and which field.
    Unprocessable { code: &'static str, message: String },
}

/// What a withdrawal came to.
#[derive(Debug)]
pub(crate) enum WithdrawOutcome {
    /// Withdrawn now, or by an earlier withdrawal: the referral as it stands (200).
    Withdrawn(ReferralView),
    /// The referral was closed or declined first and stays so (409).
    Ended(ReferralView),
    /// No referral has that id (404).
    Unknown,
}

/// A referral's withdrawal: why, when, and the duty its case was under then.
#[derive(Debug, Clone, Copy)]
struct Withdrawal {
    reason: WithdrawalReason,
    at: DateTime<Utc>,
    duty: Option<Duty>,
}

/// How one housing options team answers right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Intake {
    accepting: bool,
    next_triage: Option<NaiveDate>,
    same_day_emergency: bool,
}

/// One recorded referral. Nothing personal is kept: only what its status needs.
#[derive(Debug)]
struct Entry {
    authority: &'static AuthoritySeed,
    reason: DtrReason,
    received_at: DateTime<Utc>,
    arrived: Instant,
    /// Declined on arrival because the intake was closed; the clock does not move it.
    declined_on_arrival: bool,
    /// Withdrawn by the referrer; the clock no longer moves it.
    withdrawn: Option<Withdrawal>,
}

/// Every referral, every idempotency key, the clock, and the statistics.
#[derive(Debug)]
pub(crate) struct ReferralBook {
    referrals: HashMap<String, Entry>,
    by_key: IdempotencyRecord<DtrRequest>,
    ids: fastrand::Rng,
    clock: ClockConfig,
    clock_seed: u64,
    pub stats: HousingStats,
}

impl ReferralBook {
    /// An empty book whose referral ids come from `id_seed` and whose referrals progress on
    /// `clock` (seeded with `clock_seed`).
    pub(crate) fn new(id_seed: u64, clock: ClockConfig, clock_seed: u64) -> Self {
        Self {
            referrals: HashMap::new(),
            by_key: IdempotencyRecord::default(),
            ids: fastrand::Rng::with_seed(id_seed),
            clock,
            clock_seed,
            stats: HousingStats::default(),
        }
    }

    fn intake(
        seed: &AuthoritySeed,
        today: NaiveDate,
        capacity: Option<CapacityOverride>,
    ) -> Intake {
        let (accepting, wait, same_day) = match capacity {
            None => (seed.accepting, seed.triage_wait_days, seed.same_day_emergency),
            Some(CapacityOverride::Open) => (true, 0, true),
            Some(CapacityOverride::Waitlist) => (true, seed.triage_wait_days.max(14), false),
            Some(CapacityOverride::Full) => (false, 0, false),
        };
        Intake {
            accepting,
            next_triage: accepting.then(|| data::triage_date(today, wait)),
            same_day_emergency: accepting && same_day,
        }
    }

    /// `GET /dtr/v1/authorities`.
    pub(crate) fn authorities(
        &self,
        today: NaiveDate,
        capacity: Option<CapacityOverride>,
    ) -> Value {
        let list: Vec<Value> = data::AUTHORITIES
            .iter()
            .map(|a| {
                json!({
                    "ons_code": a.ons_code,
                    "name": a.name,
                    "accepting_referrals": Self::intake(a, today, capacity).accepting,
                })
            })
            .collect();
        Value::Array(list)
    }

    /// `GET /dtr/v1/authorities/{ons}/availability`, or `None` for an authority not served.
    pub(crate) fn availability(
        &self,
        ons_code: &str,
        today: NaiveDate,
        capacity: Option<CapacityOverride>,
    ) -> Option<Value> {
        let seed = data::authority(ons_code)?;
        let intake = Self::intake(seed, today, capacity);
        let team = seed.team;
        let hours: Vec<Value> = team
            .hours
            .iter()
            .map(|(days, opens, closes)| json!({"days": days, "opens_at": opens, "closes_at": closes}))
            .collect();
        Some(json!({
            "authority": seed.ons_code,
            "name": seed.name,
            "accepting_referrals": intake.accepting,
            "next_triage_date": intake.next_triage,
            "same_day_emergency_service": intake.same_day_emergency,
            "housing_options": {
                "phone": team.phone,
                "email": team.email,
                "url": team.url,
                "address": team.address,
                "opening_hours": hours,
                "out_of_hours": team.out_of_hours,
            },
            "updated_at": Utc::now(),
        }))
    }

    /// Handles a parsed referral under `key`.
    pub(crate) fn post(
        &mut self,
        key: &str,
        request: DtrRequest,
        today: NaiveDate,
        capacity: Option<CapacityOverride>,
    ) -> PostOutcome {
        let now = Instant::now();
        match self.by_key.replay(key, &request) {
            Replay::Fresh => {}
            Replay::KeyReused => return PostOutcome::KeyReused,
            Replay::Same(referral_id) => return self.repeated(referral_id, now),
        }
        let Some(seed) = data::authority(&request.chosen_authority) else {
            return PostOutcome::Unprocessable {
                code: "authority_not_served",
                message: "`chosen_authority`: this service takes no referrals for that authority"
                    .into(),
            };
        };
        let received_at = Utc::now();
        if let Err((code, message)) = validate(&request, received_at) {
            return PostOutcome::Unprocessable { code, message };
        }
        let declined_on_arrival = !Self::intake(seed, today, capacity).accepting;
        let referral_id = self.new_referral_id(seed.id_prefix);
        self.referrals.insert(
            referral_id.clone(),
            Entry {
                authority: seed,
                reason: request.reason,
                received_at,
                arrived: now,
                declined_on_arrival,
                withdrawn: None,
            },
        );
        self.by_key.remember(key, request, referral_id.clone());
        self.stats.referrals_created += 1;
        let status = if declined_on_arrival { DtrStatus::Declined } else { DtrStatus::Received };
        PostOutcome::Created(Receipt { referral_id, authority: seed.ons_code, received_at, status })
    }

    /// The answer to a repeat of the POST that recorded `referral_id`: its receipt as the
    /// referral stands at `now`.
    fn repeated(&self, referral_id: &str, now: Instant) -> PostOutcome {
        match self.view_at(referral_id, now) {
            Some(view) => PostOutcome::Repeated(Receipt {
                referral_id: view.referral_id,
                authority: view.authority,
                received_at: view.received_at,
                status: view.status,
            }),
            None => {
                PostOutcome::Unprocessable { code: "internal", message: "referral lost".into() }
            }
        }
    }

    /// A referral as it stands now.
    pub(crate) fn view(&self, referral_id: &str) -> Option<ReferralView> {
        self.view_at(referral_id, Instant::now())
    }

    /// A referral as it stands at `now`: the clock decides how far it has got.
    fn view_at(&self, referral_id: &str, now: Instant) -> Option<ReferralView> {
        let entry = self.referrals.get(referral_id)?;
        let mut view = ReferralView {
            referral_id: referral_id.to_string(),
            authority: entry.authority.ons_code,
            status: DtrStatus::Received,
            duty: None,
            outcome: None,
            reason: None,
            withdrawal_reason: None,
            received_at: entry.received_at,
            updated_at: entry.received_at,
        };
        if entry.declined_on_arrival {
            view.status = DtrStatus::Declined;
            view.reason = Some(DeclineReason::NotAcceptingReferrals);
            return Some(view);
        }
        if let Some(withdrawal) = entry.withdrawn {
            view.status = DtrStatus::Withdrawn;
            view.duty = withdrawal.duty;
            view.withdrawal_reason = Some(withdrawal.reason);
            view.updated_at = withdrawal.at;
            return Some(view);
        }
        let duty = match entry.reason {
            DtrReason::Homeless => Duty::Relief,
            DtrReason::ThreatenedWithHomelessnessWithin56Days => Duty::Prevention,
        };
        let elapsed = now.saturating_duration_since(entry.arrived);
        let stage = self.clock.stage(self.clock_seed, referral_id, elapsed);
        let steps = match stage {
            Stage::Received => 0,
            Stage::Accepted | Stage::Rejected(_) => 1,
            Stage::InProgress => 2,
            Stage::Completed => 3,
        };
        match stage {
            Stage::Received => {}
            Stage::Accepted | Stage::InProgress => {
                view.status = if stage == Stage::Accepted {
                    DtrStatus::Accepted
                } else {
                    DtrStatus::InProgress
                };
                view.duty = Some(duty);
            }
            Stage::Completed => {
                view.status = DtrStatus::Closed;
                view.duty = Some(duty);
                view.outcome = Some(match duty {
                    Duty::Prevention => Outcome::HomelessnessPrevented,
                    Duty::Relief => Outcome::HomelessnessRelieved,
                });
            }
            // A housing authority cannot turn someone away for want of capacity, so the
            // clock's three refusals become the ways an authority really says no.
            Stage::Rejected(RejectReason::NotEligible) => {
                view.status = DtrStatus::Declined;
                view.reason = Some(DeclineReason::NotEligible);
            }
            Stage::Rejected(RejectReason::NoCapacity) => {
                view.status = DtrStatus::Declined;
                view.reason = Some(DeclineReason::NoLocalConnection);
            }
            Stage::Rejected(RejectReason::CouldNotContact) => {
                view.status = DtrStatus::Closed;
                view.outcome = Some(Outcome::CouldNotContact);
            }
        }
        // It changed when the clock last moved it, not when it was asked about.
        let moved = Duration::from_millis(self.clock.step_ms.saturating_mul(steps));
        view.updated_at = chrono::Duration::from_std(moved)
            .ok()
            .and_then(|moved| entry.received_at.checked_add_signed(moved))
            .unwrap_or(entry.received_at);
        Some(view)
    }

    /// Withdraws a referral for `reason`, as the referrer asks: one still received, accepted
    /// or in progress becomes `withdrawn`; withdrawing a withdrawn one changes nothing (the
    /// first reason stays); one closed or declined first is left as it is.
    pub(crate) fn withdraw(
        &mut self,
        referral_id: &str,
        reason: WithdrawalReason,
    ) -> WithdrawOutcome {
        let Some(now) = self.view(referral_id) else {
            return WithdrawOutcome::Unknown;
        };
        match now.status {
            DtrStatus::Withdrawn => return WithdrawOutcome::Withdrawn(now),
            DtrStatus::Closed | DtrStatus::Declined => return WithdrawOutcome::Ended(now),
            DtrStatus::Received | DtrStatus::Accepted | DtrStatus::InProgress => {}
        }
        if let Some(entry) = self.referrals.get_mut(referral_id) {
            entry.withdrawn = Some(Withdrawal { reason, at: Utc::now(), duty: now.duty });
            self.stats.referrals_withdrawn += 1;
        }
        match self.view(referral_id) {
            Some(view) => WithdrawOutcome::Withdrawn(view),
            None => WithdrawOutcome::Unknown,
        }
    }

    /// Where every referral stands now, as referral events tell it. The clock's reasons become
    /// the authority's own, as in [`ReferralBook::view`]: `no_capacity` is a referral passed
    /// on for want of a local connection, told as `out_of_area`.
    pub(crate) fn progress(&self) -> Vec<Progress> {
        let now = Instant::now();
        let step_ms = self.clock.step_ms;
        self.referrals
            .iter()
            .map(|(id, entry)| {
                if entry.declined_on_arrival {
                    let stage = Stage::Rejected(RejectReason::NoCapacity);
                    let mut progress = Progress::on_clock(id, stage, entry.received_at, 0);
                    progress.reason = Some(EventReason::NoCapacity);
                    return progress.in_area(entry.authority.ons_code);
                }
                if let Some(withdrawal) = entry.withdrawn {
                    let reason = match withdrawal.reason {
                        WithdrawalReason::ConsentWithdrawn | WithdrawalReason::NoLongerNeeded => {
                            EventReason::NoLongerInterested
                        }
                        _ => EventReason::Other,
                    };
                    let progress = Progress {
                        reference: id.clone(),
                        state: TaskState::Cancelled,
                        reason: Some(reason),
                        received_at: entry.received_at,
                        changed_at: withdrawal.at,
                        area: None,
                    };
                    return progress.in_area(entry.authority.ons_code);
                }
                let elapsed = now.saturating_duration_since(entry.arrived);
                let stage = self.clock.stage(self.clock_seed, id, elapsed);
                let mut progress = Progress::on_clock(id, stage, entry.received_at, step_ms);
                if stage == Stage::Rejected(RejectReason::NoCapacity) {
                    progress.reason = Some(EventReason::OutOfArea);
                }
                progress.in_area(entry.authority.ons_code)
            })
            .collect()
    }

    fn new_referral_id(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        loop {
            let suffix: String =
                (0..6).map(|_| char::from(ALPHABET[self.ids.usize(..ALPHABET.len())])).collect();
            let id = format!("DTR-{prefix}-{suffix}");
            if !self.referrals.contains_key(&id) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests;
