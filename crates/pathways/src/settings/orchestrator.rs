//! `[orchestrator]`: how planning waits for partners, protects itself from them, and chooses
//! a lead.

use std::path::PathBuf;
use std::time::Duration;

use pathways_orchestrator::{BreakerPolicy, LeadRule, OrchestratorSettings};
use serde::Deserialize;

/// `[orchestrator]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrchestratorSection {
    /// After this many milliseconds a plan is built from whatever partners have answered.
    pub plan_deadline_ms: u64,
    /// The longest one partner's availability answer may take, in milliseconds.
    pub partner_timeout_ms: u64,
    /// Calls in flight to one partner at once, across all plans; more are not queued but
    /// reported `skipped` ("partner busy"), so a slow partner cannot hold up every plan.
    pub partner_concurrency: usize,
    /// Failed or timed-out calls in a row after which a partner's circuit opens: it is then
    /// reported `circuit_open` without being asked. 0 turns the breaker off.
    pub breaker_failures: u32,
    /// How long an open circuit stays open before one trial call is let through, in
    /// milliseconds.
    pub breaker_cooldown_ms: u64,
    /// Who leads a plan, tried in order; when none applies the referring organisation leads.
    /// Default: a domestic-abuse service leads when that need is referred.
    pub lead_rules: Vec<LeadRule>,
    /// A TOML file of national signposts replacing the built-in ones per need (optional).
    pub signposts: Option<PathBuf>,
    /// A folder of message catalogues (`<language>.ftl`) adding to or correcting the built-in
    /// English words of plans (optional).
    pub messages_dir: Option<PathBuf>,
}

impl Default for OrchestratorSection {
    fn default() -> Self {
        let defaults = OrchestratorSettings::default();
        Self {
            plan_deadline_ms: 2000,
            partner_timeout_ms: 1500,
            partner_concurrency: defaults.partner_concurrency,
            breaker_failures: defaults.breaker.failures,
            breaker_cooldown_ms: u64::try_from(defaults.breaker.cooldown.as_millis())
                .unwrap_or(u64::MAX),
            lead_rules: LeadRule::defaults(),
            signposts: None,
            messages_dir: None,
        }
    }
}

impl OrchestratorSection {
    /// The orchestrator's settings.
    pub fn to_settings(&self) -> OrchestratorSettings {
        OrchestratorSettings {
            plan_deadline: Duration::from_millis(self.plan_deadline_ms),
            partner_timeout: Duration::from_millis(self.partner_timeout_ms),
            partner_concurrency: self.partner_concurrency,
            breaker: BreakerPolicy {
                failures: self.breaker_failures,
                cooldown: Duration::from_millis(self.breaker_cooldown_ms),
            },
        }
    }

    /// Checks what serde cannot; returns the field (under `orchestrator.`) and the problem.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        let at = |key: &str| format!("orchestrator.{key}");
        for (name, value) in [
            ("plan_deadline_ms", self.plan_deadline_ms),
            ("partner_timeout_ms", self.partner_timeout_ms),
        ] {
            if value == 0 {
                return Err((at(name), "must be more than 0 milliseconds".into()));
            }
        }
        if !(1..=MAX_PARTNER_CONCURRENCY).contains(&self.partner_concurrency) {
            return Err((
                at("partner_concurrency"),
                format!(
                    "is {}; it must be between 1 and {MAX_PARTNER_CONCURRENCY} calls in flight per partner",
                    self.partner_concurrency
                ),
            ));
        }
        if self.breaker_failures > 0 && self.breaker_cooldown_ms == 0 {
            return Err((
                at("breaker_cooldown_ms"),
                "must be more than 0 milliseconds while the breaker is on (set `breaker_failures = 0` to turn it off)".into(),
            ));
        }
        for (i, rule) in self.lead_rules.iter().enumerate() {
            if let Some(problem) = rule.problem() {
                return Err((format!("orchestrator.lead_rules[{i}]"), problem));
            }
            if rule.because.as_deref().is_some_and(|b| b.trim().is_empty()) {
                return Err((
                    format!("orchestrator.lead_rules[{i}].because"),
                    "must not be empty; leave it out to use the default wording".into(),
                ));
            }
        }
        Ok(())
    }
}

/// More calls than this in flight to one partner is a typo, not a bulkhead.
const MAX_PARTNER_CONCURRENCY: usize = 10_000;
