//! One attempt to send one claimed referral, through its partner's lane, and what it means
//! for the outbox row.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pathways_core::{PartnerError, PartnerErrorKind};
use pathways_orchestrator::{LaneError, ReferralLane};
use pathways_store::{DispatchOutcome, OutboxItem};

use crate::backoff;
use crate::settings::DispatchSettings;
use crate::Ctx;

/// Sends `item` through `lane` (its partner's, from the partner set the item was claimed
/// under; `None` when the partner is not enabled now) and finishes its outbox row.
pub(crate) async fn attempt(ctx: &Ctx, worker: &str, item: OutboxItem, lane: Option<ReferralLane>) {
    let settings = ctx.settings;
    // Attempts are counted when claimed. One past the budget means earlier attempts ended with
    // no outcome recorded: the daemon stopped mid-send (killed, or crashed by the send itself,
    // e.g. a plugin that aborts). Sending again could crash it again, for ever: fail instead.
    if let Some(outcome) = unfinished_attempts_spent(item.attempt, &settings) {
        tracing::error!(referral_id = %item.referral_id, partner = %item.partner_id,
            attempt = item.attempt, "referral failed: earlier sends never finished");
        finish(ctx, worker, &item, outcome).await;
        return;
    }
    ctx.host.send_attempted(&item.partner_id);
    let started = Instant::now();
    let result = match lane {
        None => Err(Refusal::Partner(not_enabled(&item.partner_id))),
        // Breaker, bulkhead, deadline: no answer within `send_timeout` is a timeout.
        Some(lane) => lane.send(&item.referral, settings.send_timeout).await.map_err(|refused| {
            if refused.reached_partner() {
                Refusal::Partner(refused.into_partner_error())
            } else {
                Refusal::NotCalled(refused)
            }
        }),
    };
    let took = started.elapsed();
    let outcome = match result {
        // An open circuit or a full lane: a retry-later without calling the partner, and so
        // without spending the attempt, unless it would fall past the age budget.
        Err(Refusal::NotCalled(refused)) => {
            let wait = refusal_wait(item.attempt, &settings, &refused);
            let error = refused.into_partner_error();
            match past_age(item.attempt, item.created_at, &settings, wait, &error) {
                Some(reason) => DispatchOutcome::Failed { reason },
                None => {
                    release(ctx, worker, &item, wait, &error).await;
                    return;
                }
            }
        }
        Err(Refusal::Partner(error)) => {
            let crashes = ctx.crashes.record(&item.referral_id.to_string(), &error);
            crashed_too_often(item.attempt, crashes, &error)
                .unwrap_or_else(|| decide(item.attempt, item.created_at, &settings, Err(error)))
        }
        Ok(receipt) => {
            decide(item.attempt, item.created_at, &settings, Ok(receipt.partner_reference))
        }
    };
    match &outcome {
        DispatchOutcome::Delivered { .. } => {
            tracing::info!(referral_id = %item.referral_id, partner = %item.partner_id,
                attempt = item.attempt, "referral delivered");
        }
        DispatchOutcome::Retry { not_before, last_error } => {
            tracing::warn!(referral_id = %item.referral_id, partner = %item.partner_id,
                attempt = item.attempt, %not_before, error = %last_error, "referral not sent; will retry");
        }
        DispatchOutcome::Failed { reason } => {
            tracing::error!(referral_id = %item.referral_id, partner = %item.partner_id,
                attempt = item.attempt, reason = %reason, "referral failed");
        }
    }
    if !matches!(outcome, DispatchOutcome::Retry { .. }) {
        ctx.crashes.forget(&item.referral_id.to_string());
    }
    ctx.host.send_finished(&item.partner_id, &outcome, took);
    finish(ctx, worker, &item, outcome).await;
}

/// A referral whose sends crashed its partner's plugin host this many times is failed: with
/// `isolation = "process"` a crash fails the call at once instead of taking the daemon down, and
/// a send that crashes the plugin would otherwise crash it on every attempt of the budget.
pub(crate) const HOST_CRASHES_TO_FAIL: u32 = 3;

/// How many sends of each referral crashed their partner's plugin host, in this dispatcher.
/// Kept in memory: a daemon restart starts the count again, within `max_attempts` still.
#[derive(Debug, Default)]
pub(crate) struct HostCrashes(Mutex<HashMap<String, u32>>);

impl HostCrashes {
    /// Counts `error` against `referral` if it is a plugin host crash; returns the count.
    fn record(&self, referral: &str, error: &PartnerError) -> u32 {
        let mut counts = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !error.is_plugin_host_crash() {
            return counts.get(referral).copied().unwrap_or(0);
        }
        let count = counts.entry(referral.to_string()).or_insert(0);
        *count += 1;
        *count
    }

    /// Drops the count of a referral that is delivered or failed.
    fn forget(&self, referral: &str) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(referral);
    }
}

/// `Failed` when the sends of a referral crashed its plugin host [`HOST_CRASHES_TO_FAIL`] times.
fn crashed_too_often(attempt: u32, crashes: u32, error: &PartnerError) -> Option<DispatchOutcome> {
    (crashes >= HOST_CRASHES_TO_FAIL && error.is_plugin_host_crash()).then(|| {
        DispatchOutcome::Failed {
            reason: format!(
                "gave up after {attempt} attempts: sending it crashed the partner's plugin \
                 host {crashes} times (a connector bug; it was not sent again); last: {error}"
            ),
        }
    })
}

/// The error for a partner the current configuration does not enable.
pub(crate) fn not_enabled(partner_id: &str) -> PartnerError {
    PartnerError::new(
        PartnerErrorKind::Unavailable,
        format!("partner `{partner_id}` is not enabled in the configuration now"),
    )
}

/// How long a send or cancel the lane refused (its circuit open, its slots taken) waits: the
/// rest of the partner's cool-down, and at least the attempt's backoff and a second, so a trial
/// call in flight is not raced by the others.
pub(crate) fn refusal_wait(
    attempt: u32,
    settings: &DispatchSettings,
    refused: &LaneError,
) -> Duration {
    let floor = match refused {
        LaneError::CircuitOpen(open) => open.retry_in,
        _ => Duration::ZERO,
    };
    let backoff = backoff::delay(attempt, settings.backoff_base, settings.backoff_cap, Some(floor));
    backoff.max(Duration::from_secs(1))
}

/// Why a referral (or cancel) accepted at `created_at` fails now, when its next try, `wait`
/// from now, would fall past `max_age`: a partner whose circuit stays open still runs out the
/// age budget, though no attempt is spent on it.
pub(crate) fn past_age(
    attempt: u32,
    created_at: DateTime<Utc>,
    settings: &DispatchSettings,
    wait: Duration,
    error: &PartnerError,
) -> Option<String> {
    let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero());
    let max_age = chrono::Duration::from_std(settings.max_age).unwrap_or(chrono::Duration::MAX);
    (next - created_at > max_age).then(|| {
        format!(
            "gave up after {attempt} attempt{}: not delivered within {} of being accepted; last: {error}",
            if attempt == 1 { "" } else { "s" },
            words(settings.max_age)
        )
    })
}

/// How a call through the lane ended without the partner's answer.
enum Refusal {
    /// The partner answered with an error, or did not answer in time.
    Partner(PartnerError),
    /// The lane did not call it (circuit open, slots taken).
    NotCalled(LaneError),
}

/// Gives the claim on `item` back without spending its attempt: the partner was not called.
async fn release(ctx: &Ctx, worker: &str, item: &OutboxItem, wait: Duration, error: &PartnerError) {
    let not_before = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
    tracing::warn!(referral_id = %item.referral_id, partner = %item.partner_id,
        attempt = item.attempt, %not_before, error = %error, partner_called = false,
        "referral not sent; will retry");
    let retry = DispatchOutcome::Retry { not_before, last_error: error.to_string() };
    ctx.host.send_finished(&item.partner_id, &retry, Duration::ZERO);
    let error = error.to_string();
    let released = ctx.store.release_outbox(item.id, worker, not_before, &error, Utc::now());
    match released.await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(referral_id = %item.referral_id,
            "the lease ran out before the send finished; another dispatcher has the row"),
        Err(e) => tracing::error!(referral_id = %item.referral_id, error = %e,
            "cannot record the outcome of a send"),
    }
}

/// Records how the attempt on `item` ended.
async fn finish(ctx: &Ctx, worker: &str, item: &OutboxItem, outcome: DispatchOutcome) {
    match ctx.store.finish_outbox(item.id, worker, outcome, Utc::now()).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(referral_id = %item.referral_id,
            "the lease ran out before the send finished; another dispatcher has the row"),
        // The lease lapses and the row is sent again: harmless, the key is the same.
        Err(e) => tracing::error!(referral_id = %item.referral_id, error = %e,
            "cannot record the outcome of a send"),
    }
}

/// What the result of attempt `attempt` of a referral accepted at `created_at` means for the
/// row: delivered, retry (within the budget of attempts and of age), or failed.
pub(crate) fn decide(
    attempt: u32,
    created_at: DateTime<Utc>,
    settings: &DispatchSettings,
    result: Result<String, PartnerError>,
) -> DispatchOutcome {
    let error = match result {
        Ok(partner_reference) => return DispatchOutcome::Delivered { partner_reference },
        Err(error) => error,
    };
    let retry_after = match error.kind {
        PartnerErrorKind::Transient { retry_after_ms } => retry_after_ms.map(Duration::from_millis),
        PartnerErrorKind::Timeout
        | PartnerErrorKind::Unavailable
        | PartnerErrorKind::PluginFault => None,
        PartnerErrorKind::Permanent
        | PartnerErrorKind::InvalidRequest
        | PartnerErrorKind::Unauthorized
        | PartnerErrorKind::NotSupported => {
            return DispatchOutcome::Failed { reason: format!("the partner refused it: {error}") }
        }
    };
    if attempt >= settings.max_attempts {
        return DispatchOutcome::Failed {
            reason: format!("gave up after {attempt} attempts; last: {error}"),
        };
    }
    let wait = backoff::delay(attempt, settings.backoff_base, settings.backoff_cap, retry_after);
    let not_before =
        Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero());
    let max_age = chrono::Duration::from_std(settings.max_age).unwrap_or(chrono::Duration::MAX);
    if not_before - created_at > max_age {
        return DispatchOutcome::Failed {
            reason: format!(
                "gave up after {attempt} attempt{}: not delivered within {} of being accepted; last: {error}",
                if attempt == 1 { "" } else { "s" },
                words(settings.max_age)
            ),
        };
    }
    DispatchOutcome::Retry { not_before, last_error: error.to_string() }
}

/// `Failed` when attempt `attempt` is past the budget: every attempt before it was claimed and
/// never finished (a finished attempt past the budget fails the referral itself, in [`decide`]).
fn unfinished_attempts_spent(attempt: u32, settings: &DispatchSettings) -> Option<DispatchOutcome> {
    (attempt > settings.max_attempts).then(|| DispatchOutcome::Failed {
        reason: format!(
            "gave up: {} earlier attempts to send it never finished (the daemon stopped during \
             the send each time; a connector that crashes it?); it was not sent again",
            attempt - 1
        ),
    })
}

/// A budget in the words a pathfinder reads: `24 h`, `90 min`, `45 s`.
fn words(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{} s", secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DispatchSettings {
        DispatchSettings { max_attempts: 3, ..DispatchSettings::default() }
    }

    #[test]
    fn a_claim_past_the_budget_is_failed_without_sending() {
        let s = settings();
        assert!(unfinished_attempts_spent(3, &s).is_none(), "the last attempt is still made");
        match unfinished_attempts_spent(4, &s) {
            Some(DispatchOutcome::Failed { reason }) => {
                assert!(
                    reason.contains("3 earlier attempts") && reason.contains("never finished"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_third_send_that_crashes_the_plugin_host_fails_the_referral_naming_the_crash() {
        let crashes = HostCrashes::default();
        let crash = PartnerError::plugin_fault(format!(
            "partner `p` (plugin `x`) send_referral: {} (killed by signal 11 (SIGSEGV))",
            pathways_core::PLUGIN_HOST_DIED
        ));
        let panic = PartnerError::plugin_fault("partner `p` (plugin `x`) send_referral: panicked");
        assert_eq!(crashes.record("r1", &crash), 1);
        assert_eq!(crashes.record("r1", &panic), 1, "a caught panic is not a crash");
        assert_eq!(crashes.record("r2", &crash), 1, "counted per referral");
        assert!(crashed_too_often(2, crashes.record("r1", &crash), &crash).is_none());
        match crashed_too_often(3, crashes.record("r1", &crash), &crash) {
            Some(DispatchOutcome::Failed { reason }) => {
                assert!(reason.contains("crashed the partner's plugin host 3 times"), "{reason}");
                assert!(reason.contains("SIGSEGV"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        crashes.forget("r1");
        assert_eq!(crashes.record("r1", &crash), 1, "a finished referral's count is dropped");
    }

    #[test]
    fn permanent_errors_fail_at_once_with_the_reason() {
        for error in [
            PartnerError::permanent("closed"),
            PartnerError::invalid_request("no postcode"),
            PartnerError::new(PartnerErrorKind::Unauthorized, "bad key"),
        ] {
            match decide(1, Utc::now(), &settings(), Err(error)) {
                DispatchOutcome::Failed { reason } => {
                    assert!(reason.contains("refused"), "{reason}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn transient_errors_retry_no_sooner_than_retry_after_until_the_budget_is_spent() {
        let before = Utc::now();
        let busy = PartnerError::transient("429", Some(7_000));
        match decide(1, before, &settings(), Err(busy.clone())) {
            DispatchOutcome::Retry { not_before, last_error } => {
                assert!(
                    not_before >= before + chrono::Duration::seconds(7),
                    "Retry-After honoured"
                );
                assert!(last_error.contains("429"));
            }
            other => panic!("{other:?}"),
        }
        match decide(3, before, &settings(), Err(busy)) {
            DispatchOutcome::Failed { reason } => {
                assert!(reason.contains("3 attempts"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let ok = decide(2, before, &settings(), Ok("REF-1".into()));
        assert_eq!(ok, DispatchOutcome::Delivered { partner_reference: "REF-1".into() });
    }

    #[test]
    fn a_referral_past_its_age_budget_fails_with_the_reason_even_with_attempts_left() {
        let settings = DispatchSettings { max_age: Duration::from_secs(3600), ..settings() };
        let down = PartnerError::new(PartnerErrorKind::Unavailable, "connection refused");
        let young = Utc::now() - chrono::Duration::minutes(10);
        assert!(matches!(
            decide(1, young, &settings, Err(down.clone())),
            DispatchOutcome::Retry { .. }
        ));
        let old = Utc::now() - chrono::Duration::minutes(61);
        match decide(1, old, &settings, Err(down)) {
            DispatchOutcome::Failed { reason } => {
                assert!(reason.contains("within 1 h"), "{reason}");
                assert!(reason.contains("connection refused"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        // A partner asking us to come back after the budget has run out: tell the pathfinder
        // now rather than in a day.
        let later = PartnerError::transient("503", Some(2 * 3600 * 1000));
        match decide(1, young, &settings, Err(later)) {
            DispatchOutcome::Failed { reason } => assert!(reason.contains("1 h"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
