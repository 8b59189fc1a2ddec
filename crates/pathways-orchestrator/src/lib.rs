//! The orchestrator of `pathways`: given one case, ask every relevant partner at once and turn
//! their answers into one coordinated action plan.
//!
//! Three steps, one module each:
//! - [`select`](select()): which configured partners serve which of the case's needs in the
//!   client's area;
//! - [`fan_out`]: ask them concurrently, each with its own timeout, under one plan deadline;
//! - [`build_plan`]: a pure, deterministic function from the case and the answers to the plan.
//!
//! [`Orchestrator`] wires the three together; [`SignpostCatalogue`] says where a client can turn
//! when no partner can help.

mod fanout;
mod orchestrator;
mod planner;
mod select;
mod signposts;
#[cfg(test)]
mod testing;

pub use fanout::{fan_out, OrchestratorSettings, PartnerAnswer};
pub use orchestrator::Orchestrator;
pub use planner::build_plan;
pub use select::{select, ConfiguredPartner, PartnerAsk};
pub use signposts::{Signpost, SignpostCatalogue, SignpostError};
