//! Local simulators of the partners' public APIs, for the demo, tests and benchmarks.
//!
//! Each simulated partner listens on its own loopback socket and speaks that partner's
//! published shape, implemented here independently of the connectors in `plugins/`: a
//! connector that misreads a specification fails against the sandbox instead of agreeing with
//! itself. Each simulator has fault knobs ([`Faults`]: latency, errors, rate limiting, hangs,
//! malformed, oversized and slow answers, capacity) that can be set in `config/sandbox.toml` or
//! changed at run time, and every random choice comes from the configured seed. Referrals move
//! on a shared clock ([`ClockConfig`]), and a simulator with a [`WebhookConfig`] tells the
//! daemon each move with a signed Standard Webhooks event (see the `webhook` module).
//!
//! Simulated partners so far:
//! - food banks ([`foodbank`](crate::Sandbox::foodbank_url)): a Give Food API v2 directory and
//!   a Trussell-style e-voucher API; the wire shapes are documented in the `foodbank` module.
//! - housing authorities ([`housing`](crate::Sandbox::housing_url)): a Duty to Refer intake
//!   (Homelessness Reduction Act 2017 s.213B); the API is documented in the `housing` module.
//! - NHS services ([`nhs`](crate::Sandbox::nhs_url)): a FHIR R4 server in the BaRS shape
//!   (HealthcareService directory with capacity status, `$process-message`, Task); the wire
//!   shapes are documented in the `nhs` module.
//! - councils ([`council`](crate::Sandbox::council_url)): an Open Referral UK / HSDS 3 service
//!   directory and Open311 GeoReport v2 service requests; the wire shapes are documented in the
//!   `council` module.
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
mod council;
mod faults;
mod foodbank;
mod geo;
mod housing;
mod http;
mod idempotency;
mod nhs;
mod server;
mod sim;
mod webhook;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use clock::{ClockConfig, RejectReason, Stage};
pub use config::{FoodbankSimConfig, SandboxConfig};
pub use council::{CouncilSimConfig, CouncilStats};
pub use faults::{CapacityOverride, Faults};
pub use foodbank::{ReferralStats, VoucherReason, VoucherStatus};
pub use housing::{HousingSimConfig, HousingStats};
pub use nhs::{NhsReferralRecord, NhsSimConfig, NhsStats, NhsTaskReason, NhsTaskStatus};
pub use webhook::{WebhookConfig, WebhookStats};

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
    /// No Task has this id.
    #[error("the NHS simulator has no Task `{0}`")]
    UnknownTask(String),
    /// No Open311 service request has this id.
    #[error("the council simulator has no service request `{0}`")]
    UnknownServiceRequest(String),
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
    housing: housing::HousingSim,
    nhs: nhs::NhsSim,
    council: council::CouncilSim,
}

impl Sandbox {
    /// Starts every simulator on its configured address.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let foodbank =
            foodbank::start(&config.foodbank, config.seed, config.today, &config.clock).await?;
        let housing =
            match housing::start(&config.housing, config.seed, config.today, &config.clock).await {
                Ok(housing) => housing,
                Err(err) => {
                    // Leave nothing listening when the sandbox as a whole could not start.
                    foodbank.stop().await;
                    return Err(err);
                }
            };
        let nhs = match nhs::start(&config.nhs, config.seed, &config.clock).await {
            Ok(nhs) => nhs,
            Err(err) => {
                foodbank.stop().await;
                housing.stop().await;
                return Err(err);
            }
        };
        let council =
            match council::start(&config.council, config.seed, config.today, &config.clock).await {
                Ok(council) => council,
                Err(err) => {
                    foodbank.stop().await;
                    housing.stop().await;
                    nhs.stop().await;
                    return Err(err);
                }
            };
        Ok(Sandbox { foodbank, housing, nhs, council })
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

    /// A voucher's status and reason as the food bank holds it now (the clock included), or
    /// `None` if it has no such voucher.
    pub fn voucher_status(
        &self,
        voucher_id: &str,
    ) -> Option<(VoucherStatus, Option<VoucherReason>)> {
        self.foodbank.voucher_status(voucher_id)
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

    /// Base URL of the housing authority (Duty to Refer) simulator, e.g. `http://127.0.0.1:9103`.
    pub fn housing_url(&self) -> String {
        self.housing.url()
    }

    /// Replaces the housing simulator's fault knobs (fractions outside 0..=1 are clamped).
    pub fn set_housing_faults(&self, faults: Faults) {
        self.housing.set_faults(faults);
    }

    /// Referral POST counts of the housing simulator.
    pub fn housing_stats(&self) -> HousingStats {
        self.housing.stats()
    }

    /// A housing referral as the authority shows it now (`GET /dtr/v1/referrals/{id}`'s
    /// JSON: status, duty, outcome, reasons, times; nothing personal), or `None`.
    pub fn housing_referral(&self, referral_id: &str) -> Option<serde_json::Value> {
        self.housing.referral(referral_id)
    }

    /// Base URL of the NHS (FHIR R4, BaRS) simulator, e.g. `http://127.0.0.1:9102`.
    pub fn nhs_url(&self) -> String {
        self.nhs.url()
    }

    /// Replaces the NHS simulator's fault knobs (fractions outside 0..=1 are clamped).
    pub fn set_nhs_faults(&self, faults: Faults) {
        self.nhs.set_faults(faults);
    }

    /// `$process-message` POST counts of the NHS simulator.
    pub fn nhs_stats(&self) -> NhsStats {
        self.nhs.stats()
    }

    /// The message Bundles the NHS simulator accepted (the last hundred), oldest first: what a
    /// connector actually sent, for tests of data minimisation.
    pub fn nhs_messages(&self) -> Vec<serde_json::Value> {
        self.nhs.messages()
    }

    /// What the NHS simulator holds of the referral whose Task has `task_id` (its Task's
    /// status and reason, the stored ServiceRequest's status), or `None` if it has none.
    pub fn nhs_referral(&self, task_id: &str) -> Option<NhsReferralRecord> {
        self.nhs.referral(task_id)
    }

    /// Moves an NHS referral's Task to `status`, as the service would.
    pub fn set_nhs_task_status(
        &self,
        task_id: &str,
        status: NhsTaskStatus,
        reason: Option<NhsTaskReason>,
    ) -> Result<(), SandboxError> {
        self.nhs.set_task_status(task_id, status, reason)
    }

    /// Base URL of the council simulator, e.g. `http://127.0.0.1:9104`: the HSDS directory is
    /// under `/hsds`, Open311 GeoReport v2 under `/open311/v2`.
    pub fn council_url(&self) -> String {
        self.council.url()
    }

    /// Replaces the council simulator's fault knobs (fractions outside 0..=1 are clamped).
    pub fn set_council_faults(&self, faults: Faults) {
        self.council.set_faults(faults);
    }

    /// Service request and directory counts of the council simulator.
    pub fn council_stats(&self) -> CouncilStats {
        self.council.stats()
    }

    /// Moves an Open311 service request to `stage`, whatever the sandbox clock says.
    pub fn set_council_request_stage(
        &self,
        service_request_id: &str,
        stage: Stage,
    ) -> Result<(), SandboxError> {
        self.council.set_request_stage(service_request_id, stage)
    }

    /// Webhook delivery counts of each simulator with a webhook configured, by simulator
    /// (`foodbank`, `nhs`, `housing`, `council`).
    pub fn webhook_stats(&self) -> BTreeMap<&'static str, WebhookStats> {
        [
            ("foodbank", self.foodbank.webhook_stats()),
            ("nhs", self.nhs.webhook_stats()),
            ("housing", self.housing.webhook_stats()),
            ("council", self.council.webhook_stats()),
        ]
        .into_iter()
        .filter_map(|(name, stats)| Some((name, stats?)))
        .collect()
    }

    /// Stops every simulator; requests held by the `hang` fault are released.
    pub async fn shutdown(self) {
        self.foodbank.stop().await;
        self.housing.stop().await;
        self.nhs.stop().await;
        self.council.stop().await;
    }
}

#[cfg(test)]
mod tests;
