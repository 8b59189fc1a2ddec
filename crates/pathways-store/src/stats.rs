//! Statistics: for each partner and need, what happened to the referrals sent (pathway
//! statistics); and for each need and council area, how many cases' newest plans found no
//! service to meet it (unmet needs).
//!
//! Pathway statistics: each backend reads one [`StatsFact`] per referral and need; the counting
//! and the medians are done once, here, so both backends agree to the second.
//!
//! Definitions (what `GET /v1/reports/pathways` and the planner rely on):
//! - *sent*: delivered to the partner (acknowledged) within `[from, to)`;
//! - *accepted*: reached `accepted`, `in-progress`, `on-hold` or `completed` at any point;
//! - *rejected by reason*: currently `rejected`, by its reason (`other` when none was given);
//! - *completed*: reached `completed`;
//! - medians: from delivery to the first accepting state, and to `completed`, over the
//!   referrals that got there (the mean of the two middle values for an even count).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use pathways_core::{is_ons_local_authority, ActionPlan, Case, NeedCode, StatusReason, TaskState};
use serde::Serialize;

/// The states that mean a partner took the referral on.
pub(crate) const ACCEPTING_STATES: [TaskState; 4] =
    [TaskState::Accepted, TaskState::InProgress, TaskState::OnHold, TaskState::Completed];

/// One partner × need line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathwayStatsRow {
    /// The partner.
    pub partner_id: String,
    /// The need.
    pub need: NeedCode,
    /// Referrals delivered in the range.
    pub sent: u64,
    /// Of those, accepted at some point.
    pub accepted: u64,
    /// Of those, rejected, by reason; most frequent first.
    pub rejected_by_reason: Vec<ReasonCount>,
    /// Of those, completed.
    pub completed: u64,
    /// Median seconds from delivery to acceptance, when any was accepted.
    pub median_secs_to_acceptance: Option<u64>,
    /// Median seconds from delivery to completion, when any was completed.
    pub median_secs_to_completion: Option<u64>,
}

/// How many referrals were rejected for one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// The reason.
    pub reason: StatusReason,
    /// How many.
    pub count: u64,
}

/// One need × area line of the unmet needs report.
///
/// Unmet needs are read from plain copies the store keeps of each case's newest plan (plans
/// themselves are sealed): one row per need the plan marks `unmet`, and the case's council
/// area. An erased case still counts, with its area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmetNeedRow {
    /// The need no service could meet.
    pub need: NeedCode,
    /// The council area whose services the clients can use: the ONS code of a local
    /// authority (e.g. `E09000020`); empty when not known (a case erased before the store
    /// kept areas, or whose document did not open when the store filled them in).
    pub area: String,
    /// How many cases' newest plans, made in the period, have this need unmet.
    pub cases: u64,
}

/// Orders the unmet needs report: most cases first, then by need (in the canonical order of
/// [`NeedCode::ALL`]), then by area. Done here rather than in SQL so that both backends agree
/// whatever the database's collation.
pub(crate) fn most_first(mut rows: Vec<UnmetNeedRow>) -> Vec<UnmetNeedRow> {
    rows.sort_by(|a, b| {
        b.cases.cmp(&a.cases).then(a.need.cmp(&b.need)).then_with(|| a.area.cmp(&b.area))
    });
    rows
}

/// The area kept plain for a case: its local authority's ONS code, or `""` when the text does
/// not have that shape (so that no free text reaches the plain column).
pub(crate) fn area_code(local_authority: &str) -> String {
    let code = local_authority.trim();
    if is_ons_local_authority(code) {
        code.to_string()
    } else {
        String::new()
    }
}

/// The area of a case being stored (see [`area_code`]).
pub(crate) fn area_of(case: &Case) -> String {
    area_code(&case.client.local_authority)
}

/// The area of a case document (see [`area_code`]). Read from the JSON rather than
/// [`Case`], so a document an older build wrote (whose shape a stricter parser might refuse)
/// still yields it.
pub(crate) fn area_of_document(case: &serde_json::Value) -> String {
    case.pointer("/client/local_authority")
        .and_then(|a| a.as_str())
        .map_or_else(String::new, area_code)
}

/// The needs a plan being stored marks `unmet`, each once, in the canonical order.
pub(crate) fn unmet_of(plan: &ActionPlan) -> Vec<NeedCode> {
    let mut needs: Vec<NeedCode> = plan.unmet().map(|step| step.need).collect();
    needs.sort_unstable();
    needs.dedup();
    needs
}

/// The needs a stored plan document (`{"plan": …, "basis": …}`) marks `unmet`, each once, in
/// the canonical order: the steps whose `action` is `unmet`, as [`PlanStep::is_unmet`] sees
/// them once parsed. Read from the JSON, like [`area_of_document`]; a plan kept before plans
/// had versions reads as none (as it does for [`Store::latest_plan`]), and so has no unmet
/// need, and a need code this build does not know is left out.
///
/// [`PlanStep::is_unmet`]: pathways_core::PlanStep::is_unmet
/// [`Store::latest_plan`]: crate::Store::latest_plan
pub(crate) fn unmet_of_document(record: &serde_json::Value) -> Vec<NeedCode> {
    let steps = record.pointer("/plan/steps").and_then(|s| s.as_array());
    let mut needs: Vec<NeedCode> = steps
        .into_iter()
        .flatten()
        .filter(|step| step.get("action").and_then(|a| a.as_str()) == Some("unmet"))
        .filter_map(|step| serde_json::from_value(step.get("need")?.clone()).ok())
        .collect();
    needs.sort_unstable();
    needs.dedup();
    needs
}

/// What a backend reads for one referral and one of its needs.
#[derive(Debug, Clone)]
pub(crate) struct StatsFact {
    pub partner_id: String,
    pub need: NeedCode,
    pub sent_at: DateTime<Utc>,
    pub state: TaskState,
    pub reason: Option<StatusReason>,
    pub first_accepted_at: Option<DateTime<Utc>>,
    pub first_completed_at: Option<DateTime<Utc>>,
}

/// Counts facts into rows ordered by partner, then need.
pub(crate) fn aggregate(facts: Vec<StatsFact>) -> Vec<PathwayStatsRow> {
    #[derive(Default)]
    struct Tally {
        sent: u64,
        accepted: u64,
        completed: u64,
        rejected: Vec<(StatusReason, u64)>,
        to_acceptance: Vec<i64>,
        to_completion: Vec<i64>,
    }
    let mut tallies: BTreeMap<(String, NeedCode), Tally> = BTreeMap::new();
    for fact in facts {
        let tally = tallies.entry((fact.partner_id, fact.need)).or_default();
        tally.sent += 1;
        if let Some(at) = fact.first_accepted_at {
            tally.accepted += 1;
            tally.to_acceptance.push((at - fact.sent_at).num_seconds());
        }
        if let Some(at) = fact.first_completed_at {
            tally.completed += 1;
            tally.to_completion.push((at - fact.sent_at).num_seconds());
        }
        if fact.state == TaskState::Rejected {
            let reason = fact.reason.unwrap_or(StatusReason::Other);
            match tally.rejected.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, n)) => *n += 1,
                None => tally.rejected.push((reason, 1)),
            }
        }
    }
    tallies
        .into_iter()
        .map(|((partner_id, need), t)| {
            let mut rejected: Vec<ReasonCount> = t
                .rejected
                .into_iter()
                .map(|(reason, count)| ReasonCount { reason, count })
                .collect();
            rejected.sort_by(|a, b| {
                b.count.cmp(&a.count).then_with(|| {
                    crate::codec::to_code(&a.reason).cmp(&crate::codec::to_code(&b.reason))
                })
            });
            PathwayStatsRow {
                partner_id,
                need,
                sent: t.sent,
                accepted: t.accepted,
                rejected_by_reason: rejected,
                completed: t.completed,
                median_secs_to_acceptance: median_secs(t.to_acceptance),
                median_secs_to_completion: median_secs(t.to_completion),
            }
        })
        .collect()
}

/// The median of durations in seconds. A partner's clock may run behind ours, which can make
/// a duration negative; those count as zero rather than skewing the median.
fn median_secs(mut secs: Vec<i64>) -> Option<u64> {
    if secs.is_empty() {
        return None;
    }
    for s in &mut secs {
        *s = (*s).max(0);
    }
    secs.sort_unstable();
    let mid = secs.len() / 2;
    let median = if secs.len() % 2 == 1 { secs[mid] } else { (secs[mid - 1] + secs[mid]) / 2 };
    u64::try_from(median).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median_secs(vec![]), None);
        assert_eq!(median_secs(vec![30, 10, 20]), Some(20));
        assert_eq!(median_secs(vec![40, 10, 20, 30]), Some(25));
        assert_eq!(median_secs(vec![-5]), Some(0), "clock skew counts as zero");
    }

    #[test]
    fn areas_are_ons_codes_or_nothing() {
        assert_eq!(area_code(" E09000020 "), "E09000020");
        for not_a_code in ["", "Kensington", "E0900002", "12 Acacia Avenue, W10 5AB"] {
            assert_eq!(area_code(not_a_code), "", "{not_a_code}");
        }
        let case = serde_json::json!({"client": {"local_authority": "W06000015"}});
        assert_eq!(area_of_document(&case), "W06000015");
        assert_eq!(area_of_document(&serde_json::json!({"client": {}})), "");
    }

    #[test]
    fn unmet_needs_read_from_a_document_agree_with_the_plan() {
        use pathways_core::{PlanStep, StepAction, Urgency};
        let step = |need: NeedCode, action: StepAction| PlanStep {
            order: 1,
            need_id: "n1".into(),
            need,
            urgency: Urgency::Soon,
            due_by: chrono::NaiveDate::default(),
            safety: false,
            why: String::new(),
            note: None,
            action,
        };
        let unmet = || StepAction::Unmet { signposts: vec![] };
        let steps = vec![
            step(NeedCode::Transport, unmet()),
            step(
                NeedCode::Food,
                StepAction::Declined { offered: None, reason: "no".to_string().into() },
            ),
            step(NeedCode::Digital, unmet()),
            step(NeedCode::Transport, unmet()),
        ];
        let needs: Vec<NeedCode> = steps.iter().filter(|s| s.is_unmet()).map(|s| s.need).collect();
        assert_eq!(needs.len(), 3);
        let document = serde_json::json!({"plan": {"steps": steps}, "basis": null});
        assert_eq!(unmet_of_document(&document), [NeedCode::Digital, NeedCode::Transport]);
        // A plan from before plans had versions (the bare plan) reads as none.
        assert!(unmet_of_document(&document["plan"]).is_empty());
        let unknown = serde_json::json!({"plan": {"steps": [{"action": "unmet", "need": "x"}]}});
        assert!(unmet_of_document(&unknown).is_empty());
    }
}
