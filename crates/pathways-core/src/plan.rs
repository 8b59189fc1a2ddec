//! The coordinated action plan (CONTRACT.md, "A plan").

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::availability::ServiceRef;
use crate::need::NeedCode;
use crate::referral::ClientField;

/// One plan for one case: every need accounted for exactly once, in `steps` or `unmet`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ActionPlan {
    /// The case the plan is for (the case reference until the daemon assigns ids).
    pub case_id: String,
    /// Who coordinates the plan with the client.
    pub lead: Lead,
    /// What to do, in order.
    pub steps: Vec<PlanStep>,
    /// Needs nobody in the area can meet now, with where else to look.
    pub unmet: Vec<UnmetNeed>,
    /// How each partner asked answered.
    pub partners: Vec<PartnerReport>,
    /// When the plan was made.
    pub generated_at: DateTime<Utc>,
}

/// The organisation that coordinates the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Lead {
    /// A partner id, or the referring organisation's id.
    pub partner_id: String,
    /// Why, in words to read aloud.
    pub why: String,
}

/// One step of the plan, for one need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    /// 1-based position.
    pub order: u32,
    /// The need it meets.
    pub need: NeedCode,
    /// What kind of step.
    pub action: StepAction,
    /// The partner, for `refer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    /// The partner's service, for `refer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceRef>,
    /// The date the need should be met by.
    pub due_by: NaiveDate,
    /// Why this step, in words to read aloud.
    pub why: String,
    /// The client fields this referral would share.
    #[serde(default)]
    pub shares: Vec<ClientField>,
    /// The case's consent does not cover this partner: ask the client before referring.
    #[serde(default)]
    pub needs_consent: bool,
    /// Other services to try if this one says no, at most two.
    #[serde(default)]
    pub fallbacks: Vec<Fallback>,
}

/// What kind of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepAction {
    /// Send a referral.
    Refer,
    /// Tell the client where to go themselves.
    Signpost,
    /// Something the client can do on their own.
    SelfHelp,
    /// Nothing available.
    Unmet,
}

/// Another service to try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    /// The partner.
    pub partner_id: String,
    /// Its service.
    pub service: ServiceRef,
    /// Why it is second choice.
    pub why: String,
}

/// A need no partner can meet now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UnmetNeed {
    /// The need.
    pub need: NeedCode,
    /// Why it is unmet.
    pub why: String,
    /// Where the client could turn instead.
    pub signposts: Vec<String>,
}

/// How one partner answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PartnerReport {
    /// The partner id.
    pub partner_id: String,
    /// What happened.
    pub outcome: PartnerOutcome,
    /// How long it took, in milliseconds.
    pub latency_ms: u64,
    /// What went wrong, for the operator, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What happened when a partner was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartnerOutcome {
    /// It answered in time.
    Answered,
    /// No answer by the deadline.
    TimedOut,
    /// It answered with an error.
    Failed,
    /// Not asked: its circuit breaker is open after repeated failures.
    CircuitOpen,
    /// Not asked: overloaded, or nothing to ask it.
    Skipped,
}

impl ActionPlan {
    /// Every need in the plan, steps then unmet, for checking that each appears once.
    pub fn needs_covered(&self) -> Vec<NeedCode> {
        self.steps.iter().map(|s| s.need).chain(self.unmet.iter().map(|u| u.need)).collect()
    }
}
