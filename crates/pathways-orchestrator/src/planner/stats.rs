//! Pathway statistics: how referrals to each partner for each need have turned out, and the
//! smoothed rates the planner weighs offers by.
//!
//! Counts are per pathway, (partner id, need): referrals sent, accepted by the partner, and
//! completed (the client got the help). Raw rates mislead on few referrals (1 of 1 is not
//! "100%"), so each rate is the mean of a Beta(1, 1) posterior, Laplace's rule of succession:
//! `(successes + 1) / (trials + 2)`. A pathway with no history scores 1/2 on each, and evidence
//! moves it gradually. The planner uses the product, the chance that a referral sent is
//! completed, as a tie-breaker below eligibility, capacity and timeliness (see `rank`).
//!
//! The store feeds these from referral outcomes (a later issue); until then they are empty and
//! change nothing.

use std::collections::BTreeMap;

use pathways_core::NeedCode;
use serde::{Deserialize, Serialize};

/// What happened to the referrals sent along one pathway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathwayCounts {
    /// Referrals sent.
    pub sent: u32,
    /// Of those, accepted by the partner.
    pub accepted: u32,
    /// Of those, completed: the client got the help.
    pub completed: u32,
}

impl PathwayCounts {
    /// The counts made consistent: no more accepted than sent, no more completed than accepted.
    fn consistent(self) -> Self {
        let accepted = self.accepted.min(self.sent);
        Self { sent: self.sent, accepted, completed: self.completed.min(accepted) }
    }

    /// Smoothed chance that a referral sent is accepted.
    pub fn acceptance_rate(&self) -> f64 {
        let c = self.consistent();
        laplace(c.accepted, c.sent)
    }

    /// Smoothed chance that an accepted referral is completed.
    pub fn completion_rate(&self) -> f64 {
        let c = self.consistent();
        laplace(c.completed, c.accepted)
    }

    /// Smoothed chance that a referral sent ends with the client helped.
    pub fn success_rate(&self) -> f64 {
        self.acceptance_rate() * self.completion_rate()
    }
}

fn laplace(successes: u32, trials: u32) -> f64 {
    (f64::from(successes) + 1.0) / (f64::from(trials) + 2.0)
}

/// Pathway statistics for every (partner, need) with a history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PathwayStats {
    by_partner: BTreeMap<String, BTreeMap<NeedCode, PathwayCounts>>,
}

impl PathwayStats {
    /// No history at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the counts of one pathway, replacing any it had.
    pub fn insert(&mut self, partner_id: impl Into<String>, need: NeedCode, counts: PathwayCounts) {
        self.by_partner.entry(partner_id.into()).or_default().insert(need, counts);
    }

    /// The counts of one pathway, if it has a history.
    pub fn get(&self, partner_id: &str, need: NeedCode) -> Option<PathwayCounts> {
        self.by_partner.get(partner_id)?.get(&need).copied()
    }

    /// The pathway's success rate in tenths (0 to 10), the prior's for a pathway without one.
    /// Differences smaller than a tenth are noise at the volumes one area sees, so the planner
    /// treats them as ties and lets fewer hand-offs and distance decide.
    pub(super) fn success_band(&self, partner_id: &str, need: NeedCode) -> u8 {
        let rate = self.get(partner_id, need).unwrap_or_default().success_rate();
        // The rate is within 0..=1, so this is within 0..=10.
        (rate * 10.0).floor().clamp(0.0, 10.0) as u8
    }

    /// Whether no pathway has a history.
    pub fn is_empty(&self) -> bool {
        self.by_partner.is_empty()
    }
}

impl FromIterator<(String, NeedCode, PathwayCounts)> for PathwayStats {
    fn from_iter<I: IntoIterator<Item = (String, NeedCode, PathwayCounts)>>(iter: I) -> Self {
        let mut stats = Self::new();
        for (partner_id, need, counts) in iter {
            stats.insert(partner_id, need, counts);
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_smoothed_towards_a_half() {
        let none = PathwayCounts::default();
        assert_eq!(none.acceptance_rate(), 0.5);
        assert_eq!(none.success_rate(), 0.25);
        let one_of_one = PathwayCounts { sent: 1, accepted: 1, completed: 1 };
        assert!((one_of_one.acceptance_rate() - 2.0 / 3.0).abs() < 1e-9, "1 of 1 is not 100%");
        let strong = PathwayCounts { sent: 40, accepted: 38, completed: 35 };
        assert!(strong.success_rate() > 0.8);
    }

    #[test]
    fn inconsistent_counts_are_clamped_not_trusted() {
        let odd = PathwayCounts { sent: 2, accepted: 10, completed: 50 };
        assert_eq!(odd.acceptance_rate(), 0.75);
        assert_eq!(odd.completion_rate(), 0.75);
        let stats: PathwayStats = [("p".to_string(), NeedCode::Food, odd)].into_iter().collect();
        assert!(stats.success_band("p", NeedCode::Food) <= 10);
        assert_eq!(stats.success_band("unknown", NeedCode::Food), 2, "the prior's band");
    }
}
