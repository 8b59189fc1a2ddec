//! Whether the case's consent lets a step's referral go, and what to tell the client.
//!
//! DOMAIN.md: sharing rests on the client's consent, or, without it, on `vital_interests` or
//! `safeguarding` (DPA 2018 Sch.1 para 18). The planner reads this strictly:
//! - what the client agreed (`share_with`: `planned_partners`, or a list naming the partner)
//!   covers a step whatever the lawful basis;
//! - without that agreement, `vital_interests` and `safeguarding` cover only *protective* steps:
//!   a safety need (domestic abuse, safeguarding, nowhere to sleep tonight) or a same-day one.
//!   Protecting someone does not justify sending their details to, say, a debt adviser without
//!   asking; those steps are still planned and marked `needs_consent`;
//! - `share_with: none` on a `consent` basis: every step is planned and marked `needs_consent`,
//!   so the pathfinder can ask the client about each one.
//!
//! This is stricter than [`Consent::covers`](pathways_core::Consent::covers), which lets the
//! two non-consent bases cover every partner.

use pathways_core::{Case, LawfulBasis, Need, ShareWith, Urgency};

use super::build::is_safety;

/// What the consent record says about one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StepConsent {
    /// The client agreed to share with this partner.
    Agreed,
    /// Shared without consent, to protect someone, on this basis.
    Protective(LawfulBasis),
    /// Ask the client before referring.
    Needed,
}

impl StepConsent {
    /// The consent for referring `need` to `partner_id`.
    pub(super) fn for_step(case: &Case, partner_id: &str, need: &Need) -> Self {
        let consent = &case.consent;
        let agreed = match &consent.share_with {
            ShareWith::PlannedPartners => true,
            ShareWith::None => false,
            ShareWith::Partners(ids) => ids.iter().any(|id| id == partner_id),
        };
        let protective = is_safety(need) || need.urgency == Urgency::Emergency;
        match consent.lawful_basis {
            _ if agreed => StepConsent::Agreed,
            basis @ (LawfulBasis::VitalInterests | LawfulBasis::Safeguarding) if protective => {
                StepConsent::Protective(basis)
            }
            _ => StepConsent::Needed,
        }
    }

    /// Whether the step must wait for the client's agreement.
    pub(super) fn needs_consent(self) -> bool {
        self == StepConsent::Needed
    }

    /// The sentence for the step's `why`, if one is due.
    pub(super) fn sentence(self) -> Option<&'static str> {
        match self {
            StepConsent::Agreed => None,
            StepConsent::Protective(LawfulBasis::VitalInterests) => Some(
                " Because your life may be at risk, we will share what they need to know to help you now, even without your agreement.",
            ),
            StepConsent::Protective(_) => Some(
                " Because someone may be at risk of harm, we will share what they need to know to keep them safe, even without your agreement.",
            ),
            StepConsent::Needed => {
                Some(" We need your agreement before we share your details with them.")
            }
        }
    }
}
