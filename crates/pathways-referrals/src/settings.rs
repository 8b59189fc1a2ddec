//! How the dispatcher sends and follows referrals (`[dispatch]` in the configuration).

use std::time::Duration;

/// The dispatcher's knobs; [`Default`] gives values fit for one council.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchSettings {
    /// Whether this daemon sends referrals at all (several daemons may share the work).
    pub enabled: bool,
    /// How often an idle dispatcher looks for due outbox rows.
    pub poll_interval: Duration,
    /// Referrals sent (and cancels told) at once by one daemon, across partners; each partner
    /// takes at most its lane's send slots of these (`dispatch.partner_concurrency`, set on the
    /// orchestrator with `with_referral_concurrency`).
    pub concurrency: u32,
    /// How long a claim lasts; a send still running then may be repeated by another daemon
    /// (harmless: the partner sees the same idempotency key).
    pub lease: Duration,
    /// Longest one send, cancel or status poll may take before it counts as a timeout (the
    /// lane's deadline); keep it below `lease`.
    pub send_timeout: Duration,
    /// Attempts before a referral is given up on and marked failed.
    pub max_attempts: u32,
    /// How long after it was accepted a referral may still be retried: past this (or when a
    /// partner's `Retry-After` would push the next attempt past it) it is marked failed, so a
    /// pathfinder hears of it in time to act, whatever the attempts left.
    pub max_age: Duration,
    /// First retry delay ceiling; each retry doubles it (full jitter below the ceiling).
    pub backoff_base: Duration,
    /// The largest retry delay ceiling.
    pub backoff_cap: Duration,
    /// First interval between status polls of a delivered referral; doubles per unchanged
    /// poll up to `status_poll_cap`.
    pub status_poll_base: Duration,
    /// The longest interval between status polls.
    pub status_poll_cap: Duration,
    /// A referral still `requested` after this long is flagged for the pathfinder to chase.
    pub chase_after: Duration,
    /// How often the planner's pathway statistics are refreshed from the store.
    pub stats_refresh: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval: Duration::from_millis(250),
            concurrency: 16,
            lease: Duration::from_secs(60),
            send_timeout: Duration::from_secs(20),
            max_attempts: 12,
            max_age: Duration::from_secs(24 * 3600),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            status_poll_base: Duration::from_secs(60),
            status_poll_cap: Duration::from_secs(6 * 3600),
            chase_after: Duration::from_secs(3 * 24 * 3600),
            stats_refresh: Duration::from_secs(300),
        }
    }
}
