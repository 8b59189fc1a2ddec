//! Deadline: the longest one partner call may take (the partner timeout for an availability
//! question, the dispatcher's `send_timeout` for a send, cancel or status poll).
//!
//! This is tower's [`Timeout`](tower::timeout::Timeout), with its `Elapsed` error renamed to
//! [`PartnerTimedOut`] so the fan-out can tell it from a partner's own timeout error. It sits
//! inside the bulkhead, so a partner that hangs gives its slot back after the timeout, and inside
//! the breaker, which counts it as a failure. The plan deadline over all partners is the
//! fan-out's, not a layer: it must cut off every call at one instant.

mod error;
mod layer;

pub use error::PartnerTimedOut;
pub use layer::DeadlineLayer;
