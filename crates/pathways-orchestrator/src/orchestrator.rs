//! The [`Orchestrator`]: selection, fan-out and planning, wired together for one case.
//!
//! It owns the configured partners, each partner's resilience state (circuit breaker and
//! bulkheads, kept across plans, so a partner that failed for one plan is not asked again by
//! the next until its cool-down is over), the planning rules and the latest pathway statistics.
//! It holds no per-case state, so one instance serves every case concurrently.
//!
//! The same lanes carry the dispatcher's sends, cancels and status polls
//! ([`Orchestrator::referral_lane`]). A configuration reload builds a new orchestrator; before
//! it serves, [`Orchestrator::adopt`] carries over from the one it replaces the lanes of the
//! partners that stay (breaker state and calls in flight, keyed by partner id), the pathway
//! statistics and the partners' last answers.

use std::sync::{Arc, PoisonError, RwLock};

use chrono::{NaiveDate, Utc};
use pathways_core::{ActionPlan, Amendment, Case, PartnerOutcome};

use crate::fanout::lane::{LaneShape, PartnerLane, ReferralLane, DEFAULT_REFERRAL_CONCURRENCY};
use crate::fanout::{fan_out, AnswerObserver, OrchestratorSettings, PartnerAnswer};
use crate::planner::{
    amend_plan, build_plan, replan, Amender, AmendmentError, PathwayStats, PlanRules,
};
use crate::resilience::breaker::BreakerState;
use crate::select::{select, ConfiguredPartner};

/// Plans cases against a fixed set of configured partners.
#[derive(Debug)]
pub struct Orchestrator {
    partners: Vec<ConfiguredPartner>,
    /// `lanes[i]` guards `partners[i]`; replaced whole only by [`adopt`](Self::adopt).
    lanes: RwLock<Vec<Arc<PartnerLane>>>,
    settings: OrchestratorSettings,
    rules: PlanRules,
    stats: RwLock<Arc<PathwayStats>>,
    /// Each partner's last answer, by partner id.
    last: std::sync::Mutex<std::collections::HashMap<String, LastAnswer>>,
}

/// One partner's resilience state now, for readiness and operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerState {
    /// The partner id.
    pub partner_id: String,
    /// Its circuit breaker.
    pub breaker: BreakerState,
    /// Its calls in flight (at most the `partner_concurrency` setting).
    pub in_flight: usize,
    /// How it last answered a plan's question, since this configuration was loaded.
    pub last: Option<LastAnswer>,
    /// Its plugin host child, where its plugin runs in a process of its own.
    pub plugin_host: Option<pathways_core::PluginHostState>,
}

/// How a partner last answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastAnswer {
    /// Answered, timed out, unreachable...
    pub outcome: PartnerOutcome,
    /// How long it took.
    pub latency_ms: u64,
    /// When.
    pub at: chrono::DateTime<Utc>,
}

impl Orchestrator {
    /// An orchestrator for `partners` (the enabled ones, in configuration order), with no
    /// pathway statistics yet.
    pub fn new(
        partners: Vec<ConfiguredPartner>,
        settings: OrchestratorSettings,
        rules: PlanRules,
    ) -> Self {
        let shape = LaneShape::new(&settings, DEFAULT_REFERRAL_CONCURRENCY);
        let lanes = partners.iter().map(|_| Arc::new(PartnerLane::new(shape))).collect();
        Self {
            partners,
            lanes: RwLock::new(lanes),
            settings,
            rules,
            stats: RwLock::new(Arc::default()),
            last: std::sync::Mutex::default(),
        }
    }

    /// The same, with `limit` sends and cancels (and, apart, `limit` status polls) in flight to
    /// one partner at once (`dispatch.partner_concurrency`; at least 1).
    pub fn with_referral_concurrency(mut self, limit: usize) -> Self {
        let limit = limit.max(1);
        let shape = LaneShape::new(&self.settings, limit);
        self.lanes =
            RwLock::new(self.partners.iter().map(|_| Arc::new(PartnerLane::new(shape))).collect());
        self
    }

    /// The partners it asks from.
    pub fn partners(&self) -> &[ConfiguredPartner] {
        &self.partners
    }

    /// The partner `partner_id` with its lane, for sends, cancels and status polls; `None`
    /// when it is not enabled in this configuration.
    pub fn referral_lane(&self, partner_id: &str) -> Option<ReferralLane> {
        let index = self.partners.iter().position(|p| p.id == partner_id)?;
        Some(self.referral_lane_at(index))
    }

    /// Every partner with its lane, in configuration order.
    pub fn referral_lanes(&self) -> Vec<ReferralLane> {
        (0..self.partners.len()).map(|index| self.referral_lane_at(index)).collect()
    }

    fn referral_lane_at(&self, index: usize) -> ReferralLane {
        let partner = &self.partners[index];
        ReferralLane::new(partner.id.clone(), partner.partner.clone(), self.lanes()[index].clone())
    }

    fn lanes(&self) -> Vec<Arc<PartnerLane>> {
        self.lanes.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Takes over from `previous`, the orchestrator this one replaces on a configuration
    /// reload, before it serves: the lane (breaker state, calls in flight) of each partner
    /// that stays, by partner id, when its shape is unchanged (the same bulkhead sizes and
    /// breaker policy; a changed one starts afresh with the new settings); the pathway
    /// statistics, so plans need not wait for the next refresh; and the stayers' last
    /// answers. Returns the ids of the partners whose lanes were carried over.
    pub fn adopt(&self, previous: &Orchestrator) -> Vec<String> {
        if std::ptr::eq(self, previous) {
            return self.partners.iter().map(|p| p.id.clone()).collect();
        }
        let old = previous.lanes();
        let mut lanes = self.lanes.write().unwrap_or_else(PoisonError::into_inner);
        let mut kept = Vec::new();
        for (index, partner) in self.partners.iter().enumerate() {
            let Some(at) = previous.partners.iter().position(|p| p.id == partner.id) else {
                continue;
            };
            if old[at].shape() == lanes[index].shape() {
                lanes[index] = old[at].clone();
                kept.push(partner.id.clone());
            }
        }
        drop(lanes);
        self.set_pathway_stats_arc(previous.stats());
        let previous_last = previous.last.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        for partner in &self.partners {
            if let Some(answer) = previous_last.get(&partner.id) {
                last.entry(partner.id.clone()).or_insert_with(|| answer.clone());
            }
        }
        kept
    }

    /// The pathway statistics plans are weighed by now.
    pub fn pathway_stats(&self) -> Arc<PathwayStats> {
        self.stats()
    }

    /// The message catalogue plans are written from (the client's copy uses it too).
    pub fn messages(&self) -> &crate::messages::Messages {
        &self.rules.messages
    }

    /// The name people read for an organisation or partner id: its `[organisations]` name,
    /// else its `[[partners]]` name, else the id itself.
    pub fn display_name(&self, id: &str) -> String {
        self.rules
            .organisations
            .get(id)
            .map(|o| o.name.clone())
            .or_else(|| self.partners.iter().find(|p| p.id == id).map(|p| p.name.clone()))
            .unwrap_or_else(|| id.to_string())
    }

    /// Replaces the pathway statistics later plans are weighed by.
    pub fn set_pathway_stats(&self, stats: PathwayStats) {
        self.set_pathway_stats_arc(Arc::new(stats));
    }

    fn set_pathway_stats_arc(&self, stats: Arc<PathwayStats>) {
        *self.stats.write().unwrap_or_else(PoisonError::into_inner) = stats;
    }

    /// Every partner's breaker and bulkhead now, in configuration order.
    pub fn partner_states(&self) -> Vec<PartnerState> {
        self.partners
            .iter()
            .zip(self.lanes())
            .map(|(partner, lane)| PartnerState {
                partner_id: partner.id.clone(),
                breaker: lane.breaker_state(),
                in_flight: lane.in_flight(),
                last: self
                    .last
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&partner.id)
                    .cloned(),
                plugin_host: partner.partner.plugin_host(),
            })
            .collect()
    }

    /// Asks every relevant partner about `case` at once and returns what each said.
    pub async fn ask(&self, case: &Case, today: NaiveDate) -> Vec<PartnerAnswer> {
        self.ask_observed(case, today, None).await
    }

    /// [`ask`](Self::ask), telling `observer` of each answer as it arrives.
    pub async fn ask_observed(
        &self,
        case: &Case,
        today: NaiveDate,
        observer: Option<AnswerObserver<'_>>,
    ) -> Vec<PartnerAnswer> {
        let asks = select(&self.partners, case);
        let all = self.lanes();
        let lanes: Vec<&PartnerLane> = asks.iter().map(|ask| &*all[ask.index]).collect();
        let answers = fan_out(&asks, &lanes, case, today, self.settings, observer).await;
        {
            let now = Utc::now();
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            for answer in &answers {
                let record =
                    LastAnswer { outcome: answer.outcome, latency_ms: answer.latency_ms, at: now };
                last.insert(answer.partner_id.clone(), record);
            }
        }
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
        let stats = self.stats();
        build_plan(case, &answers, &stats, &self.rules, today, Utc::now())
    }

    /// The next plan for `case`: partners asked again, the amendments of `previous` that still
    /// apply kept. Returns the answers too, to be kept beside the plan for amendments.
    pub async fn replan(
        &self,
        case: &Case,
        previous: Option<&ActionPlan>,
        today: NaiveDate,
    ) -> (ActionPlan, Vec<PartnerAnswer>) {
        self.replan_observed(case, previous, today, None).await
    }

    /// [`replan`](Self::replan), telling `observer` of each partner's answer as it arrives.
    pub async fn replan_observed(
        &self,
        case: &Case,
        previous: Option<&ActionPlan>,
        today: NaiveDate,
        observer: Option<AnswerObserver<'_>>,
    ) -> (ActionPlan, Vec<PartnerAnswer>) {
        let answers = self.ask_observed(case, today, observer).await;
        let stats = self.stats();
        let plan = replan(case, &answers, &stats, &self.rules, previous, today, Utc::now());
        (plan, answers)
    }

    /// The next version of `previous` with `amendments`, from the `answers` it was made from.
    pub fn amend(
        &self,
        case: &Case,
        answers: &[PartnerAnswer],
        previous: &ActionPlan,
        amendments: Vec<Amendment>,
        who: &Amender<'_>,
    ) -> Result<ActionPlan, AmendmentError> {
        amend_plan(case, answers, &self.stats(), &self.rules, previous, amendments, who)
    }

    fn stats(&self) -> Arc<PathwayStats> {
        self.stats.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}
