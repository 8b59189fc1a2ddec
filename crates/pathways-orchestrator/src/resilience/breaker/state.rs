//! The breaker's state machine, shared by every call to one partner.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::error::CircuitOpen;

/// When a breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Failures in a row that open the circuit; 0 turns the breaker off.
    pub failures: u32,
    /// How long the circuit stays open before one probe is let through.
    pub cooldown: Duration,
}

/// How one finished call counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The partner answered: closes the circuit.
    Success,
    /// The partner failed or did not answer in time.
    Failure,
    /// Says nothing about the partner's health (e.g. the call was shed before reaching it).
    Ignore,
}

/// A breaker's state, as reported to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; `failures` in a row so far.
    Closed {
        /// Consecutive failures counted.
        failures: u32,
    },
    /// Calls are refused; the next probe may go in `retry_in`.
    Open {
        /// Time until a probe may go.
        retry_in: Duration,
    },
    /// A probe may go, or is in flight.
    HalfOpen {
        /// Whether the probe is in flight.
        probing: bool,
    },
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// What [`Breaker::admit`] gave a call: whether it is the half-open probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Admission {
    pub probe: bool,
}

/// One partner's circuit breaker.
#[derive(Debug)]
pub struct Breaker {
    policy: BreakerPolicy,
    phase: Mutex<Phase>,
}

impl Breaker {
    /// A closed breaker with `policy`.
    pub fn new(policy: BreakerPolicy) -> Self {
        Self { policy, phase: Mutex::new(Phase::Closed { failures: 0 }) }
    }

    /// The breaker's policy.
    pub fn policy(&self) -> BreakerPolicy {
        self.policy
    }

    /// The state now, for reports.
    pub fn state(&self) -> BreakerState {
        let now = Instant::now();
        match *self.lock() {
            Phase::Closed { failures } => BreakerState::Closed { failures },
            Phase::Open { until } if until > now => {
                BreakerState::Open { retry_in: until.duration_since(now) }
            }
            Phase::Open { .. } => BreakerState::HalfOpen { probing: false },
            Phase::HalfOpen { probing } => BreakerState::HalfOpen { probing },
        }
    }

    /// Lets a call through, or says why not.
    pub(super) fn admit(&self) -> Result<Admission, CircuitOpen> {
        let now = Instant::now();
        let mut phase = self.lock();
        match *phase {
            Phase::Closed { .. } => Ok(Admission { probe: false }),
            Phase::Open { until } if until > now => Err(self.refusal(until.duration_since(now))),
            Phase::Open { .. } | Phase::HalfOpen { probing: false } => {
                *phase = Phase::HalfOpen { probing: true };
                Ok(Admission { probe: true })
            }
            Phase::HalfOpen { probing: true } => Err(self.refusal(Duration::ZERO)),
        }
    }

    /// Records how an admitted call ended.
    pub(super) fn record(&self, admission: Admission, verdict: Verdict) {
        if self.policy.failures == 0 {
            return;
        }
        let now = Instant::now();
        let mut phase = self.lock();
        let open = Phase::Open { until: now + self.policy.cooldown };
        *phase = match (*phase, verdict) {
            (_, Verdict::Success) => Phase::Closed { failures: 0 },
            (Phase::Closed { failures }, Verdict::Failure) => {
                let failures = failures.saturating_add(1);
                if failures >= self.policy.failures {
                    open
                } else {
                    Phase::Closed { failures }
                }
            }
            // Only the probe's failure re-opens; a straggler from before the circuit opened
            // does not extend the cool-down.
            (Phase::HalfOpen { .. }, Verdict::Failure) if admission.probe => open,
            (Phase::HalfOpen { .. }, Verdict::Ignore) if admission.probe => {
                Phase::HalfOpen { probing: false }
            }
            (current, _) => current,
        };
    }

    fn refusal(&self, retry_in: Duration) -> CircuitOpen {
        CircuitOpen { failures: self.policy.failures, retry_in }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        // The state is a plain value, valid even if a holder panicked.
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
