//! The planner's entry points: [`build_plan`] (a first plan), [`amend_plan`] (a new version
//! with changes made with the client) and [`replan`] (partners asked again, amendments that
//! still apply kept). All three go through one pure function, so every version keeps the same
//! properties: each need exactly once, safety and emergencies first, nothing sendable that a
//! partner will refuse for a reason known now.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use pathways_core::{
    ActionPlan, Amendment, AmendmentRecord, Case, ClientAction, DroppedAmendment, Need,
    PartnerOutcome, PartnerReport, PlanStep, StepAction, Urgency,
};

use super::lead;
use super::rank::Candidates;
use super::rules::PlanRules;
use super::stats::PathwayStats;
use super::steps::{entry, Pin};
use super::words;
use super::Context;
use crate::fanout::PartnerAnswer;

/// Builds the first plan for `case` from the partners' `answers`, weighing offers by `stats`
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
    assemble(case, answers, stats, rules, today, generated_at, &[], 1)
}

/// An amendment that cannot be made, with its position in the request and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("amendments[{index}]: {message}")]
pub struct AmendmentError {
    /// Its position in the request.
    pub index: usize,
    /// Why it cannot be made.
    pub message: String,
}

/// Who makes amendments, when and why.
#[derive(Debug, Clone)]
pub struct Amender<'a> {
    /// The signed-in person or the API key's worker.
    pub by: &'a str,
    /// Why, in their words.
    pub reason: Option<&'a str>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The next version of `previous`, with `amendments` made by `who`, from the same `answers`
/// the plan was made from. Every amendment must apply, or none is made.
pub fn amend_plan(
    case: &Case,
    answers: &[PartnerAnswer],
    stats: &PathwayStats,
    rules: &PlanRules,
    previous: &ActionPlan,
    amendments: Vec<Amendment>,
    who: &Amender<'_>,
) -> Result<ActionPlan, AmendmentError> {
    if amendments.is_empty() {
        return Err(AmendmentError { index: 0, message: "no amendments given".into() });
    }
    let version = previous.version.saturating_add(1);
    let mut records = previous.amendments.clone();
    for (index, change) in amendments.into_iter().enumerate() {
        check(case, answers, &change).map_err(|message| AmendmentError { index, message })?;
        records.push(AmendmentRecord {
            version,
            by: who.by.to_string(),
            at: who.at,
            reason: who.reason.map(str::to_string),
            change,
        });
    }
    Ok(assemble(case, answers, stats, rules, previous.planned_on, who.at, &records, version))
}

/// A new plan from fresh `answers`, keeping the amendments of `previous` that still apply
/// (a chosen service no longer offered, or a need no longer in the case, is dropped and said).
pub fn replan(
    case: &Case,
    answers: &[PartnerAnswer],
    stats: &PathwayStats,
    rules: &PlanRules,
    previous: Option<&ActionPlan>,
    today: NaiveDate,
    generated_at: DateTime<Utc>,
) -> ActionPlan {
    let Some(previous) = previous else {
        return build_plan(case, answers, stats, rules, today, generated_at);
    };
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for record in &previous.amendments {
        match check(case, answers, &record.change) {
            Ok(()) => kept.push(record.clone()),
            Err(why) => dropped.push(DroppedAmendment { amendment: record.clone(), why }),
        }
    }
    let version = previous.version.saturating_add(1);
    let mut plan = assemble(case, answers, stats, rules, today, generated_at, &kept, version);
    plan.dropped = dropped;
    plan
}

/// Whether `change` can be made to a plan of `case` from `answers`; why not, in words.
fn check(case: &Case, answers: &[PartnerAnswer], change: &Amendment) -> Result<(), String> {
    let need = |id: &str| case.need(id).ok_or_else(|| format!("the case has no need `{id}`"));
    let text = |text: &str, what: &str| {
        if text.trim().is_empty() {
            Err(format!("the {what} must not be empty"))
        } else if text.chars().count() > 500 {
            Err(format!("the {what} must be at most 500 characters"))
        } else {
            Ok(())
        }
    };
    match change {
        Amendment::Choose { need_id, partner_id, service_id } => {
            let need = need(need_id)?;
            // A partner may answer the same service more than once for a need (one offer per
            // location, say): it can be chosen when any of those offers can take the client.
            let offered: Vec<&pathways_core::Offer> = answers
                .iter()
                .filter(|a| a.partner_id == *partner_id && a.outcome == PartnerOutcome::Answered)
                .flat_map(|a| &a.offers)
                .filter(|o| o.service.id == *service_id && o.need == need.code)
                .collect();
            let eligible = |o: &&pathways_core::Offer| {
                !matches!(o.eligibility, pathways_core::Eligibility::NotEligible { .. })
            };
            let has_room =
                |o: &&pathways_core::Offer| o.capacity != pathways_core::Capacity::NoCapacity;
            if offered.is_empty() {
                Err(format!(
                    "`{partner_id}` did not offer service `{service_id}` for `{}` in this plan's answers",
                    need.code
                ))
            } else if !offered.iter().any(eligible) {
                Err(format!("`{partner_id}` said the client does not qualify for `{service_id}`"))
            } else if !offered.iter().any(|o| eligible(o) && has_room(o)) {
                Err(format!("`{partner_id}` has no capacity for `{service_id}`"))
            } else {
                Ok(())
            }
        }
        Amendment::Decline { need_id, reason } => {
            need(need_id)?;
            text(reason.expose(), "reason")
        }
        Amendment::InHouse { need_id, service } => {
            need(need_id)?;
            text(service, "service")
        }
        Amendment::ClientAction { text: words, need_id } => {
            if let Some(id) = need_id {
                need(id)?;
            }
            text(words.expose(), "text")
        }
        Amendment::Goal { text: words } => text(words.expose(), "text"),
        Amendment::Reorder { need_ids } => {
            let mut seen = std::collections::BTreeSet::new();
            for id in need_ids {
                let need = need(id)?;
                if comes_first(need) {
                    return Err(format!(
                        "`{id}` is a safety or emergency need: those stay at the top of the plan"
                    ));
                }
                if !seen.insert(id) {
                    return Err(format!("`{id}` is listed twice"));
                }
            }
            Ok(())
        }
    }
}

/// Safety and emergency needs come before every other entry, whatever was amended.
fn comes_first(need: &Need) -> bool {
    need.is_safety() || need.urgency == Urgency::Emergency
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    case: &Case,
    answers: &[PartnerAnswer],
    stats: &PathwayStats,
    rules: &PlanRules,
    today: NaiveDate,
    generated_at: DateTime<Utc>,
    amendments: &[AmendmentRecord],
    version: u32,
) -> ActionPlan {
    let cx = Context {
        case,
        answers,
        rules,
        words: rules.messages.language(&case.client.preferred_language),
        today,
        network: rules.network_of(&case.referrer.organisation),
    };
    let candidates = Candidates::collect(case, answers, stats);

    // The last amendment for a need decides it; later ones override earlier ones.
    let mut pins: BTreeMap<&str, Pin<'_>> = BTreeMap::new();
    let mut client_actions = Vec::new();
    let mut goals = Vec::new();
    let mut reorder: Option<&[String]> = None;
    for record in amendments {
        match &record.change {
            Amendment::Choose { need_id, partner_id, service_id } => {
                pins.insert(need_id, Pin::Choose { partner_id, service_id });
            }
            Amendment::Decline { need_id, reason } => {
                pins.insert(need_id, Pin::Decline { reason });
            }
            Amendment::InHouse { need_id, service } => {
                pins.insert(need_id, Pin::InHouse { service });
            }
            Amendment::ClientAction { text, need_id } => {
                client_actions.push(ClientAction { text: text.clone(), need_id: need_id.clone() });
            }
            Amendment::Goal { text } => goals.push(text.clone()),
            Amendment::Reorder { need_ids } => reorder = Some(need_ids),
        }
    }

    let mut steps: Vec<PlanStep> = Vec::new();
    for need in planning_order(case, today) {
        let due_by = need.urgency.due_by(today);
        let chosen: Vec<&str> = steps.iter().filter_map(PlanStep::partner_id).collect();
        let used: Vec<(&str, &str)> =
            steps.iter().filter(|s| s.need == need.code).filter_map(service_of).collect();
        let mut ranked = candidates.ranked(need.code, due_by, &chosen, &used);
        let pin = pins.get(need.id.as_str()).copied();
        if let Some(Pin::Choose { partner_id, service_id }) = pin {
            if let Some(at) = ranked.iter().position(|c| c.is(partner_id, service_id)) {
                let picked = ranked.remove(at);
                ranked.insert(0, picked);
            }
        }
        let helping_with: Vec<pathways_core::NeedCode> = ranked
            .first()
            .map(|best| {
                steps
                    .iter()
                    .filter(|s| s.partner_id() == Some(best.partner_id))
                    .map(|s| s.need)
                    .collect()
            })
            .unwrap_or_default();
        let step = entry(&cx, need, &ranked, &candidates, &helping_with, pin);
        drop(ranked);
        steps.push(step);
    }
    if let Some(order) = reorder {
        apply_reorder(&mut steps, case, order);
    }
    for (index, step) in steps.iter_mut().enumerate() {
        step.order = u32::try_from(index + 1).unwrap_or(u32::MAX);
    }

    let mut partners: Vec<PartnerReport> = answers.iter().map(PartnerAnswer::report).collect();
    partners.sort_by(|a, b| {
        (&a.partner_id, a.latency_ms, &a.detail).cmp(&(&b.partner_id, b.latency_ms, &b.detail))
    });
    let mut silent: Vec<&PartnerAnswer> =
        answers.iter().filter(|a| a.outcome != PartnerOutcome::Answered).collect();
    silent.sort_by(|a, b| (&a.name, &a.partner_id).cmp(&(&b.name, &b.partner_id)));
    let incomplete: Vec<String> = silent
        .iter()
        .map(|a| {
            cx.words.get(
                "incomplete-partner",
                &[
                    ("partner", a.name.clone().into()),
                    ("outcome", words::outcome(a.outcome).into()),
                ],
            )
        })
        .collect();

    ActionPlan {
        case_id: case.reference.clone(),
        version,
        planned_on: today,
        complete: incomplete.is_empty(),
        incomplete,
        act_now: act_now(&cx, &steps),
        lead: lead::choose(&cx, &steps),
        steps,
        client_actions,
        goals,
        language: cx.words.code().to_string(),
        interpreter: case.interpreter().map(str::to_string),
        partners,
        amendments: amendments.to_vec(),
        dropped: Vec::new(),
        generated_at,
    }
}

/// The act-now line, when a safety need that is an emergency has no service taking it now
/// (unmet, blocked or declined): the first thing to say.
fn act_now(cx: &Context<'_>, steps: &[PlanStep]) -> Option<String> {
    steps
        .iter()
        .filter(|s| s.safety && s.urgency == Urgency::Emergency)
        .find(|s| {
            matches!(
                s.action,
                StepAction::Unmet { .. } | StepAction::Blocked { .. } | StepAction::Declined { .. }
            )
        })
        .map(|s| cx.words.plain(&format!("act-now-{}", s.need.as_str())))
}

fn service_of(step: &PlanStep) -> Option<(&str, &str)> {
    step.chosen().map(|c| (c.partner.id.as_str(), c.service.id.as_str()))
}

/// Puts the entries that do not come first in the pathfinder's order: those listed, in the
/// listed order, then the rest as planned. Safety and emergency entries stay at the top.
fn apply_reorder(steps: &mut Vec<PlanStep>, case: &Case, order: &[String]) {
    let first = |s: &PlanStep| case.need(&s.need_id).is_some_and(comes_first);
    let (top, rest): (Vec<PlanStep>, Vec<PlanStep>) = steps.drain(..).partition(first);
    let position =
        |s: &PlanStep| order.iter().position(|id| *id == s.need_id).unwrap_or(usize::MAX);
    let mut rest: Vec<(usize, usize, PlanStep)> =
        rest.into_iter().enumerate().map(|(i, s)| (position(&s), i, s)).collect();
    rest.sort_by_key(|(p, i, _)| (*p, *i));
    steps.extend(top);
    steps.extend(rest.into_iter().map(|(_, _, s)| s));
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
