//! The error of a call cut off by the partner timeout.

use std::fmt;

/// The partner did not answer within the partner timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartnerTimedOut;

impl fmt::Display for PartnerTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no answer within the partner timeout")
    }
}

impl std::error::Error for PartnerTimedOut {}
