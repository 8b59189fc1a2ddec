//! Fan-out: ask every selected partner at once, and stop waiting at the plan deadline.
//!
//! Each partner call runs as its own task, so a partner that blocks or spins cannot hold up the
//! others, and has its own timeout. Over all of them sits one plan deadline: when it passes, the
//! calls still running are aborted (dropping a call's future cancels it, down to the plugin) and
//! reported as timed out, and the plan is built from what arrived.
//!
//! Every partner asked gets exactly one [`PartnerAnswer`], whatever happened. Details are for the
//! operator and carry no personal data: the query itself carries none, and partner errors are
//! required to keep it out of their messages.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use chrono::NaiveDate;
use futures::FutureExt;
use pathways_core::{
    Availability, AvailabilityQuery, Capability, Case, Manifest, NeedCode, Offer, PartnerError,
    PartnerErrorKind, PartnerOutcome, PartnerReport,
};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::select::PartnerAsk;

/// How long the orchestrator waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrchestratorSettings {
    /// After this, the plan is built from whatever has arrived.
    pub plan_deadline: Duration,
    /// The longest one partner's availability call may take.
    pub partner_timeout: Duration,
}

impl Default for OrchestratorSettings {
    /// The defaults of CONTRACT.md: 2 s for the plan, 1.5 s per partner.
    fn default() -> Self {
        Self {
            plan_deadline: Duration::from_millis(2000),
            partner_timeout: Duration::from_millis(1500),
        }
    }
}

/// What one partner said (or did not say) about a case: the planner's input.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerAnswer {
    /// The partner id from configuration.
    pub partner_id: String,
    /// The partner's manifest: what it shares, whether it is a domestic-abuse service.
    pub manifest: Manifest,
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
            outcome: self.outcome,
            latency_ms: self.latency_ms,
            detail: self.detail.clone(),
        }
    }
}

/// The result of one call, before it becomes an answer.
enum CallResult {
    Answered(Availability),
    Failed(PartnerError),
    TimedOut,
    Panicked,
}

/// Asks every partner in `asks` about `case` concurrently and returns one answer per ask, in
/// the order of `asks`.
pub async fn fan_out(
    asks: &[PartnerAsk<'_>],
    case: &Case,
    today: NaiveDate,
    settings: OrchestratorSettings,
) -> Vec<PartnerAnswer> {
    let started = Instant::now();
    let deadline = started + settings.plan_deadline;
    let mut answers: Vec<Option<PartnerAnswer>> = vec![None; asks.len()];
    let mut calls = JoinSet::new();

    for (index, ask) in asks.iter().enumerate() {
        let manifest = ask.partner.partner.manifest();
        if !manifest.capabilities.contains(&Capability::Availability) {
            answers[index] = Some(unanswered(
                ask,
                PartnerOutcome::Skipped,
                0,
                "the connector does not answer availability queries".into(),
            ));
            continue;
        }
        let partner = ask.partner.partner.clone();
        let query = AvailabilityQuery::for_case(case, &ask.needs, today);
        let timeout = settings.partner_timeout;
        calls.spawn(async move {
            let call = AssertUnwindSafe(partner.check_availability(&query)).catch_unwind();
            let result = match tokio::time::timeout(timeout, call).await {
                Ok(Ok(Ok(availability))) => CallResult::Answered(availability),
                Ok(Ok(Err(error))) => CallResult::Failed(error),
                Ok(Err(_panic)) => CallResult::Panicked,
                Err(_elapsed) => CallResult::TimedOut,
            };
            (index, result, started.elapsed())
        });
    }

    loop {
        match tokio::time::timeout_at(deadline, calls.join_next()).await {
            Ok(Some(Ok((index, result, elapsed)))) => {
                answers[index] = Some(answer(&asks[index], result, elapsed, settings));
            }
            // Only an aborted task fails to join, and nothing aborts before the deadline.
            Ok(Some(Err(join_error))) => {
                tracing::error!(error = %join_error, "a partner call task failed to join");
            }
            Ok(None) => break,
            Err(_deadline) => {
                // Aborts the calls still running; their answers are filled in below.
                calls.abort_all();
                break;
            }
        }
    }

    let deadline_ms = millis(settings.plan_deadline);
    asks.iter()
        .zip(answers)
        .map(|(ask, answer)| {
            answer.unwrap_or_else(|| {
                unanswered(
                    ask,
                    PartnerOutcome::TimedOut,
                    deadline_ms,
                    format!("no answer within the plan deadline of {deadline_ms} ms; the call was cancelled"),
                )
            })
        })
        .collect()
}

fn answer(
    ask: &PartnerAsk<'_>,
    result: CallResult,
    elapsed: Duration,
    settings: OrchestratorSettings,
) -> PartnerAnswer {
    let latency_ms = millis(elapsed);
    match result {
        CallResult::Answered(availability) => PartnerAnswer {
            offers: availability.offers,
            detail: None,
            ..unanswered(ask, PartnerOutcome::Answered, latency_ms, String::new())
        },
        // A connector's own timeout is still a timeout to the pathfinder.
        CallResult::Failed(error) if error.kind == PartnerErrorKind::Timeout => {
            unanswered(ask, PartnerOutcome::TimedOut, latency_ms, error.to_string())
        }
        CallResult::Failed(error) => {
            unanswered(ask, PartnerOutcome::Failed, latency_ms, error.to_string())
        }
        CallResult::TimedOut => unanswered(
            ask,
            PartnerOutcome::TimedOut,
            latency_ms,
            format!(
                "no answer within the partner timeout of {} ms",
                millis(settings.partner_timeout)
            ),
        ),
        CallResult::Panicked => {
            unanswered(ask, PartnerOutcome::Failed, latency_ms, "the connector panicked".into())
        }
    }
}

/// An answer without offers: the partner was not asked, did not answer, or failed.
fn unanswered(
    ask: &PartnerAsk<'_>,
    outcome: PartnerOutcome,
    latency_ms: u64,
    detail: String,
) -> PartnerAnswer {
    PartnerAnswer {
        partner_id: ask.partner.id.clone(),
        manifest: ask.partner.partner.manifest().clone(),
        asked: ask.needs.clone(),
        outcome,
        latency_ms,
        detail: Some(detail),
        offers: Vec::new(),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
