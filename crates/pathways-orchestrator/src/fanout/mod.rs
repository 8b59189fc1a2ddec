//! Fan-out: ask every selected partner at once, each through its own breaker, bulkhead and
//! timeout, and stop waiting at the plan deadline.
//!
//! Each partner call runs as its own task, so a partner that blocks or spins cannot hold up the
//! others. Every call goes through the partner's [`PartnerLane`](lane): its circuit breaker
//! (`circuit_open` without calling a partner that keeps failing), its bulkhead (`skipped` when
//! too many calls to it are already in flight, rather than queueing) and the partner timeout
//! (`timed_out`). Over all of them sits one plan deadline ([`run`]): when it passes, the calls
//! still running are aborted (dropping a call's future cancels it, down to the plugin) and
//! reported as timed out, and the plan is built from what arrived.
//!
//! Every partner asked gets exactly one [`PartnerAnswer`], whatever happened. Details are for the
//! operator and carry no personal data: the query itself carries none, and partner errors are
//! required to keep it out of their messages.

mod answer;
pub(crate) mod lane;
mod partner_service;
mod run;
mod settings;
#[cfg(test)]
mod tests;

pub use answer::PartnerAnswer;
pub(crate) use run::fan_out;
pub use run::AnswerObserver;
pub use settings::OrchestratorSettings;
