//! The planner: a pure, deterministic function from a case, what partners said, pathway
//! statistics and the configured rules to one coordinated action plan.
//!
//! No clock, no I/O, no randomness: the same inputs give the same plan, whatever order the
//! answers arrived in. That makes the plan explainable and testable.
//!
//! - Every need of the case appears exactly once: as a step when some partner made a viable
//!   offer for it (`refer`, or `signpost` / `self_help` for a service the client contacts
//!   themselves; see [`steps`]), otherwise in `unmet` with the reason and national signposts.
//! - Offers are chosen by eligibility, capacity, timeliness, pathway statistics, fewer
//!   hand-offs and distance ([`rank`], [`stats`]).
//! - Needs are planned, and steps ordered, safety first (domestic abuse, safeguarding,
//!   nowhere to sleep tonight), then by urgency and due date, then in the order the case lists
//!   them ([`build`]).
//! - Each step keeps up to two fallbacks, lists the client fields the referral would share
//!   (minimised per partner) and says whether the client must agree first ([`consent`]).
//! - The lead coordinator is chosen by configurable rules ([`rules`], [`lead`]).
//! - Every `why` is a sentence a pathfinder can read aloud, in the client's language, from
//!   the message catalogue ([`words`], [`crate::messages`]); technical terms go in the
//!   pathfinder's `note`.
//! - Amendments made with the client ([`amend_plan`]) and re-plans ([`replan`]) go through the
//!   same function, so every version keeps these properties.

mod build;
mod consent;
mod lead;
mod rank;
mod rules;
mod stats;
mod steps;
#[cfg(test)]
mod tests;
mod words;

pub use build::{amend_plan, build_plan, replan, Amender, AmendmentError};
pub use rules::{LeadChoice, LeadRule, Organisation, PlanRules};
pub use stats::{PathwayCounts, PathwayStats};

/// What every part of the planner reads while building one plan.
pub(crate) struct Context<'a> {
    pub case: &'a pathways_core::Case,
    pub answers: &'a [crate::fanout::PartnerAnswer],
    pub rules: &'a PlanRules,
    /// The client's language's words.
    pub words: crate::messages::Words<'a>,
    /// The day the plan is made.
    pub today: chrono::NaiveDate,
    /// The referring organisation's network, whose own national lines are never signposted.
    pub network: Option<String>,
}

impl Context<'_> {
    /// A partner's display name: its `[[partners]]` name, else its `[organisations]` name,
    /// else the id.
    pub fn partner_name(&self, id: &str) -> String {
        self.configured_partner(id)
            .or_else(|| self.configured_organisation(id))
            .unwrap_or_else(|| id.to_string())
    }

    /// An organisation's display name: its `[organisations]` name, else (a council that refers
    /// and is also a partner) its `[[partners]]` name, else the id.
    pub fn organisation_name(&self, id: &str) -> String {
        self.configured_organisation(id)
            .or_else(|| self.configured_partner(id))
            .unwrap_or_else(|| id.to_string())
    }

    fn configured_partner(&self, id: &str) -> Option<String> {
        self.answers.iter().find(|a| a.partner_id == id).map(|a| a.name.clone())
    }

    fn configured_organisation(&self, id: &str) -> Option<String> {
        self.rules.organisations.get(id).map(|o| o.name.clone())
    }
}
