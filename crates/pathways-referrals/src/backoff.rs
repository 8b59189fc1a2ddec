//! When to try again: capped exponential backoff with full jitter, and the partner's
//! `Retry-After` as a floor.
//!
//! Full jitter (a uniform delay between zero and the ceiling) spreads the retries of many
//! referrals that failed together, so a partner coming back is not hit by all of them at once.

use std::time::Duration;

/// The ceiling before attempt `attempt + 1`: `base · 2^(attempt-1)`, at most `cap`.
pub fn ceiling(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let doublings = attempt.saturating_sub(1).min(30);
    base.saturating_mul(1u32 << doublings).min(cap)
}

/// The delay before the next attempt after attempt `attempt` failed: uniform in
/// `[0, ceiling]`, but never shorter than what the partner asked for (`retry_after`).
pub fn delay(
    attempt: u32,
    base: Duration,
    cap: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    let ceiling = ceiling(attempt, base, cap);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    let jittered = Duration::from_millis(fastrand::u64(0..=millis));
    jittered.max(retry_after.unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn the_ceiling_doubles_per_attempt_up_to_the_cap() {
        let cap = Duration::from_secs(10);
        let got: Vec<u64> = (1..=6).map(|a| ceiling(a, S, cap).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 10, 10]);
        assert_eq!(ceiling(u32::MAX, S, cap), cap, "no overflow on absurd attempts");
    }

    #[test]
    fn delays_stay_under_the_ceiling_and_above_retry_after() {
        let cap = Duration::from_secs(60);
        for _ in 0..200 {
            assert!(delay(3, S, cap, None) <= Duration::from_secs(4));
            assert!(delay(1, S, cap, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
        }
        let spread: std::collections::HashSet<Duration> =
            (0..50).map(|_| delay(6, S, cap, None)).collect();
        assert!(spread.len() > 10, "jitter spreads retries");
    }
}
