//! How simulated referrals move through their states as time passes.
//!
//! Every simulator asks the same clock where a referral has got to, from the referral's own
//! key and the time since it arrived, so the progression is deterministic for a seed and needs
//! no background task: received → accepted → in progress → completed, with a configured share
//! rejected (with a reason) instead of accepted. Each simulator maps a [`Stage`] onto its own
//! vocabulary (a voucher's `issued`/`redeemed`, a FHIR Task's `accepted`/`completed`, ...).

use std::hash::{Hash, Hasher};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How fast referrals progress, and how many are turned down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    /// Milliseconds between stages; 0 stops the clock (referrals stay as received), which is
    /// what tests that inspect a fresh referral want.
    pub step_ms: u64,
    /// Fraction of referrals rejected at the first step instead of accepted (0.0 to 1.0).
    pub reject_rate: f64,
}

impl Default for ClockConfig {
    fn default() -> Self {
        Self { step_ms: 0, reject_rate: 0.2 }
    }
}

/// Where a simulated referral has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Arrived, not yet looked at.
    Received,
    /// The partner will help.
    Accepted,
    /// Help is under way.
    InProgress,
    /// Help was given.
    Completed,
    /// The partner turned it down.
    Rejected(RejectReason),
}

/// Why a simulated referral was turned down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The service filled up.
    NoCapacity,
    /// The client does not qualify.
    NotEligible,
    /// The service could not reach the client.
    CouldNotContact,
}

impl ClockConfig {
    /// The stage of the referral identified by `key` after `elapsed`, for `seed`.
    pub fn stage(&self, seed: u64, key: &str, elapsed: Duration) -> Stage {
        if self.step_ms == 0 {
            return Stage::Received;
        }
        let steps = elapsed.as_millis() / u128::from(self.step_ms);
        let draw = draw(seed, key);
        if steps == 0 {
            return Stage::Received;
        }
        if draw < self.reject_rate.clamp(0.0, 1.0) {
            let reason = match (draw * 1_000.0) as u64 % 3 {
                0 => RejectReason::NoCapacity,
                1 => RejectReason::NotEligible,
                _ => RejectReason::CouldNotContact,
            };
            return Stage::Rejected(reason);
        }
        match steps {
            1 => Stage::Accepted,
            2 => Stage::InProgress,
            _ => Stage::Completed,
        }
    }
}

/// A number in [0, 1) fixed by the seed and the key.
fn draw(seed: u64, key: &str) -> f64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut hasher);
    key.hash(&mut hasher);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_clock_keeps_referrals_received() {
        let clock = ClockConfig { step_ms: 0, reject_rate: 1.0 };
        assert_eq!(clock.stage(1, "k", Duration::from_secs(3600)), Stage::Received);
    }

    #[test]
    fn referrals_move_through_the_stages_in_order() {
        let clock = ClockConfig { step_ms: 100, reject_rate: 0.0 };
        let at = |ms| clock.stage(7, "ref-1", Duration::from_millis(ms));
        assert_eq!(at(50), Stage::Received);
        assert_eq!(at(150), Stage::Accepted);
        assert_eq!(at(250), Stage::InProgress);
        assert_eq!(at(10_000), Stage::Completed);
    }

    #[test]
    fn the_configured_share_is_rejected_deterministically() {
        let clock = ClockConfig { step_ms: 1, reject_rate: 0.3 };
        let stages: Vec<Stage> = (0..1_000)
            .map(|i| clock.stage(42, &format!("k{i}"), Duration::from_millis(5)))
            .collect();
        let rejected = stages.iter().filter(|s| matches!(s, Stage::Rejected(_))).count();
        assert!((200..400).contains(&rejected), "{rejected} of 1000 rejected at rate 0.3");
        let again: Vec<Stage> = (0..1_000)
            .map(|i| clock.stage(42, &format!("k{i}"), Duration::from_millis(5)))
            .collect();
        assert_eq!(stages, again, "same seed, same fates");
    }
}
