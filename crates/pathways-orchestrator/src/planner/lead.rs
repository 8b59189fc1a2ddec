//! The lead coordinator: the first [`LeadRule`] that applies, else the referring organisation.

use pathways_core::{Case, Lead, PlanStep, StepAction};

use super::rules::{LeadChoice, LeadRule};
use super::words;

/// The lead of a plan with `steps`, by `rules` in order.
pub(super) fn choose(case: &Case, steps: &[PlanStep], rules: &[LeadRule]) -> Lead {
    let referrer = &case.referrer.organisation;
    for rule in rules {
        if !case.needs.iter().any(|n| n.code == rule.when_need) {
            continue;
        }
        match rule.lead {
            LeadChoice::Referrer => return referrer_leads(case, rule.because.as_deref()),
            LeadChoice::PartnerServingNeed => {
                let referred = steps
                    .iter()
                    .find(|s| s.need == rule.when_need && s.action == StepAction::Refer);
                let Some((partner_id, service)) =
                    referred.and_then(|s| Some((s.partner_id.as_ref()?, s.service.as_ref()?)))
                else {
                    continue;
                };
                let because = match rule.because.as_deref().map(str::trim) {
                    Some(because) if !because.is_empty() => because.to_string(),
                    _ => format!("they are helping you with {}", rule.when_need.describe()),
                };
                return Lead {
                    partner_id: partner_id.clone(),
                    why: format!(
                        "{} will lead your plan, because {}; they will work with {referrer} on the other steps.",
                        service.name,
                        words::without_full_stop(&because)
                    ),
                };
            }
        }
    }
    referrer_leads(case, None)
}

fn referrer_leads(case: &Case, because: Option<&str>) -> Lead {
    let referrer = &case.referrer.organisation;
    let why = match because.map(str::trim).filter(|b| !b.is_empty()) {
        Some(because) => format!(
            "{referrer} will coordinate your plan, because {}; they will keep in touch with each service, so you only have to tell your story once.",
            words::without_full_stop(because)
        ),
        None => format!(
            "{referrer} will coordinate your plan and keep in touch with each service, so you only have to tell your story once."
        ),
    };
    Lead { partner_id: referrer.clone(), why }
}
