//! [`OrchestratorSettings`]: how long the orchestrator waits, and how it protects itself from
//! slow or failing partners.

use std::time::Duration;

use crate::resilience::breaker::BreakerPolicy;

/// How long the orchestrator waits, and the per-partner bulkhead and breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrchestratorSettings {
    /// After this, the plan is built from whatever has arrived.
    pub plan_deadline: Duration,
    /// The longest one partner's availability call may take.
    pub partner_timeout: Duration,
    /// Calls in flight to one partner at once, across every plan; more are shed (`skipped`).
    pub partner_concurrency: usize,
    /// When a partner's circuit opens, and for how long.
    pub breaker: BreakerPolicy,
}

impl Default for OrchestratorSettings {
    /// CONTRACT.md's 2 s per plan and 1.5 s per partner; 8 calls in flight per partner; the
    /// circuit opens after 5 failures in a row, for 30 s.
    fn default() -> Self {
        Self {
            plan_deadline: Duration::from_millis(2000),
            partner_timeout: Duration::from_millis(1500),
            partner_concurrency: 8,
            breaker: BreakerPolicy { failures: 5, cooldown: Duration::from_secs(30) },
        }
    }
}
