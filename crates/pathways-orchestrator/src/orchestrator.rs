//! The [`Orchestrator`]: selection, fan-out and planning, wired together for one case.
//!
//! It owns the configured partners and the signpost catalogue and holds no per-case state, so
//! one instance serves every case concurrently. Later concerns (bulkheads, circuit breakers,
//! pathway statistics) attach here, per partner, without changing [`Orchestrator::plan`].

use chrono::{NaiveDate, Utc};
use pathways_core::{ActionPlan, Case, PartnerOutcome};

use crate::fanout::{fan_out, OrchestratorSettings, PartnerAnswer};
use crate::planner::build_plan;
use crate::select::{select, ConfiguredPartner};
use crate::signposts::SignpostCatalogue;

/// Plans cases against a fixed set of configured partners.
#[derive(Debug)]
pub struct Orchestrator {
    partners: Vec<ConfiguredPartner>,
    settings: OrchestratorSettings,
    signposts: SignpostCatalogue,
}

impl Orchestrator {
    /// An orchestrator for `partners` (the enabled ones, in configuration order).
    pub fn new(
        partners: Vec<ConfiguredPartner>,
        settings: OrchestratorSettings,
        signposts: SignpostCatalogue,
    ) -> Self {
        Self { partners, settings, signposts }
    }

    /// The partners it asks from.
    pub fn partners(&self) -> &[ConfiguredPartner] {
        &self.partners
    }

    /// Asks every relevant partner about `case` at once and returns what each said.
    pub async fn ask(&self, case: &Case, today: NaiveDate) -> Vec<PartnerAnswer> {
        let asks = select(&self.partners, case);
        let answers = fan_out(&asks, case, today, self.settings).await;
        for answer in &answers {
            // The case reference and partner ids are not personal; the detail never is.
            if answer.outcome == PartnerOutcome::Answered {
                tracing::debug!(case = %case.reference, partner = %answer.partner_id,
                    latency_ms = answer.latency_ms, offers = answer.offers.len(), "partner answered");
            } else {
                tracing::warn!(case = %case.reference, partner = %answer.partner_id,
                    outcome = ?answer.outcome, latency_ms = answer.latency_ms,
                    detail = answer.detail.as_deref().unwrap_or(""), "partner did not answer");
            }
        }
        answers
    }

    /// One coordinated action plan for `case`, made on `today`.
    pub async fn plan(&self, case: &Case, today: NaiveDate) -> ActionPlan {
        let answers = self.ask(case, today).await;
        build_plan(case, &answers, &self.signposts, today, Utc::now())
    }
}
