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
//! - Every `why` is a sentence a pathfinder can read aloud ([`words`]).

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

pub use build::build_plan;
pub use rules::{LeadChoice, LeadRule, PlanRules};
pub use stats::{PathwayCounts, PathwayStats};
