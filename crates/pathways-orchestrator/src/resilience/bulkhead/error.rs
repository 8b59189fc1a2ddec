//! The error of a call shed by the bulkhead.

use std::fmt;

/// Every slot of the partner's bulkhead was taken, so the call was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartnerBusy {
    /// The partner's concurrency limit, all of it in use.
    pub in_flight: usize,
}

impl fmt::Display for PartnerBusy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "partner busy: {} calls in flight", self.in_flight)
    }
}

impl std::error::Error for PartnerBusy {}
