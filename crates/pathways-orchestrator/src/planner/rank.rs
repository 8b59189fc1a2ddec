//! Which offers can be chosen for a need, and in what order of preference.
//!
//! An offer is *viable* unless the partner said the client is not eligible or that it has no
//! capacity: such an offer is never chosen, and a need whose offers are all like that is unmet.
//! Viable offers rank by, in turn:
//! 1. eligibility: eligible before unknown;
//! 2. capacity: capacity, waitlist, assessment required, unknown;
//! 3. a partner that takes referrals before one the client must contact themselves (the loop
//!    can only be closed on a referral);
//! 4. timeliness: an earliest start by the need's due date, then no date given, then late
//!    (among late offers, the earlier start);
//! 5. pathway statistics: the smoothed chance that a referral along this (partner, need)
//!    pathway is completed, in tenths (see `stats`);
//! 6. fewer hand-offs: a partner already chosen for another need of the case, then a partner
//!    that can meet more of the case's needs;
//! 7. distance, nearest first, unknown last;
//! 8. partner id, service id and name, then the rest of the offer, so any two different offers
//!    always resolve the same way whatever order they arrived in.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use pathways_core::{
    Capability, Capacity, Case, Eligibility, Manifest, NeedCode, Offer, PartnerOutcome, Route,
};

use super::stats::PathwayStats;
use crate::fanout::PartnerAnswer;

/// One offer from one partner for one need.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate<'a> {
    pub partner_id: &'a str,
    /// The partner's display name.
    pub partner_name: &'a str,
    pub manifest: &'a Manifest,
    /// The council confirmed the partner as a domestic-abuse service.
    pub domestic_abuse_confirmed: bool,
    pub offer: &'a Offer,
}

impl Candidate<'_> {
    /// Whether the offer may be chosen at all.
    pub fn is_viable(&self) -> bool {
        !matches!(self.offer.eligibility, Eligibility::NotEligible { .. })
            && self.offer.capacity != Capacity::NoCapacity
    }

    /// Whether the earliest start is after `due_by` (no start given is not late).
    pub fn is_late(&self, due_by: NaiveDate) -> bool {
        self.offer.earliest_start.is_some_and(|start| start > due_by)
    }

    /// Whether the partner accepts referrals at all.
    pub fn takes_referrals(&self) -> bool {
        self.manifest.capabilities.contains(&Capability::Referral)
    }

    /// How the client takes this offer up: per service, never `refer` to a partner that takes
    /// no referrals.
    pub fn route(&self) -> Route {
        self.offer.route_for(self.takes_referrals())
    }

    /// Whether this is `partner_id`'s service `service_id`.
    pub fn is(&self, partner_id: &str, service_id: &str) -> bool {
        self.partner_id == partner_id && self.offer.service.id == service_id
    }

    fn same_service(&self, other: &Candidate<'_>) -> bool {
        self.partner_id == other.partner_id && self.offer.service.id == other.offer.service.id
    }
}

/// Every offer of every answering partner, per case need.
#[derive(Debug)]
pub(super) struct Candidates<'a> {
    by_need: BTreeMap<NeedCode, Vec<Candidate<'a>>>,
    /// How many of the case's needs each partner has a viable offer for.
    coverage: BTreeMap<&'a str, usize>,
    stats: &'a PathwayStats,
}

impl<'a> Candidates<'a> {
    /// Gathers the offers in `answers` that answer a need of `case` the partner was asked about;
    /// anything else a connector sent is ignored.
    pub fn collect(case: &Case, answers: &'a [PartnerAnswer], stats: &'a PathwayStats) -> Self {
        let mut by_need: BTreeMap<NeedCode, Vec<Candidate<'a>>> = BTreeMap::new();
        let mut served: BTreeMap<&'a str, BTreeSet<NeedCode>> = BTreeMap::new();
        for answer in answers.iter().filter(|a| a.outcome == PartnerOutcome::Answered) {
            for offer in &answer.offers {
                if !answer.asked.contains(&offer.need)
                    || !case.needs.iter().any(|n| n.code == offer.need)
                {
                    continue;
                }
                let candidate = Candidate {
                    partner_id: &answer.partner_id,
                    partner_name: &answer.name,
                    manifest: &answer.manifest,
                    domestic_abuse_confirmed: answer.domestic_abuse_confirmed,
                    offer,
                };
                if candidate.is_viable() {
                    served.entry(&answer.partner_id).or_default().insert(offer.need);
                }
                by_need.entry(offer.need).or_default().push(candidate);
            }
        }
        let coverage = served.into_iter().map(|(id, needs)| (id, needs.len())).collect();
        Self { by_need, coverage, stats }
    }

    /// Every offer for `need`, viable or not, in no particular order.
    pub fn all(&self, need: NeedCode) -> &[Candidate<'a>] {
        self.by_need.get(&need).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The viable offers for `need`, best first, given the partners already `chosen` for the
    /// case's other needs and the services `used` for other needs of the same code (a second
    /// need of one kind prefers another service: a falls service, then a Blue Badge). Repeats
    /// of the same partner's same service are dropped.
    pub fn ranked(
        &self,
        need: NeedCode,
        due_by: NaiveDate,
        chosen: &[&str],
        used: &[(&str, &str)],
    ) -> Vec<Candidate<'a>> {
        let mut viable: Vec<Candidate<'a>> =
            self.all(need).iter().copied().filter(Candidate::is_viable).collect();
        viable.sort_by_cached_key(|c| {
            let reused = used.iter().any(|(p, s)| c.is(p, s));
            (reused, self.rank_key(c, due_by, chosen))
        });
        let mut ranked: Vec<Candidate<'a>> = Vec::with_capacity(viable.len());
        for candidate in viable {
            if !ranked.iter().any(|r| r.same_service(&candidate)) {
                ranked.push(candidate);
            }
        }
        ranked
    }

    /// The pathway's counts for a candidate, if it has a history.
    pub fn history(&self, c: &Candidate<'_>) -> Option<super::stats::PathwayCounts> {
        self.stats.get(c.partner_id, c.offer.need)
    }

    fn rank_key(&self, c: &Candidate<'a>, due_by: NaiveDate, chosen: &[&str]) -> RankKey<'a> {
        let offer = c.offer;
        let (timeliness, late_start) = match offer.earliest_start {
            Some(start) if start <= due_by => (0, None),
            None => (1, None),
            Some(start) => (2, Some(start)),
        };
        (
            (eligibility_rank(&offer.eligibility), capacity_rank(offer.capacity)),
            c.route() != Route::Refer,
            (timeliness, late_start),
            Reverse(self.stats.success_band(c.partner_id, offer.need)),
            (
                !chosen.contains(&c.partner_id),
                Reverse(self.coverage.get(c.partner_id).copied().unwrap_or(0)),
            ),
            offer.location.as_ref().and_then(|l| l.distance_m).unwrap_or(u32::MAX),
            (c.partner_id, &offer.service.id, &offer.service.name),
            // Offers equal so far differ only in what is said about them (wait, channel,
            // venue): order them by their wire form, so arrival order never decides.
            serde_json::to_string(offer).unwrap_or_default(),
        )
    }
}

/// Lower is better, field by field (see the module docs).
type RankKey<'a> = (
    (u8, u8),
    bool,
    (u8, Option<NaiveDate>),
    Reverse<u8>,
    (bool, Reverse<usize>),
    u32,
    (&'a str, &'a String, &'a String),
    String,
);

fn eligibility_rank(eligibility: &Eligibility) -> u8 {
    match eligibility {
        Eligibility::Eligible => 0,
        Eligibility::Unknown => 1,
        Eligibility::NotEligible { .. } => 2,
    }
}

fn capacity_rank(capacity: Capacity) -> u8 {
    match capacity {
        Capacity::Capacity => 0,
        Capacity::Waitlist => 1,
        Capacity::AssessmentRequired => 2,
        Capacity::Unknown => 3,
        Capacity::NoCapacity => 4,
    }
}
