//! Resilience around each partner call, as a stack of tower layers, one module per concern:
//!
//! - [`breaker`]: a circuit breaker that stops calling a partner after repeated failures and
//!   lets one probe through after a cool-down (hand-written: tower has none);
//! - [`bulkhead`]: a per-partner concurrency limit that sheds the excess at once instead of
//!   queueing it (tower's `ConcurrencyLimit` behind its `LoadShed`);
//! - [`deadline`]: the per-partner timeout (tower's `Timeout`).
//!
//! Each module has the same shape as tower's middleware folders: `mod.rs` (what and why),
//! `layer.rs` (the [`tower::Layer`]) and `error.rs` (the error a caller sees); the breaker, the
//! only one with its own machinery, adds `state.rs`, `service.rs` and `future.rs`.
//!
//! The stack, outermost first, is assembled in one place (`fanout::lane`), for every kind of
//! partner call (availability, and the dispatcher's sends, cancels and status polls): breaker,
//! bulkhead, deadline, partner. The breaker is outside so an open circuit costs nothing (no permit, no
//! call) and so it sees the deadline's timeouts as failures; the bulkhead is outside the deadline
//! so a hung call holds its permit for at most the partner timeout. The plan deadline, which
//! spans every partner of a plan, is the fan-out's (`fanout::run`).

pub mod breaker;
pub mod bulkhead;
pub mod deadline;

/// The error type of the stack: each layer's own error, or the partner's
/// [`PartnerError`](pathways_core::PartnerError), boxed (tower's convention).
pub type BoxError = tower::BoxError;
