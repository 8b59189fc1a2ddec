//! [`build_plan`]: the planner's one entry point.

use chrono::{DateTime, NaiveDate, Utc};
use pathways_core::{ActionPlan, Case, Need, NeedCode, PartnerReport, PlanStep, UnmetNeed};

use super::lead;
use super::rank::Candidates;
use super::rules::PlanRules;
use super::stats::PathwayStats;
use super::steps::{chosen_step, unmet_need};
use crate::fanout::PartnerAnswer;

/// Builds the action plan for `case` from the partners' `answers`, weighing offers by `stats`
/// and following `rules`, made on `today` and stamped `generated_at`. Pure and deterministic:
/// the same inputs give the same plan, whatever order the answers are in.
pub fn build_plan(
    case: &Case,
    answers: &[PartnerAnswer],
    stats: &PathwayStats,
    rules: &PlanRules,
    today: NaiveDate,
    generated_at: DateTime<Utc>,
) -> ActionPlan {
    let candidates = Candidates::collect(case, answers, stats);
    let mut steps: Vec<PlanStep> = Vec::new();
    let mut unmet: Vec<UnmetNeed> = Vec::new();

    for need in planning_order(case, today) {
        let due_by = need.urgency.due_by(today);
        let chosen: Vec<&str> = steps.iter().filter_map(|s| s.partner_id.as_deref()).collect();
        let ranked = candidates.ranked(need.code, due_by, &chosen);
        match ranked.split_first() {
            Some((best, others)) => {
                let helping_with: Vec<NeedCode> = steps
                    .iter()
                    .filter(|s| s.partner_id.as_deref() == Some(best.partner_id))
                    .map(|s| s.need)
                    .collect();
                steps.push(chosen_step(
                    case,
                    need,
                    best,
                    others,
                    &candidates,
                    &helping_with,
                    today,
                ));
            }
            None => unmet.push(unmet_need(need.code, &candidates, answers, &rules.signposts)),
        }
    }
    for (index, step) in steps.iter_mut().enumerate() {
        step.order = u32::try_from(index + 1).unwrap_or(u32::MAX);
    }

    let mut partners: Vec<PartnerReport> = answers.iter().map(PartnerAnswer::report).collect();
    partners.sort_by(|a, b| {
        (&a.partner_id, a.latency_ms, &a.detail).cmp(&(&b.partner_id, b.latency_ms, &b.detail))
    });

    ActionPlan {
        case_id: case.reference.clone(),
        lead: lead::choose(case, &steps, &rules.lead_rules),
        steps,
        unmet,
        partners,
        generated_at,
    }
}

/// The case's needs in the order they are planned and listed: safety first, then urgency and
/// due date, then the order the case lists them. Planning in that order lets the most pressing
/// needs choose first and later needs prefer a partner already chosen.
fn planning_order(case: &Case, today: NaiveDate) -> Vec<&Need> {
    let mut needs: Vec<(usize, &Need)> = case.needs.iter().enumerate().collect();
    needs.sort_by_key(|(index, need)| {
        (!need.is_safety(), need.urgency, need.urgency.due_by(today), *index)
    });
    needs.into_iter().map(|(_, need)| need).collect()
}
