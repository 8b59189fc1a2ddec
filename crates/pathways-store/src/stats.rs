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
use pathways_core::{
    is_ons_local_authority, ActionPlan, Case, NeedCode, StatusReason, StepAction, TaskState,
};
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

/// What a plan left open for a need: nothing can meet it now, or a service would but the
/// case lacks something it requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenStatus {
    /// The plan's `unmet` entries.
    Unmet,
    /// The plan's `blocked` entries.
    Blocked,
}

impl OpenStatus {
    /// As stored and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenStatus::Unmet => "unmet",
            OpenStatus::Blocked => "blocked",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "unmet" => Some(OpenStatus::Unmet),
            "blocked" => Some(OpenStatus::Blocked),
            _ => None,
        }
    }
}

/// The reason code kept for a need left open before reasons were kept.
pub const REASON_NOT_RECORDED: &str = "not_recorded";

/// One status × need × area line of the unmet needs report.
///
/// Read from plain copies the store keeps of each case's newest plan (plans themselves are
/// sealed): one row per need the plan leaves `unmet` or `blocked` and each reason, and the
/// case's council area. An erased case still counts, with its area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmetNeedRow {
    /// Unmet or blocked.
    pub status: OpenStatus,
    /// The need.
    pub need: NeedCode,
    /// The council area whose services the clients can use: the ONS code of a local
    /// authority (e.g. `E09000020`); empty when not known (a case erased before the store
    /// kept areas, or whose document did not open when the store filled them in).
    pub area: String,
    /// How many cases' newest plans, made in the period, left this need so.
    pub cases: u64,
    /// Of those, how many for each reason, most first (then by code). One case may have
    /// several reasons, so these may add up to more than `cases`. For `unmet`: a
    /// [`UnmetReason`](pathways_core::UnmetReason) code; for `blocked`: the kind of what was
    /// missing ([`Missing`](pathways_core::Missing)); `not_recorded` for plans stored before
    /// reasons were kept.
    pub reasons: Vec<OpenReasonCount>,
}

/// How many cases had one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenReasonCount {
    /// The reason's code.
    pub reason: String,
    /// How many cases.
    pub cases: u64,
}

/// One need a plan leaves open, for one reason: a row of `plan_unmet`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OpenNeed {
    pub need: NeedCode,
    pub status: OpenStatus,
    /// A code, or `""` when the plan recorded none.
    pub reason: String,
}

/// Builds the report from what a backend counted: `totals` (status, need, area, distinct
/// cases) and `reasons` (status, need, area, reason, cases). Ordered as [`most_first`].
pub(crate) fn open_needs_report(
    totals: Vec<(OpenStatus, NeedCode, String, u64)>,
    reasons: Vec<(OpenStatus, NeedCode, String, String, u64)>,
) -> Vec<UnmetNeedRow> {
    let mut by_line: BTreeMap<(OpenStatus, NeedCode, String), Vec<OpenReasonCount>> =
        BTreeMap::new();
    for (status, need, area, reason, cases) in reasons {
        let reason = if reason.is_empty() { REASON_NOT_RECORDED.to_string() } else { reason };
        by_line.entry((status, need, area)).or_default().push(OpenReasonCount { reason, cases });
    }
    let rows = totals
        .into_iter()
        .map(|(status, need, area, cases)| {
            let mut reasons = by_line.remove(&(status, need, area.clone())).unwrap_or_default();
            reasons.sort_by(|a, b| b.cases.cmp(&a.cases).then_with(|| a.reason.cmp(&b.reason)));
            UnmetNeedRow { status, need, area, cases, reasons }
        })
        .collect();
    most_first(rows)
}

/// Orders the unmet needs report: unmet before blocked, most cases first, then by need (in
/// the canonical order of [`NeedCode::ALL`]), then by area. Done here rather than in SQL so
/// that both backends agree whatever the database's collation.
pub(crate) fn most_first(mut rows: Vec<UnmetNeedRow>) -> Vec<UnmetNeedRow> {
    rows.sort_by(|a, b| {
        a.status
            .cmp(&b.status)
            .then(b.cases.cmp(&a.cases))
            .then(a.need.cmp(&b.need))
            .then_with(|| a.area.cmp(&b.area))
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

/// The needs a plan being stored leaves open (`unmet` or `blocked`), with each reason, each
/// once, in order.
pub(crate) fn unmet_of(plan: &ActionPlan) -> Vec<OpenNeed> {
    let steps = plan.steps.iter().filter_map(|step| match &step.action {
        StepAction::Unmet { reasons, .. } => Some((
            step.need,
            OpenStatus::Unmet,
            reasons.iter().map(|r| r.as_str().to_string()).collect::<Vec<_>>(),
        )),
        StepAction::Blocked { missing, .. } => {
            Some((step.need, OpenStatus::Blocked, missing.iter().map(missing_kind).collect()))
        }
        _ => None,
    });
    open_needs(steps)
}

/// The `kind` a [`Missing`](pathways_core::Missing) is written with.
fn missing_kind(missing: &pathways_core::Missing) -> String {
    serde_json::to_value(missing)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// One row per need, status and reason (`""` for a step with none), each once, in order.
fn open_needs(steps: impl Iterator<Item = (NeedCode, OpenStatus, Vec<String>)>) -> Vec<OpenNeed> {
    let mut rows: Vec<OpenNeed> = Vec::new();
    for (need, status, reasons) in steps {
        if reasons.is_empty() {
            rows.push(OpenNeed { need, status, reason: String::new() });
        }
        rows.extend(reasons.into_iter().map(|reason| OpenNeed { need, status, reason }));
    }
    rows.sort();
    rows.dedup();
    rows
}

/// What a stored plan document (`{"plan": …, "basis": …}`) leaves open, as [`unmet_of`]
/// reads a plan: the steps whose `action` is `unmet` (with their `reasons`) or `blocked`
/// (with their `missing` kinds). Read from the JSON, like [`area_of_document`]; a plan kept
/// before plans had versions reads as none (as it does for [`Store::latest_plan`]), and a
/// need code this build does not know is left out.
///
/// [`Store::latest_plan`]: crate::Store::latest_plan
pub(crate) fn unmet_of_document(record: &serde_json::Value) -> Vec<OpenNeed> {
    let steps = record.pointer("/plan/steps").and_then(|s| s.as_array());
    let codes = |step: &serde_json::Value, field: &str, pointer: Option<&str>| -> Vec<String> {
        let list = step.get(field).and_then(|l| l.as_array());
        list.into_iter()
            .flatten()
            .filter_map(|item| match pointer {
                Some(key) => item.get(key)?.as_str().map(str::to_string),
                None => item.as_str().map(str::to_string),
            })
            .collect()
    };
    let open = steps.into_iter().flatten().filter_map(|step| {
        let need: NeedCode = serde_json::from_value(step.get("need")?.clone()).ok()?;
        match step.get("action").and_then(|a| a.as_str())? {
            "unmet" => Some((need, OpenStatus::Unmet, codes(step, "reasons", None))),
            "blocked" => Some((need, OpenStatus::Blocked, codes(step, "missing", Some("kind")))),
            _ => None,
        }
    });
    open_needs(open)
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
    fn open_needs_read_from_a_document_agree_with_the_plan() {
        use pathways_core::{
            ChosenService, Missing, Named, PlanStep, ServiceRef, StepAction, UnmetReason, Urgency,
        };
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
        let unmet = |reasons: Vec<UnmetReason>| StepAction::Unmet { signposts: vec![], reasons };
        let blocked = StepAction::Blocked {
            chosen: ChosenService {
                partner: Named { id: "housing".into(), name: "Housing".into() },
                service: ServiceRef { id: "s".into(), name: "S".into() },
                contact: Default::default(),
            },
            missing: vec![Missing::ConsentToRefer, Missing::ChosenAuthority],
            fallbacks: vec![],
        };
        let steps = vec![
            step(NeedCode::Transport, unmet(vec![UnmetReason::NoServiceInArea])),
            step(
                NeedCode::Food,
                StepAction::Declined { offered: None, reason: "no".to_string().into() },
            ),
            step(NeedCode::Digital, unmet(vec![])),
            step(NeedCode::Transport, unmet(vec![UnmetReason::NoServiceInArea])),
            step(NeedCode::HousingHomelessness, blocked),
        ];
        let plan_rows = open_needs(steps.iter().filter_map(|s| match &s.action {
            StepAction::Unmet { reasons, .. } => Some((
                s.need,
                OpenStatus::Unmet,
                reasons.iter().map(|r| r.as_str().to_string()).collect(),
            )),
            StepAction::Blocked { missing, .. } => {
                Some((s.need, OpenStatus::Blocked, missing.iter().map(missing_kind).collect()))
            }
            _ => None,
        }));
        let document = serde_json::json!({"plan": {"steps": steps}, "basis": null});
        let read = unmet_of_document(&document);
        assert_eq!(read, plan_rows);
        let seen: Vec<(NeedCode, OpenStatus, &str)> =
            read.iter().map(|r| (r.need, r.status, r.reason.as_str())).collect();
        assert_eq!(
            seen,
            [
                (NeedCode::HousingHomelessness, OpenStatus::Blocked, "chosen_authority"),
                (NeedCode::HousingHomelessness, OpenStatus::Blocked, "consent_to_refer"),
                (NeedCode::Digital, OpenStatus::Unmet, ""),
                (NeedCode::Transport, OpenStatus::Unmet, "no_service_in_area"),
            ]
        );
        // A plan from before plans had versions (the bare plan) reads as none.
        assert!(unmet_of_document(&document["plan"]).is_empty());
        let unknown = serde_json::json!({"plan": {"steps": [{"action": "unmet", "need": "x"}]}});
        assert!(unmet_of_document(&unknown).is_empty());
    }

    #[test]
    fn the_report_counts_cases_once_and_each_reason_apart() {
        let (u, b) = (OpenStatus::Unmet, OpenStatus::Blocked);
        let area = || "E09000020".to_string();
        let rows = open_needs_report(
            vec![(b, NeedCode::Food, area(), 9), (u, NeedCode::Food, area(), 3)],
            vec![
                (u, NeedCode::Food, area(), "no_capacity".into(), 2),
                (u, NeedCode::Food, area(), "not_eligible".into(), 2),
                (u, NeedCode::Food, area(), "".into(), 1),
                (b, NeedCode::Food, area(), "client_field".into(), 9),
            ],
        );
        assert_eq!(rows[0].status, u, "unmet first");
        assert_eq!(rows[0].cases, 3);
        let reasons: Vec<(&str, u64)> =
            rows[0].reasons.iter().map(|r| (r.reason.as_str(), r.cases)).collect();
        assert_eq!(reasons, [("no_capacity", 2), ("not_eligible", 2), ("not_recorded", 1)]);
        assert_eq!((rows[1].status, rows[1].cases, rows[1].reasons.len()), (b, 9, 1));
    }
}
