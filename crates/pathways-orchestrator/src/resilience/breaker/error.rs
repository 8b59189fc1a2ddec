//! The error of a call the open circuit refused.

use std::fmt;
use std::time::Duration;

/// The circuit is open (or a probe is already out), so the partner was not called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitOpen {
    /// Failures in a row that opened the circuit.
    pub failures: u32,
    /// Time until the next probe may go; zero while a probe is in flight.
    pub retry_in: Duration,
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not called: its last {} calls failed or timed out; ", self.failures)?;
        if self.retry_in.is_zero() {
            f.write_str("one trial call is in flight")
        } else {
            let secs = self.retry_in.as_millis().div_ceil(1000);
            write!(f, "it will be tried again in {secs} s")
        }
    }
}

impl std::error::Error for CircuitOpen {}
