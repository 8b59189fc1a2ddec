//! One need's entry in the plan.
//!
//! - `refer`: the best viable offer is a service the partner takes referrals for, and the case
//!   has everything the partner requires. The step lists the client fields the referral would
//!   share (minimised per partner) and whether the client must agree first (`consent`).
//! - `blocked`: the same, but the case lacks something the partner's manifest requires (the
//!   Duty to Refer facts, a phone number): the step names what to ask, and the referral intake
//!   refuses it for the same list ([`pathways_core::missing_prerequisites`]).
//! - `signpost` / `self_help`: the service takes no referrals (per service, not per partner):
//!   the client contacts it, or uses it online, themselves; the step says how and when.
//! - `in_house` / `declined`: what the pathfinder recorded with the client.
//! - `unmet`: no viable offer: every reason, and services the client can contact themselves.

use chrono::NaiveDate;
use pathways_core::{
    missing_prerequisites, ChosenService, Contactable, Eligibility, Fallback, Named, Need,
    PartnerKind, PartnerOutcome, Personal, PlanStep, Referable, Referral, Route, Signpost,
    StepAction, UnmetReason, Wait,
};

use super::consent::StepConsent;
use super::rank::{Candidate, Candidates};
use super::words;
use super::Context;
use crate::fanout::PartnerAnswer;
use crate::messages::Words;

/// Fallbacks kept per step.
const MAX_FALLBACKS: usize = 2;

/// What the pathfinder decided with the client for one need, if anything.
#[derive(Debug, Clone, Copy)]
pub(super) enum Pin<'a> {
    /// Use this service.
    Choose { partner_id: &'a str, service_id: &'a str },
    /// The client declined.
    Decline { reason: &'a Personal<String> },
    /// The referring organisation helps itself.
    InHouse { service: &'a str },
}

/// The entry for `need`, given the ranked offers (best first) and any pin.
pub(super) fn entry(
    cx: &Context<'_>,
    need: &Need,
    ranked: &[Candidate<'_>],
    candidates: &Candidates<'_>,
    helping_with: &[pathways_core::NeedCode],
    pin: Option<Pin<'_>>,
) -> PlanStep {
    let words = &cx.words;
    let due_by = need.urgency.due_by(cx.today);
    let base = |why: String, note: Option<String>, action: StepAction| PlanStep {
        order: 0, // numbered once every entry is in place
        need_id: need.id.clone(),
        need: need.code,
        urgency: need.urgency,
        due_by,
        safety: need.is_safety(),
        why,
        note,
        action,
    };
    let need_words = words::need(words, need.code);
    match pin {
        Some(Pin::Decline { reason }) => {
            let why = words.get("step-declined", &[("need", need_words.into())]);
            let offered = ranked.first().map(|c| chosen_service(c));
            return base(why, None, StepAction::Declined { offered, reason: reason.clone() });
        }
        Some(Pin::InHouse { service }) => {
            let organisation = Named {
                id: cx.case.referrer.organisation.clone(),
                name: cx.organisation_name(&cx.case.referrer.organisation),
            };
            let why = words.get(
                "step-in-house",
                &[
                    ("organisation", organisation.name.clone().into()),
                    ("need", need_words.into()),
                    ("service", words::without_full_stop(service).into()),
                ],
            );
            let why = words::full_stop(&why);
            return base(
                why,
                None,
                StepAction::InHouse { organisation, service: service.to_string() },
            );
        }
        Some(Pin::Choose { .. }) | None => {}
    }
    let Some((best, others)) = ranked.split_first() else {
        let (why, signposts, reasons) = unmet(cx, need, candidates);
        return base(why, None, StepAction::Unmet { signposts, reasons });
    };
    let offer = best.offer;
    let route = best.route();
    let mut why = words::availability(words, offer, cx.today);
    let mut note: Vec<String> = Vec::new();
    if let Some(estimate) = offer.wait_estimate.as_deref().map(str::trim).filter(|e| !e.is_empty())
    {
        note.push(format!("Their own words on the wait: \"{estimate}\"."));
    }
    let fallbacks = fallbacks(words, best, others, cx.today);
    let chosen = chosen_service(best);
    let mut say = |id: &str| {
        why.push(' ');
        why.push_str(&words.plain(id));
    };
    if matches!(pin, Some(Pin::Choose { .. })) {
        say("step-chosen-with-client");
    }
    if offer.eligibility == Eligibility::Unknown {
        say("step-eligibility-unknown");
    }

    if route == Route::Refer {
        let missing =
            missing_prerequisites(cx.case, best.manifest, need.code, best.domestic_abuse_confirmed);
        if !missing.is_empty() {
            let why = words.get(
                "step-blocked",
                &[("service", offer.service.name.clone().into()), ("need", need_words.into())],
            );

            note.insert(
                0,
                format!("Before this can be referred, {}.", pathways_core::what_to_ask(&missing)),
            );
            return base(
                why,
                Some(note.join(" ")),
                StepAction::Blocked { chosen, missing, fallbacks },
            );
        }
    }
    let wait = wait(cx, need, best, due_by, &mut why);
    if let Some(history) = candidates.history(best).filter(|h| h.sent > 0) {
        why.push(' ');
        why.push_str(&words.get(
            "step-history",
            &[
                ("sent", history.sent.to_string().into()),
                ("need", words::need(words, need.code).into()),
                (
                    "helped",
                    history.completed.min(history.accepted).min(history.sent).to_string().into(),
                ),
            ],
        ));
    }
    if !helping_with.is_empty() {
        why.push(' ');
        why.push_str(
            &words.get(
                "step-also-helping",
                &[("needs", words::needs_list(words, helping_with).into())],
            ),
        );
    }

    let action = match route {
        Route::Refer => {
            let gets_contact = pathways_core::receives_safe_contact_details(
                best.domestic_abuse_confirmed,
                best.manifest,
                need.code,
            );
            let shares = Referral::fields_shared(cx.case, &best.manifest.shares, gets_contact);
            let contact_withheld = cx.case.client.safe_contact
                && !gets_contact
                && best.manifest.shares.iter().any(|field| field.is_contact());
            if contact_withheld {
                why.push(' ');
                why.push_str(&words.get(
                    "step-contact-withheld",
                    &[("referrer", cx.organisation_name(&cx.case.referrer.organisation).into())],
                ));
                note.push(
                    "The client's contact details are withheld from this partner (safe contact)."
                        .into(),
                );
            }
            if let Some(language) = cx.case.interpreter() {
                why.push(' ');
                why.push_str(&words.get(
                    "step-interpreter",
                    &[("language", words::language(words, language).into())],
                ));
            }
            let consent = StepConsent::for_step(cx.case, best.partner_id, need);
            if let Some(id) = consent.message() {
                why.push(' ');
                why.push_str(&words.plain(id));
            }
            if let Some(kind_note) = kind_note(best.manifest.kind) {
                note.insert(0, kind_note.to_string());
            }
            StepAction::Refer(Referable {
                chosen,
                shares,
                needs_consent: consent.needs_consent(),
                wait,
                fallbacks,
            })
        }
        Route::Signpost | Route::SelfHelp => {
            why.push(' ');
            why.push_str(&words.plain(if route == Route::SelfHelp {
                "step-self-help"
            } else {
                "step-signpost"
            }));
            if let Some(contact) = &offer.contact {
                for sentence in words::contact(words, contact) {
                    why.push(' ');
                    why.push_str(&sentence);
                }
            }
            if best.takes_referrals() {
                note.push(format!(
                    "{} takes referrals through pathways for some services, but not for this one.",
                    best.partner_name
                ));
            }
            let contactable = Contactable { chosen, wait, fallbacks };
            if route == Route::SelfHelp {
                StepAction::SelfHelp(contactable)
            } else {
                StepAction::Signpost(contactable)
            }
        }
    };
    let note = (!note.is_empty()).then(|| note.join(" "));
    base(why, note, action)
}

/// The pathfinder's note on a kind of partner: the technical terms the client is not told.
fn kind_note(kind: PartnerKind) -> Option<&'static str> {
    match kind {
        PartnerKind::Housing => Some(
            "A Duty to Refer referral (Homelessness Reduction Act 2017, s.213B): the housing authority must contact the client.",
        ),
        PartnerKind::Foodbank => {
            Some("The food bank issues an e-voucher for the client to take to a distribution centre.")
        }
        PartnerKind::Nhs => Some("Sent as an NHS BaRS referral (a FHIR ServiceRequest)."),
        PartnerKind::Council => Some("Sent to the council as an Open311 service request."),
        PartnerKind::Voluntary | PartnerKind::Other => None,
    }
}

fn chosen_service(candidate: &Candidate<'_>) -> ChosenService {
    ChosenService {
        partner: Named {
            id: candidate.partner_id.to_string(),
            name: candidate.partner_name.to_string(),
        },
        service: candidate.offer.service.clone(),
        contact: candidate.offer.contact.clone().filter(|c| !c.is_empty()),
    }
}

/// The wait set against the need: when the earliest start is after the due date, the step
/// says so and offers services for the time between.
fn wait(
    cx: &Context<'_>,
    need: &Need,
    best: &Candidate<'_>,
    due_by: NaiveDate,
    why: &mut String,
) -> Option<Wait> {
    let offer = best.offer;
    let estimate = offer.wait_estimate.clone().filter(|e| !e.trim().is_empty());
    if offer.earliest_start.is_none() && estimate.is_none() {
        return None;
    }
    let longer_than_need = best.is_late(due_by);
    let mut interim: Vec<Signpost> = Vec::new();
    if longer_than_need {
        why.push(' ');
        why.push_str(
            &cx.words
                .get("step-late", &[("by", words::by_day(&cx.words, due_by, cx.today).into())]),
        );
        interim = cx.rules.signposts.for_need_outside(need.code, cx.network.as_deref());
        if !interim.is_empty() {
            let names: Vec<String> = interim.iter().map(ToString::to_string).collect();
            why.push(' ');
            why.push_str(
                &cx.words
                    .get("step-interim", &[("services", words::list(&cx.words, &names).into())]),
            );
        }
    }
    Some(Wait { earliest_start: offer.earliest_start, estimate, longer_than_need, interim })
}

fn fallbacks(
    words: &Words<'_>,
    best: &Candidate<'_>,
    others: &[Candidate<'_>],
    today: NaiveDate,
) -> Vec<Fallback> {
    let first = &best.offer.service.name;
    others
        .iter()
        .take(MAX_FALLBACKS)
        .enumerate()
        .map(|(i, other)| {
            let offer = words::availability_clause(words, other.offer, today);
            let why = match i {
                0 => {
                    words.get("fallback-first", &[("first", first.into()), ("offer", offer.into())])
                }
                _ => words.get(
                    "fallback-second",
                    &[
                        ("first", first.into()),
                        ("second", others[0].offer.service.name.clone().into()),
                        ("offer", offer.into()),
                    ],
                ),
            };
            Fallback { chosen: chosen_service(other), why }
        })
        .collect()
}

/// Why `need` is unmet, and services the client can contact themselves.
/// Why no offer is viable, in words and as codes (each code once, in order), and what the
/// client can contact meanwhile.
fn unmet(
    cx: &Context<'_>,
    need: &Need,
    candidates: &Candidates<'_>,
) -> (String, Vec<Signpost>, Vec<UnmetReason>) {
    let words = &cx.words;
    let code = need.code;
    let need_words = words::need(words, code);
    let asked: Vec<&PartnerAnswer> =
        cx.answers.iter().filter(|a| a.asked.contains(&code)).collect();
    let mut reasons: Vec<String> = Vec::new();
    let mut codes: Vec<UnmetReason> = Vec::new();
    if asked.is_empty() {
        reasons.push(words.get("unmet-none-in-area", &[("need", need_words.clone().into())]));
        codes.push(UnmetReason::NoServiceInArea);
    }
    // Every offer here is not viable: otherwise the need would have a step. Sorted, so the
    // reasons read the same whatever order the answers arrived in.
    let mut refusals: Vec<String> = candidates
        .all(code)
        .iter()
        .map(|candidate| {
            let service = candidate.offer.service.name.clone();
            match &candidate.offer.eligibility {
                Eligibility::NotEligible { reason } => {
                    codes.push(UnmetReason::NotEligible);
                    words.get(
                        "unmet-not-eligible",
                        &[
                            ("service", service.into()),
                            ("reason", words::without_full_stop(reason).into()),
                        ],
                    )
                }
                _ => {
                    codes.push(UnmetReason::NoCapacity);
                    words.get("unmet-no-space", &[("service", service.into())])
                }
            }
        })
        .collect();
    refusals.sort();
    refusals.dedup();
    reasons.extend(refusals);
    let mut silent: Vec<&&PartnerAnswer> =
        asked.iter().filter(|a| a.outcome != PartnerOutcome::Answered).collect();
    silent.sort_by(|a, b| a.name.cmp(&b.name));
    if !silent.is_empty() {
        codes.push(UnmetReason::NoAnswer);
    }
    for answer in silent {
        reasons.push(words.get(
            "unmet-no-answer",
            &[
                ("partner", answer.name.clone().into()),
                ("outcome", words::outcome(answer.outcome).into()),
                ("need", need_words.clone().into()),
            ],
        ));
    }
    let without_offer = asked
        .iter()
        .filter(|a| a.outcome == PartnerOutcome::Answered)
        .filter(|a| !a.offers.iter().any(|o| o.need == code))
        .count();
    if without_offer > 0 {
        codes.push(UnmetReason::NoOffer);
        reasons.push(words.get(
            "unmet-cannot-help",
            &[("count", words::count(without_offer)), ("need", need_words.into())],
        ));
    }
    let signposts = cx.rules.signposts.for_need_outside(code, cx.network.as_deref());
    if !signposts.is_empty() {
        reasons.push(words.plain("unmet-signposts"));
    }
    codes.sort();
    codes.dedup();
    (reasons.join(" "), signposts, codes)
}
