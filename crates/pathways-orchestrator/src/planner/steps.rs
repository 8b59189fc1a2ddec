//! One need's entry in the plan: a step for the best viable offer (a referral, or a service the
//! client contacts themselves), or an unmet need with the reasons and where else to turn.
//!
//! - `refer`: the partner takes referrals. The step lists the client fields the referral would
//!   share (minimised per partner) and whether the client must agree first (`consent`).
//! - `signpost`: the best offer is from a partner that answered but takes no referrals (a
//!   walk-in food bank, a drop-in): the client goes to that local service themselves, and
//!   nothing is shared.
//! - `self_help`: the same, for a service the client uses on their own online (a benefits
//!   checker, an online course).
//! - unmet: no viable offer. National helplines from the signpost catalogue go in the unmet
//!   entry's `signposts`, not in a `signpost` step: CONTRACT.md says an unmet need carries the
//!   reason *and* the signposts, and a pathfinder must see that no local partner could help.

use chrono::NaiveDate;
use pathways_core::{
    Case, Eligibility, Fallback, Need, NeedCode, PartnerOutcome, PlanStep, Referral,
    ServiceChannel, StepAction, UnmetNeed,
};

use super::consent::StepConsent;
use super::rank::{Candidate, Candidates};
use super::words;
use crate::fanout::PartnerAnswer;
use crate::signposts::SignpostCatalogue;

/// Fallbacks kept per step.
const MAX_FALLBACKS: usize = 2;

/// The step for `need` with `best` chosen and `others` as the next best.
pub(super) fn chosen_step(
    case: &Case,
    need: &Need,
    best: &Candidate<'_>,
    others: &[Candidate<'_>],
    candidates: &Candidates<'_>,
    helping_with: &[NeedCode],
    today: NaiveDate,
) -> PlanStep {
    let due_by = need.urgency.due_by(today);
    let offer = best.offer;
    let action = if best.takes_referrals() {
        StepAction::Refer
    } else if offer.channel == Some(ServiceChannel::Online) {
        StepAction::SelfHelp
    } else {
        StepAction::Signpost
    };

    let mut why = format!("{}.", words::availability(offer, today));
    match action {
        StepAction::SelfHelp => {
            why.push_str(" You can use it yourself online; we do not need to refer you.")
        }
        StepAction::Signpost => {
            why.push_str(" They do not take referrals from us, so please contact them yourself.")
        }
        _ => {}
    }
    if offer.eligibility == Eligibility::Unknown {
        why.push_str(" They will check whether you qualify.");
    }
    if best.is_late(due_by) {
        why.push_str(&format!(
            " That is later than we hoped, as this should be sorted {}.",
            words::by_day(due_by, today)
        ));
    }
    if let Some(history) = candidates.history(best).filter(|h| h.sent > 0) {
        why.push_str(&format!(
            " Of the {} people we have referred to them for {}, {} got the help.",
            history.sent,
            need.code.describe(),
            history.completed.min(history.accepted).min(history.sent)
        ));
    }
    if !helping_with.is_empty() {
        why.push_str(&format!(
            " They are also helping you with {}, so there is one less place to explain things to.",
            words::needs_list(helping_with)
        ));
    }

    let (shares, needs_consent) = if action == StepAction::Refer {
        let gets_contact = pathways_core::receives_safe_contact_details(
            best.domestic_abuse_confirmed,
            best.manifest,
            need.code,
        );
        let shares = Referral::fields_shared(case, &best.manifest.shares, gets_contact);
        let contact_withheld = case.client.safe_contact
            && !gets_contact
            && best.manifest.shares.iter().any(|field| field.is_contact());
        if contact_withheld {
            why.push_str(&format!(
                " They will contact you through {}, not directly.",
                case.referrer.organisation
            ));
        }
        let consent = StepConsent::for_step(case, best.partner_id, need);
        why.push_str(consent.sentence().unwrap_or_default());
        (shares, consent.needs_consent())
    } else {
        // The client goes themselves: nothing leaves, so there is nothing to consent to.
        (Vec::new(), false)
    };

    PlanStep {
        order: 0, // numbered once every step is in place
        need: need.code,
        action,
        partner_id: Some(best.partner_id.to_string()),
        service: Some(offer.service.clone()),
        due_by,
        why,
        shares,
        needs_consent,
        fallbacks: fallbacks(best, others, today),
    }
}

fn fallbacks(best: &Candidate<'_>, others: &[Candidate<'_>], today: NaiveDate) -> Vec<Fallback> {
    let first = &best.offer.service.name;
    others
        .iter()
        .take(MAX_FALLBACKS)
        .enumerate()
        .map(|(i, other)| {
            let tried = match i {
                0 => format!("If {first} cannot help"),
                _ => format!("If neither {first} nor {} can help", others[0].offer.service.name),
            };
            Fallback {
                partner_id: other.partner_id.to_string(),
                service: other.offer.service.clone(),
                why: format!("{tried}, {}.", words::availability(other.offer, today)),
            }
        })
        .collect()
}

/// `need` as unmet: every reason no partner can help, and national signposts.
pub(super) fn unmet_need(
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
    // Every offer here is not viable: otherwise the need would have a step. Sorted, so the
    // reasons read the same whatever order the answers arrived in.
    let mut refusals: Vec<String> = candidates
        .all(need)
        .iter()
        .map(|candidate| {
            let name = &candidate.offer.service.name;
            match &candidate.offer.eligibility {
                Eligibility::NotEligible { reason } => {
                    format!("{name} said you do not qualify: {}", words::full_stop(reason))
                }
                _ => format!("{name} has no space at the moment."),
            }
        })
        .collect();
    refusals.sort();
    refusals.dedup();
    reasons.extend(refusals);
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
