//! The breaker's states, driven by tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use tower::{service_fn, Layer, ServiceExt};

use super::*;
use crate::resilience::BoxError;

fn policy() -> BreakerPolicy {
    BreakerPolicy { failures: 3, cooldown: Duration::from_secs(10) }
}

fn classify(result: &Result<(), &BoxError>) -> Verdict {
    match result {
        Ok(()) => Verdict::Success,
        Err(e) if e.to_string() == "ignore" => Verdict::Ignore,
        Err(_) => Verdict::Failure,
    }
}

/// One call through the breaker that answers as `answer` says.
async fn call(breaker: &Arc<Breaker>, answer: &'static str) -> Result<(), BoxError> {
    let inner = service_fn(move |_: ()| async move {
        match answer {
            "ok" => Ok(()),
            other => Err::<(), BoxError>(other.into()),
        }
    });
    BreakerLayer::new(breaker.clone(), classify).layer(inner).oneshot(()).await
}

fn is_open(result: &Result<(), BoxError>) -> bool {
    result.as_ref().err().is_some_and(|e| e.is::<CircuitOpen>())
}

#[tokio::test(start_paused = true)]
async fn opens_after_consecutive_failures_and_a_success_resets_the_count() {
    let breaker = Arc::new(Breaker::new(policy()));
    for _ in 0..2 {
        assert!(!is_open(&call(&breaker, "fail").await));
    }
    assert!(call(&breaker, "ok").await.is_ok(), "a success in between resets the count");
    for _ in 0..3 {
        assert!(!is_open(&call(&breaker, "fail").await), "the failing calls themselves go through");
    }
    assert!(matches!(breaker.state(), BreakerState::Open { .. }));
    let refused = call(&breaker, "ok").await;
    let open = refused.unwrap_err().downcast::<CircuitOpen>().expect("refused by the breaker");
    assert_eq!(open.failures, 3);
    assert_eq!(open.retry_in, Duration::from_secs(10));
    assert!(open.to_string().contains("tried again in 10 s"), "{open}");
}

#[tokio::test(start_paused = true)]
async fn after_the_cooldown_one_probe_goes_and_its_success_closes_the_circuit() {
    let breaker = Arc::new(Breaker::new(policy()));
    for _ in 0..3 {
        let _ = call(&breaker, "fail").await;
    }
    tokio::time::advance(Duration::from_millis(9_999)).await;
    assert!(is_open(&call(&breaker, "ok").await), "still cooling down");
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen { probing: false });
    assert!(call(&breaker, "ok").await.is_ok(), "the probe reaches the partner");
    assert_eq!(breaker.state(), BreakerState::Closed { failures: 0 });
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_the_circuit_for_another_cooldown() {
    let breaker = Arc::new(Breaker::new(policy()));
    for _ in 0..3 {
        let _ = call(&breaker, "fail").await;
    }
    tokio::time::advance(Duration::from_secs(10)).await;
    assert!(!is_open(&call(&breaker, "fail").await), "the probe was let through");
    assert_eq!(breaker.state(), BreakerState::Open { retry_in: Duration::from_secs(10) });
}

#[tokio::test(start_paused = true)]
async fn only_one_probe_at_a_time_and_an_abandoned_probe_counts_as_a_failure() {
    let breaker = Arc::new(Breaker::new(policy()));
    for _ in 0..3 {
        let _ = call(&breaker, "fail").await;
    }
    tokio::time::advance(Duration::from_secs(10)).await;
    let hanging = service_fn(|_: ()| std::future::pending::<Result<(), BoxError>>());
    let probe = BreakerLayer::new(breaker.clone(), classify).layer(hanging).oneshot(());
    let cut_off = tokio::time::timeout(Duration::from_millis(50), async {
        tokio::pin!(probe);
        // Poll the probe once so it is admitted, then race it with a second call.
        let second = tokio::select! {
            biased; // the probe is polled (and admitted) first
            _ = &mut probe => unreachable!("the probe hangs"),
            second = call(&breaker, "ok") => second,
        };
        assert!(is_open(&second), "a second call waits for the probe's verdict");
        probe.await
    })
    .await;
    assert!(cut_off.is_err(), "the probe was abandoned");
    assert!(matches!(breaker.state(), BreakerState::Open { .. }), "{:?}", breaker.state());
}

#[tokio::test(start_paused = true)]
async fn ignored_results_neither_count_nor_close_and_a_shed_probe_frees_the_turn() {
    let breaker = Arc::new(Breaker::new(policy()));
    for _ in 0..5 {
        let _ = call(&breaker, "ignore").await;
    }
    assert_eq!(breaker.state(), BreakerState::Closed { failures: 0 });
    for _ in 0..3 {
        let _ = call(&breaker, "fail").await;
    }
    tokio::time::advance(Duration::from_secs(10)).await;
    let _ = call(&breaker, "ignore").await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen { probing: false });
    assert!(call(&breaker, "ok").await.is_ok(), "the next call may probe");
}

#[tokio::test(start_paused = true)]
async fn zero_failures_turns_the_breaker_off() {
    let breaker = Arc::new(Breaker::new(BreakerPolicy { failures: 0, ..policy() }));
    for _ in 0..20 {
        assert!(!is_open(&call(&breaker, "fail").await));
    }
}
