//! Circuit breaker: stop calling a partner that keeps failing, and try it again later with one
//! probe.
//!
//! - **Closed** (normal): calls go through; each failure or timeout in a row is counted, and a
//!   success resets the count. At `failures` in a row the circuit opens.
//! - **Open**: calls fail at once with [`CircuitOpen`] and the partner is reported
//!   `circuit_open` without being called, so a broken partner costs a plan nothing. After
//!   `cooldown` the next call is let through as a probe.
//! - **Half-open**: one probe in flight; other calls are refused as if open. A successful probe
//!   closes the circuit; a failed one opens it for another cool-down. A probe that ends neither
//!   way (shed by the bulkhead, or refused as a bad request) lets the next call probe instead.
//!   (Any success closes the circuit, also a slow call let through before it opened: the
//!   partner has just answered.)
//!
//! What counts is decided by the caller's [`Verdict`] function, so the breaker knows nothing of
//! partners. A call abandoned before it finished (the plan deadline cancelled it) counts as a
//! failure: from the plan's side the partner did not answer in time, and otherwise a partner
//! that always hangs past the plan deadline would never trip its breaker.
//!
//! Hand-written because tower has no circuit breaker, and the crates that offer one either bring
//! their own runtime abstractions or cannot share state across service clones. It is a small
//! state machine ([`state`](self)) behind a mutex, timed with `tokio::time::Instant`, so tests
//! drive it with tokio's paused clock. One [`Breaker`] per partner is kept by the orchestrator
//! and shared by every plan.

mod error;
mod future;
mod layer;
mod service;
mod state;
#[cfg(test)]
mod tests;

pub use error::CircuitOpen;
pub use layer::BreakerLayer;
pub use service::BreakerService;
pub use state::{Breaker, BreakerPolicy, BreakerState, Verdict};
