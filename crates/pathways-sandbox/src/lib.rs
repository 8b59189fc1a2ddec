//! Local simulators of the partners' public APIs, for the demo, tests and benchmarks.
//!
//! Each simulated partner listens on its own loopback socket and speaks that partner's
//! published shape, implemented here independently of the connectors in `plugins/`: a
//! connector that misreads a specification fails against the sandbox instead of agreeing with
//! itself. Each simulator has fault knobs ([`Faults`]: latency, errors, rate limiting, hangs,
//! malformed and oversized answers, capacity) that can be set in `config/sandbox.toml` or
//! changed at run time, and every random choice comes from the configured seed.
//!
//! Simulated partners so far:
//! - food banks ([`foodbank`](crate::Sandbox::foodbank_url)): a Give Food API v2 directory and
//!   a Trussell-style e-voucher API; the wire shapes are documented in the `foodbank` module.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pathways_sandbox::SandboxError> {
//! use pathways_sandbox::{Faults, Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let base_url = sandbox.foodbank_url(); // "http://127.0.0.1:PORT"
//! sandbox.set_foodbank_faults(Faults { error_rate: 1.0, ..Faults::none() });
//! assert_eq!(sandbox.foodbank_stats().total_posts, 0);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod clock;
mod config;
mod faults;
mod foodbank;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use clock::{ClockConfig, RejectReason, Stage};
pub use config::{FoodbankSimConfig, SandboxConfig};
pub use faults::{CapacityOverride, Faults};
pub use foodbank::{ReferralStats, VoucherReason, VoucherStatus};

/// What can go wrong starting or driving the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The configuration file could not be read.
    #[error("{}: cannot read the sandbox configuration: {source}", file.display())]
    ReadConfig {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error("{origin}: {}{message}", config_location(field, *line))]
    Config {
        /// The file, or "sandbox configuration" for a string.
        origin: String,
        /// Dotted path of the offending field, e.g. `foodbank.faults.error_rate`.
        field: String,
        /// Line of the offending text, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A simulator could not listen on its address.
    #[error("cannot listen on {addr} for the {partner} simulator: {source}")]
    Bind {
        /// Which simulator.
        partner: &'static str,
        /// The configured address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// No voucher has this id.
    #[error("the food bank simulator has no voucher `{0}`")]
    UnknownVoucher(String),
}

/// "at `field` (line N): " for a configuration error, leaving out what is not known.
fn config_location(field: &str, line: Option<usize>) -> String {
    match (field.is_empty(), line) {
        (true, None) => String::new(),
        (true, Some(line)) => format!("line {line}: "),
        (false, None) => format!("at `{field}`: "),
        (false, Some(line)) => format!("at `{field}` (line {line}): "),
    }
}

/// The running simulators. Dropping it without [`Sandbox::shutdown`] leaves them running until
/// the tokio runtime ends.
#[derive(Debug)]
pub struct Sandbox {
    foodbank: foodbank::FoodbankSim,
}

impl Sandbox {
    /// Starts every simulator on its configured address.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let foodbank =
            foodbank::FoodbankSim::start(&config.foodbank, config.seed, config.today).await?;
        Ok(Sandbox { foodbank })
    }

    /// Base URL of the food bank simulator, e.g. `http://127.0.0.1:9101`.
    pub fn foodbank_url(&self) -> String {
        self.foodbank.url()
    }

    /// Replaces the food bank simulator's fault knobs (fractions outside 0..=1 are clamped).
    pub fn set_foodbank_faults(&self, faults: Faults) {
        self.foodbank.set_faults(faults);
    }

    /// Referral POST counts of the food bank simulator.
    pub fn foodbank_stats(&self) -> ReferralStats {
        self.foodbank.stats()
    }

    /// Moves a voucher to `status`, as the food bank would (a client collects, a voucher expires).
    pub fn set_voucher_status(
        &self,
        voucher_id: &str,
        status: VoucherStatus,
        reason: Option<VoucherReason>,
    ) -> Result<(), SandboxError> {
        self.foodbank.set_voucher_status(voucher_id, status, reason)
    }

    /// Stops every simulator; requests held by the `hang` fault are released.
    pub async fn shutdown(self) {
        self.foodbank.stop().await;
    }
}

#[cfg(test)]
mod tests;
