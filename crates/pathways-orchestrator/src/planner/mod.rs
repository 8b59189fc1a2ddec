//! The planner: a pure, deterministic function from a case and what partners said to one
//! coordinated action plan.
//!
//! No clock, no I/O, no randomness: the same inputs give the same plan, whatever order the
//! answers arrived in. That makes the plan explainable and testable, and lets a later version
//! add pathway statistics as one more input.
//!
//! - Every need of the case appears exactly once: as a `refer` step when some partner made a
//!   viable offer for it (see [`rank`]), otherwise in `unmet` with the reason and national
//!   signposts.
//! - Needs are planned, and steps ordered, safety first (domestic abuse, safeguarding, emergency
//!   housing), then by urgency and due date, then in the order the case lists them. Planning in
//!   that order lets the most pressing needs choose first and later needs prefer a partner
//!   already chosen.
//! - Each step keeps up to two fallbacks, lists the client fields the referral would share
//!   (minimised per partner) and says whether the case's consent covers the partner.
//! - A domestic-abuse service that takes a referral leads the plan; otherwise the referring
//!   organisation does.

mod rank;
#[cfg(test)]
mod tests;
mod words;

use chrono::{DateTime, NaiveDate, Utc};
use pathways_core::{
    ActionPlan, Case, Eligibility, Fallback, Lead, Need, NeedCode, PartnerOutcome, PartnerReport,
    PlanStep, Referral, StepAction, UnmetNeed, Urgency,
};

use crate::fanout::PartnerAnswer;
use crate::signposts::SignpostCatalogue;
use rank::{Candidate, Candidates};

/// Fallbacks kept per step.
const MAX_FALLBACKS: usize = 2;

/// Builds the action plan for `case` from the partners' `answers`, made on `today` and stamped
/// `generated_at`. Pure and deterministic.
pub fn build_plan(
    case: &Case,
    answers: &[PartnerAnswer],
    signposts: &SignpostCatalogue,
    today: NaiveDate,
    generated_at: DateTime<Utc>,
) -> ActionPlan {
    let candidates = Candidates::collect(case, answers);
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
                steps.push(refer_step(case, need, best, others, &helping_with, today));
            }
            None => unmet.push(unmet_need(need.code, &candidates, answers, signposts)),
        }
    }
    for (index, step) in steps.iter_mut().enumerate() {
        step.order = u32::try_from(index + 1).unwrap_or(u32::MAX);
    }

    let mut partners: Vec<PartnerReport> = answers.iter().map(PartnerAnswer::report).collect();
    partners.sort_by(|a, b| a.partner_id.cmp(&b.partner_id));

    ActionPlan {
        case_id: case.reference.clone(),
        lead: lead(case, &steps),
        steps,
        unmet,
        partners,
        generated_at,
    }
}

/// The case's needs in the order they are planned and listed.
fn planning_order(case: &Case, today: NaiveDate) -> Vec<&Need> {
    let mut needs: Vec<(usize, &Need)> = case.needs.iter().enumerate().collect();
    needs.sort_by_key(|(index, need)| {
        (!is_safety(need), need.urgency, need.urgency.due_by(today), *index)
    });
    needs.into_iter().map(|(_, need)| need).collect()
}

/// Someone may be in danger, or has nowhere to sleep tonight.
fn is_safety(need: &Need) -> bool {
    need.code.is_safety()
        || (need.code == NeedCode::HousingHomelessness && need.urgency == Urgency::Emergency)
}

fn refer_step(
    case: &Case,
    need: &Need,
    best: &Candidate<'_>,
    others: &[Candidate<'_>],
    helping_with: &[NeedCode],
    today: NaiveDate,
) -> PlanStep {
    let due_by = need.urgency.due_by(today);
    let offer = best.offer;
    let is_da_service = best.manifest.is_domestic_abuse_service();
    let shares = Referral::fields_shared(case, &best.manifest.shares, is_da_service);
    let needs_consent = !case.consent.covers(best.partner_id);

    let mut why = format!("{}.", words::availability(offer, today));
    if offer.eligibility == Eligibility::Unknown {
        why.push_str(" They will check whether you qualify.");
    }
    if best.is_late(due_by) {
        why.push_str(&format!(
            " That is later than we hoped, as this should be sorted {}.",
            words::by_day(due_by, today)
        ));
    }
    if !helping_with.is_empty() {
        why.push_str(&format!(
            " They are also helping you with {}, so there is one less place to explain things to.",
            words::needs_list(helping_with)
        ));
    }
    let contact_withheld = case.client.safe_contact
        && !is_da_service
        && best.manifest.shares.iter().any(|field| field.is_contact());
    if contact_withheld {
        why.push_str(&format!(
            " They will contact you through {}, not directly.",
            case.referrer.organisation
        ));
    }
    if needs_consent {
        why.push_str(" We need your agreement before we share your details with them.");
    }

    let fallbacks: Vec<Fallback> = others
        .iter()
        .take(MAX_FALLBACKS)
        .enumerate()
        .map(|(i, other)| {
            let tried = match i {
                0 => format!("If {} cannot help", offer.service.name),
                _ => format!(
                    "If neither {} nor {} can help",
                    offer.service.name, others[0].offer.service.name
                ),
            };
            Fallback {
                partner_id: other.partner_id.to_string(),
                service: other.offer.service.clone(),
                why: format!("{tried}, {}.", words::availability(other.offer, today)),
            }
        })
        .collect();

    PlanStep {
        order: 0, // numbered once every step is in place
        need: need.code,
        action: StepAction::Refer,
        partner_id: Some(best.partner_id.to_string()),
        service: Some(offer.service.clone()),
        due_by,
        why,
        shares,
        needs_consent,
        fallbacks,
    }
}

fn unmet_need(
    need: NeedCode,
    candidates: &Candidates<'_>,
    answers: &[PartnerAnswer],
    signposts: &SignpostCatalogue,
) -> UnmetNeed {
    let describe = need.describe();
    let asked: Vec<&PartnerAnswer> = answers.iter().filter(|a| a.asked.contains(&need)).collect();
    let mut reasons: Vec<String> = Vec::new();
    if asked.is_empty() {
        reasons.push(format!(
            "None of the services we work with in your area helps with {describe} yet."
        ));
    }
    // Every offer here is not viable: otherwise the need would have a step.
    for candidate in candidates.all(need) {
        let name = &candidate.offer.service.name;
        let reason = match &candidate.offer.eligibility {
            Eligibility::NotEligible { reason } => {
                format!("{name} said you do not qualify: {}", words::full_stop(reason))
            }
            _ => format!("{name} has no space at the moment."),
        };
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    let silent = asked.iter().filter(|a| a.outcome != PartnerOutcome::Answered).count();
    if silent > 0 {
        reasons.push(format!(
            "We could not get an answer in time from {} that can help with {describe}.",
            words::services(silent)
        ));
    }
    let without_offer = asked
        .iter()
        .filter(|a| a.outcome == PartnerOutcome::Answered)
        .filter(|a| !a.offers.iter().any(|o| o.need == need))
        .count();
    if without_offer > 0 {
        reasons.push(format!(
            "{} we asked cannot help with {describe} at the moment.",
            words::capitalise(&words::services(without_offer))
        ));
    }
    let signposts: Vec<String> = signposts.for_need(need).iter().map(ToString::to_string).collect();
    if !signposts.is_empty() {
        reasons.push("Here are national services you can contact yourself.".to_string());
    }
    UnmetNeed { need, why: reasons.join(" "), signposts }
}

fn lead(case: &Case, steps: &[PlanStep]) -> Lead {
    let referrer = &case.referrer.organisation;
    let da_step =
        steps.iter().find(|s| s.need == NeedCode::DomesticAbuse && s.action == StepAction::Refer);
    match da_step.and_then(|s| Some((s.partner_id.as_ref()?, s.service.as_ref()?))) {
        Some((partner_id, service)) => Lead {
            partner_id: partner_id.clone(),
            why: format!(
                "{} will lead your plan, because your safety comes first; they will work with {referrer} on the other steps.",
                service.name
            ),
        },
        None => Lead {
            partner_id: referrer.clone(),
            why: format!(
                "{referrer} will coordinate your plan and keep in touch with each service, so you only have to tell your story once."
            ),
        },
    }
}
