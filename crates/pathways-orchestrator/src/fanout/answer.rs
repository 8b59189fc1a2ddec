//! [`PartnerAnswer`]: what one partner said (or did not say), and how a call's result becomes
//! one.

use std::time::Duration;

use pathways_core::{
    Availability, Manifest, NeedCode, Offer, PartnerError, PartnerErrorKind, PartnerOutcome,
    PartnerReport,
};

use super::settings::OrchestratorSettings;
use crate::resilience::breaker::CircuitOpen;
use crate::resilience::bulkhead::PartnerBusy;
use crate::resilience::deadline::PartnerTimedOut;
use crate::resilience::BoxError;
use crate::select::PartnerAsk;

/// What one partner said (or did not say) about a case: the planner's input.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartnerAnswer {
    /// The partner id from configuration.
    pub partner_id: String,
    /// Its display name from configuration (the id when none is configured).
    pub name: String,
    /// The partner's manifest: what it shares, whether it declares domestic abuse.
    pub manifest: Manifest,
    /// The council confirmed it as a domestic-abuse service in configuration.
    pub domestic_abuse_confirmed: bool,
    /// The needs it was asked about.
    pub asked: Vec<NeedCode>,
    /// What happened.
    pub outcome: PartnerOutcome,
    /// How long it took, in milliseconds (up to the deadline for one that did not answer).
    pub latency_ms: u64,
    /// What went wrong, for the operator; no personal data.
    pub detail: Option<String>,
    /// Its offers; empty unless it answered.
    pub offers: Vec<Offer>,
}

impl PartnerAnswer {
    /// The line of the plan's `partners` list for this answer.
    pub fn report(&self) -> PartnerReport {
        PartnerReport {
            partner_id: self.partner_id.clone(),
            name: self.name.clone(),
            outcome: self.outcome,
            latency_ms: self.latency_ms,
            detail: self.detail.clone(),
        }
    }

    /// The answer for a call that ended with `result` after `elapsed`.
    pub(super) fn from_call(
        ask: &PartnerAsk<'_>,
        result: Result<Availability, BoxError>,
        elapsed: Duration,
        settings: &OrchestratorSettings,
    ) -> Self {
        let latency_ms = millis(elapsed);
        let error = match result {
            Ok(availability) => {
                return PartnerAnswer {
                    offers: availability.offers,
                    detail: None,
                    ..Self::unanswered(ask, PartnerOutcome::Answered, latency_ms, String::new())
                }
            }
            Err(error) => error,
        };
        let (outcome, detail) = if let Some(open) = error.downcast_ref::<CircuitOpen>() {
            (PartnerOutcome::CircuitOpen, open.to_string())
        } else if let Some(busy) = error.downcast_ref::<PartnerBusy>() {
            (PartnerOutcome::Skipped, busy.to_string())
        } else if error.is::<PartnerTimedOut>() {
            let timeout = millis(settings.partner_timeout);
            (
                PartnerOutcome::TimedOut,
                format!("no answer within the partner timeout of {timeout} ms"),
            )
        } else if let Some(partner_error) = error.downcast_ref::<PartnerError>() {
            // A connector's own timeout is still a timeout to the pathfinder.
            let outcome = match partner_error.kind {
                PartnerErrorKind::Timeout => PartnerOutcome::TimedOut,
                PartnerErrorKind::Unavailable => PartnerOutcome::Unreachable,
                _ => PartnerOutcome::Failed,
            };
            (outcome, partner_error.to_string())
        } else {
            (PartnerOutcome::Failed, error.to_string())
        };
        Self::unanswered(ask, outcome, latency_ms, detail)
    }

    /// An answer without offers: the partner was not asked, did not answer, or failed.
    pub(super) fn unanswered(
        ask: &PartnerAsk<'_>,
        outcome: PartnerOutcome,
        latency_ms: u64,
        detail: String,
    ) -> Self {
        PartnerAnswer {
            partner_id: ask.partner.id.clone(),
            name: ask.partner.name.clone(),
            manifest: ask.partner.partner.manifest().clone(),
            domestic_abuse_confirmed: ask.partner.domestic_abuse_service,
            asked: ask.needs.clone(),
            outcome,
            latency_ms,
            detail: Some(detail),
            offers: Vec::new(),
        }
    }
}

/// Whole milliseconds, saturating.
pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
