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
//! The rule lives in [`Consent::cover`](pathways_core::Consent::cover), so the referral intake
//! refuses exactly what the planner marks `needs_consent`.

use pathways_core::{Case, ConsentCover, LawfulBasis, Need};

/// What the consent record says about one step (the rule itself is
/// [`Consent::cover`](pathways_core::Consent::cover), shared with the referral intake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StepConsent(ConsentCover);

impl StepConsent {
    /// The consent for referring `need` to `partner_id`.
    pub(super) fn for_step(case: &Case, partner_id: &str, need: &Need) -> Self {
        Self(case.consent.cover(partner_id, need))
    }

    /// Whether the step must wait for the client's agreement.
    pub(super) fn needs_consent(self) -> bool {
        !self.0.allows_referral()
    }

    /// The catalogue message for the step's `why`, if one is due.
    pub(super) fn message(self) -> Option<&'static str> {
        match self.0 {
            ConsentCover::Agreed => None,
            ConsentCover::Protective(LawfulBasis::VitalInterests) => Some("step-consent-vital"),
            ConsentCover::Protective(_) => Some("step-consent-safeguarding"),
            ConsentCover::Needed => Some("step-consent-needed"),
        }
    }
}
