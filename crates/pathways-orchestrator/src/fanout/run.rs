//! [`fan_out`]: every selected partner at once, under one plan deadline.

use chrono::NaiveDate;
use pathways_core::{AvailabilityQuery, Capability, Case, PartnerOutcome};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::answer::{millis, PartnerAnswer};
use super::lane::PartnerLane;
use super::settings::OrchestratorSettings;
use crate::select::PartnerAsk;

/// Told of each partner's answer the moment it arrives (a live view of the fan-out).
pub type AnswerObserver<'a> = &'a (dyn Fn(&PartnerAnswer) + Send + Sync);

/// Asks every partner in `asks` (each through its lane, `lanes[i]` for `asks[i]`) about `case`
/// concurrently and returns one answer per ask, in the order of `asks`; `observer`, when
/// given, is told of each answer as it arrives (and of the unanswered ones at the end).
pub(crate) async fn fan_out(
    asks: &[PartnerAsk<'_>],
    lanes: &[&PartnerLane],
    case: &Case,
    today: NaiveDate,
    settings: OrchestratorSettings,
    observer: Option<AnswerObserver<'_>>,
) -> Vec<PartnerAnswer> {
    let tell = |answer: &PartnerAnswer| {
        if let Some(observer) = observer {
            observer(answer);
        }
    };
    let started = Instant::now();
    let deadline = started + settings.plan_deadline;
    let mut answers: Vec<Option<PartnerAnswer>> = vec![None; asks.len()];
    let mut calls = JoinSet::new();

    for (index, (ask, lane)) in asks.iter().zip(lanes).enumerate() {
        let manifest = ask.partner.partner.manifest();
        if !manifest.capabilities.contains(&Capability::Availability) {
            let skipped = PartnerAnswer::unanswered(
                ask,
                PartnerOutcome::Skipped,
                0,
                "the connector does not answer availability queries".into(),
            );
            tell(&skipped);
            answers[index] = Some(skipped);
            continue;
        }
        let query = AvailabilityQuery::for_case(case, &ask.needs, today);
        let call = lane.ask(ask.partner.partner.clone(), query, &settings);
        calls.spawn(async move { (index, call.await, started.elapsed()) });
    }

    loop {
        match tokio::time::timeout_at(deadline, calls.join_next()).await {
            Ok(Some(Ok((index, result, elapsed)))) => {
                let answer = PartnerAnswer::from_call(&asks[index], result, elapsed, &settings);
                tell(&answer);
                answers[index] = Some(answer);
            }
            // Only an aborted task fails to join (panics are caught inside the call), and
            // nothing aborts before the deadline.
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
                let timed_out = PartnerAnswer::unanswered(
                    ask,
                    PartnerOutcome::TimedOut,
                    deadline_ms,
                    format!("no answer within the plan deadline of {deadline_ms} ms; the call was cancelled"),
                );
                tell(&timed_out);
                timed_out
            })
        })
        .collect()
}
