//! The lead coordinator: the first [`LeadRule`] that applies, else the referring organisation.
//! The reason is said in words and kept as a [`LeadReason`].

use std::collections::BTreeMap;

use pathways_core::{Lead, LeadReason, Named, PlanStep, ServiceRef, StepAction};

use super::rules::{LeadChoice, LeadRule};
use super::words;
use super::Context;

/// The lead of a plan with `steps`, by the rules in order.
pub(super) fn choose(cx: &Context<'_>, steps: &[PlanStep]) -> Lead {
    for rule in &cx.rules.lead_rules {
        if let Some(need) = rule.when_need {
            if !cx.case.needs.iter().any(|n| n.code == need) {
                continue;
            }
        }
        if let Some(lead) = apply(cx, rule, steps) {
            return lead;
        }
    }
    referrer(cx, None, LeadReason::Default)
}

fn apply(cx: &Context<'_>, rule: &LeadRule, steps: &[PlanStep]) -> Option<Lead> {
    let words = &cx.words;
    let because = rule.because.as_deref().map(str::trim).filter(|b| !b.is_empty());
    match rule.lead {
        LeadChoice::Referrer => Some(referrer(cx, because, LeadReason::ReferrerRule)),
        LeadChoice::PartnerServingNeed => {
            let need = rule.when_need?;
            let (partner, service) =
                referred(steps).find(|(s, _, _)| s.need == need).map(|(_, p, sv)| (p, sv))?;
            let default =
                words.get("lead-because-need", &[("need", words::need(words, need).into())]);
            Some(partner_leads(
                cx,
                partner,
                Some(service),
                because,
                default,
                LeadReason::ServingNeed,
            ))
        }
        LeadChoice::MostSteps => {
            let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            for (index, (_, partner, _)) in referred(steps).enumerate() {
                let entry = counts.entry(partner.id.as_str()).or_insert((0, index));
                entry.0 += 1;
            }
            let (&id, _) = counts
                .iter()
                .filter(|(_, (n, _))| *n >= 2)
                .max_by_key(|(_, (n, first))| (*n, std::cmp::Reverse(*first)))?;
            let (_, partner, service) = referred(steps).find(|(_, p, _)| p.id == id)?;
            let default = words.plain("lead-because-most");
            Some(partner_leads(cx, partner, Some(service), because, default, LeadReason::MostSteps))
        }
        LeadChoice::Statutory => {
            let id = rule.partner.as_deref()?;
            let need = rule.when_need?;
            // Named as it appears in the plan, when it does; else by its configured name.
            let in_plan = referred(steps).find(|(_, p, _)| p.id == id);
            let partner = match in_plan {
                Some((_, p, _)) => p.clone(),
                None => Named { id: id.to_string(), name: cx.partner_name(id) },
            };
            let service = in_plan.map(|(_, _, s)| s);
            let default =
                words.get("lead-because-statutory", &[("need", words::need(words, need).into())]);
            Some(partner_leads(cx, &partner, service, because, default, LeadReason::Statutory))
        }
        LeadChoice::ClientPreference => {
            let preferred = cx.case.lead_preference.as_deref()?;
            if preferred == cx.case.referrer.organisation {
                let because = because
                    .map(str::to_string)
                    .unwrap_or_else(|| words.plain("lead-because-preference"));
                return Some(referrer(cx, Some(&because), LeadReason::ClientPreference));
            }
            let (_, partner, service) = referred(steps).find(|(_, p, _)| p.id == preferred)?;
            let default = words.plain("lead-because-preference");
            Some(partner_leads(
                cx,
                partner,
                Some(service),
                because,
                default,
                LeadReason::ClientPreference,
            ))
        }
    }
}

/// The `refer` and `blocked` steps with their partner and service, in plan order.
fn referred(steps: &[PlanStep]) -> impl Iterator<Item = (&PlanStep, &Named, &ServiceRef)> {
    steps.iter().filter_map(|s| match &s.action {
        StepAction::Refer(r) => Some((s, &r.chosen.partner, &r.chosen.service)),
        StepAction::Blocked { chosen, .. } => Some((s, &chosen.partner, &chosen.service)),
        _ => None,
    })
}

fn partner_leads(
    cx: &Context<'_>,
    partner: &Named,
    service: Option<&ServiceRef>,
    because: Option<&str>,
    default_because: String,
    reason: LeadReason,
) -> Lead {
    let because = because.map_or(default_because, str::to_string);
    let why = cx.words.get(
        "lead-partner",
        &[
            ("partner", service.map_or_else(|| partner.name.clone(), |s| s.name.clone()).into()),
            ("because", words::without_full_stop(&because).into()),
            ("organisation", cx.organisation_name(&cx.case.referrer.organisation).into()),
        ],
    );
    Lead::Partner { partner: partner.clone(), service: service.cloned(), reason, why }
}

fn referrer(cx: &Context<'_>, because: Option<&str>, reason: LeadReason) -> Lead {
    let id = &cx.case.referrer.organisation;
    let name = cx.organisation_name(id);
    let why = match because {
        Some(because) => cx.words.get(
            "lead-referrer-because",
            &[
                ("organisation", name.clone().into()),
                ("because", words::without_full_stop(because).into()),
            ],
        ),
        None => cx.words.get("lead-referrer", &[("organisation", name.clone().into())]),
    };
    Lead::Referrer { organisation: Named { id: id.clone(), name }, reason, why }
}
