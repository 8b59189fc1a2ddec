//! The [`Partner`] trait: the one contract between the orchestrator and every partner system.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::availability::{Availability, AvailabilityQuery};
use crate::error::PartnerError;
use crate::need::NeedCode;
use crate::prerequisite::Requirement;
use crate::referral::{
    CancelRequest, ClientField, Referral, ReferralReceipt, ReferralRef, ReferralStatus,
};

/// A partner system: a food bank network, an NHS service, a housing authority, a council
/// directory. Implemented by connectors (compiled in, or loaded from a plugin library by the
/// host) and by test doubles; callers cannot tell them apart.
///
/// Invariants every implementation keeps:
/// - calls are safe to run concurrently, and safe to abandon (a dropped future cancels);
/// - `send_referral` with an idempotency key already sent creates nothing new at the partner
///   and returns the same receipt;
/// - a connector never retries a non-idempotent call on its own; the orchestrator decides
///   retries from [`PartnerError::kind`];
/// - nothing personal goes into an error message or a log line.
#[async_trait]
pub trait Partner: Send + Sync {
    /// Who this partner is and what it serves and shares.
    fn manifest(&self) -> &Manifest;

    /// Whether and how soon the partner could help someone like the query describes.
    async fn check_availability(
        &self,
        query: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError>;

    /// Sends one referral; repeating the same idempotency key is harmless.
    async fn send_referral(&self, referral: &Referral) -> Result<ReferralReceipt, PartnerError>;

    /// The referral's current state at the partner.
    async fn referral_status(
        &self,
        reference: &ReferralRef,
    ) -> Result<ReferralStatus, PartnerError>;

    /// A cheap check that the partner's system answers, for load time and readiness.
    async fn health(&self) -> Result<Health, PartnerError>;

    /// Withdraws a referral the partner was sent, in the partner's own terms (a BaRS
    /// ServiceRequest `revoked`, a voucher cancelled, a Duty to Refer referral withdrawn), and
    /// answers its state afterwards: `cancelled`, or the final state it had already reached.
    /// Repeating it is harmless. A connector that can cancel says so with
    /// [`Capability::Cancel`]; one that cannot keeps this default, which answers
    /// [`NotSupported`](crate::PartnerErrorKind::NotSupported), and the daemon records the
    /// referral cancelled on our side with a note that the partner must be told by phone.
    async fn cancel_referral(
        &self,
        request: &CancelRequest,
    ) -> Result<ReferralStatus, PartnerError> {
        let _ = request;
        Err(PartnerError::not_supported(format!(
            "the `{}` connector cannot withdraw a referral from its partner's system",
            self.manifest().plugin
        )))
    }

    /// How the plugin host child serving this partner is doing, for a partner whose plugin
    /// runs in a process of its own (`isolation = "process"`); `None` for everything else
    /// (the default: a connector never implements this, the host does).
    fn plugin_host(&self) -> Option<PluginHostState> {
        None
    }
}

/// How a partner's plugin host child is doing ([`Partner::plugin_host`]), for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginHostState {
    /// The process id of the child running now; `None` while it is being restarted.
    pub pid: Option<u32>,
    /// How many of its children have died (crashed, or been killed as hung).
    pub deaths: u64,
    /// How the last one died (`killed by signal 11 (SIGSEGV ...)`), if one has.
    pub last_death: Option<String>,
}

/// What a connector declares about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Manifest {
    /// The connector's name, e.g. `foodbank`.
    pub plugin: String,
    /// What kind of partner system it speaks to.
    pub kind: PartnerKind,
    /// The connector's version.
    pub version: String,
    /// One line for the operator.
    pub description: String,
    /// The needs it can answer for.
    pub needs: Vec<NeedCode>,
    /// ONS local authority codes it can serve; empty means wherever configuration enables it.
    #[serde(default)]
    pub areas: Vec<String>,
    /// Every client field a referral to it may carry; nothing else is ever given to it.
    pub shares: Vec<ClientField>,
    /// What it can do.
    pub capabilities: Vec<Capability>,
    /// What a referral to it needs beyond consent (e.g. the Duty to Refer facts, a phone
    /// number): a step missing any is planned `blocked`, and the intake refuses it with the
    /// same words ([`crate::missing_prerequisites`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Requirement>,
    /// JSON Schema of its settings (the `[partners.settings]` table).
    #[serde(default)]
    pub settings_schema: serde_json::Value,
    /// Build facts, filled in by the plugin SDK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildInfo>,
}

impl Manifest {
    /// Whether the plugin declares that it helps with domestic abuse. A claim only: whether it
    /// receives a safe-contact client's details is decided by
    /// [`receives_safe_contact_details`](crate::receives_safe_contact_details), which also
    /// needs the council's confirmation.
    pub fn is_domestic_abuse_service(&self) -> bool {
        self.needs.contains(&NeedCode::DomesticAbuse)
    }
}

/// How a plugin library was built; the host refuses one that does not match it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BuildInfo {
    /// Version of `pathways-sdk` it was built with.
    pub sdk_version: String,
    /// Target triple, e.g. `x86_64-unknown-linux-gnu`.
    pub target: String,
    /// Plugin ABI version.
    pub abi_version: u32,
}

/// What kind of partner system a connector speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartnerKind {
    /// An NHS service (FHIR, BaRS).
    Nhs,
    /// A food bank network.
    Foodbank,
    /// A local housing authority (Duty to Refer).
    Housing,
    /// A council directory and service requests.
    Council,
    /// A voluntary or community organisation.
    Voluntary,
    /// Anything else.
    Other,
}

/// Something a connector can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Answers availability queries.
    Availability,
    /// Accepts referrals.
    Referral,
    /// Reports referral status on request.
    Status,
    /// Calls back when a referral's status changes.
    Callbacks,
    /// Withdraws a referral it was sent ([`Partner::cancel_referral`]).
    Cancel,
}

/// The result of a health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Health {
    /// Overall state.
    pub status: HealthStatus,
    /// What was checked, or what is wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Overall health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Working.
    Ok,
    /// Working, but slow or partly failing.
    Degraded,
}
