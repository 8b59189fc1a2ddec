//! The orchestrator of `pathways`: given one case, ask every relevant partner at once and turn
//! their answers into one coordinated action plan.
//!
//! Three steps, one module each:
//! - [`select`](select()): which configured partners serve which of the case's needs in the
//!   client's area;
//! - fan-out (`fanout`): ask them concurrently, each through its circuit breaker, bulkhead and
//!   timeout ([`resilience`]), under one plan deadline;
//! - [`build_plan`]: a pure, deterministic function from the case, the answers, the pathway
//!   statistics and the rules to the plan.
//!
//! [`Orchestrator`] wires the three together and keeps each partner's resilience state across
//! plans (and, through [`Orchestrator::adopt`], across configuration reloads); the dispatcher's
//! sends, cancels and status polls go through the same per-partner lanes ([`ReferralLane`]).
//! [`PlanRules`] holds what a council configures (lead rules, [`SignpostCatalogue`]).

mod fanout;
pub mod messages;
mod orchestrator;
mod planner;
pub mod resilience;
#[cfg(test)]
mod scenarios;
mod select;
mod signposts;
#[cfg(test)]
mod testing;

pub use fanout::lane::{LaneError, ReferralLane, Slots, DEFAULT_REFERRAL_CONCURRENCY};
pub use fanout::{AnswerObserver, OrchestratorSettings, PartnerAnswer};
pub use messages::{Messages, MessagesError};
pub use orchestrator::{LastAnswer, Orchestrator, PartnerState};
pub use planner::{
    amend_plan, build_plan, replan, Amender, AmendmentError, LeadChoice, LeadRule, Organisation,
    PathwayCounts, PathwayStats, PlanRules,
};
pub use resilience::breaker::{BreakerPolicy, BreakerState};
pub use select::{select, ConfiguredPartner, PartnerAsk};
pub use signposts::{Signpost, SignpostCatalogue, SignpostError};
