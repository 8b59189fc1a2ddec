//! `[dispatch]`: how referrals are sent from the outbox and followed to their outcome.

use std::time::Duration;

use pathways_daemon::{DispatchSettings, RerouteMode};
use serde::Deserialize;

/// `[dispatch]`; every key has a default fit for one council.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchSection {
    /// Whether this daemon sends referrals (several daemons on one PostgreSQL share the work).
    pub enabled: bool,
    /// How often an idle dispatcher looks for referrals to send, in milliseconds.
    pub poll_interval_ms: u64,
    /// Referrals one daemon sends at once.
    pub concurrency: u32,
    /// Sends and cancels in flight to one partner at once (its lane's send bulkhead); status
    /// polls have as many slots again of their own. A partner whose slots are all taken (a
    /// hung one, until `send_timeout_ms`) waits for one while the others are sent.
    pub partner_concurrency: u32,
    /// How long a daemon's claim on a referral lasts, in milliseconds; a daemon that dies
    /// mid-send loses it after this and another sends the referral (same idempotency key).
    pub lease_ms: u64,
    /// Longest one send may take, in milliseconds; must be below `lease_ms`.
    pub send_timeout_ms: u64,
    /// Attempts before a referral is marked failed with the last error as the reason.
    pub max_attempts: u32,
    /// Seconds after acceptance a referral may still be retried; past it (or when a partner's
    /// `Retry-After` would carry the next attempt past it) it is marked failed with the reason.
    pub max_age_secs: u64,
    /// First retry delay ceiling in milliseconds; doubles per attempt (full jitter).
    pub backoff_base_ms: u64,
    /// Largest retry delay ceiling in milliseconds; a partner's `Retry-After` is honoured.
    pub backoff_cap_ms: u64,
    /// First interval between status polls of a delivered referral, in milliseconds.
    pub status_poll_base_ms: u64,
    /// Longest interval between status polls, in milliseconds.
    pub status_poll_cap_ms: u64,
    /// A referral still `requested` after this many seconds is flagged `needs_chasing`.
    pub chase_after_secs: u64,
    /// How often the planner's pathway statistics are refreshed, in milliseconds.
    pub stats_refresh_ms: u64,
    /// After a partner rejects or fails a referral: `suggest` (default) proposes the step's
    /// next fallback for the pathfinder to accept in one action; `auto` also amends the plan
    /// and refers the fallback at once, where the case's consent covers its partner.
    pub reroute: RerouteMode,
}

impl Default for DispatchSection {
    fn default() -> Self {
        let d = DispatchSettings::default();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            enabled: d.enabled,
            poll_interval_ms: ms(d.poll_interval),
            concurrency: d.concurrency,
            partner_concurrency: u32::try_from(pathways_orchestrator::DEFAULT_REFERRAL_CONCURRENCY)
                .unwrap_or(4),
            lease_ms: ms(d.lease),
            send_timeout_ms: ms(d.send_timeout),
            max_attempts: d.max_attempts,
            max_age_secs: d.max_age.as_secs(),
            backoff_base_ms: ms(d.backoff_base),
            backoff_cap_ms: ms(d.backoff_cap),
            status_poll_base_ms: ms(d.status_poll_base),
            status_poll_cap_ms: ms(d.status_poll_cap),
            chase_after_secs: d.chase_after.as_secs(),
            stats_refresh_ms: ms(d.stats_refresh),
            reroute: RerouteMode::default(),
        }
    }
}

impl DispatchSection {
    /// The dispatcher's settings.
    pub fn to_settings(&self) -> DispatchSettings {
        let ms = Duration::from_millis;
        DispatchSettings {
            enabled: self.enabled,
            poll_interval: ms(self.poll_interval_ms),
            concurrency: self.concurrency,
            lease: ms(self.lease_ms),
            send_timeout: ms(self.send_timeout_ms),
            max_attempts: self.max_attempts,
            max_age: Duration::from_secs(self.max_age_secs),
            backoff_base: ms(self.backoff_base_ms),
            backoff_cap: ms(self.backoff_cap_ms),
            status_poll_base: ms(self.status_poll_base_ms),
            status_poll_cap: ms(self.status_poll_cap_ms),
            chase_after: Duration::from_secs(self.chase_after_secs),
            stats_refresh: ms(self.stats_refresh_ms),
        }
    }

    /// Checks what serde cannot; returns the field (under `dispatch.`) and the problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let at = |key: &str| format!("dispatch.{key}");
        for (name, value) in [
            ("poll_interval_ms", self.poll_interval_ms),
            ("concurrency", u64::from(self.concurrency)),
            ("partner_concurrency", u64::from(self.partner_concurrency)),
            ("max_attempts", u64::from(self.max_attempts)),
            ("max_age_secs", self.max_age_secs),
            ("backoff_base_ms", self.backoff_base_ms),
            ("status_poll_base_ms", self.status_poll_base_ms),
            ("stats_refresh_ms", self.stats_refresh_ms),
        ] {
            if value == 0 {
                return Err((at(name), "must be more than 0".into()));
            }
        }
        if self.send_timeout_ms == 0 || self.send_timeout_ms >= self.lease_ms {
            return Err((
                at("send_timeout_ms"),
                format!(
                    "is {}; it must be more than 0 and below `dispatch.lease_ms` ({}), or a slow send outlives its claim",
                    self.send_timeout_ms, self.lease_ms
                ),
            ));
        }
        Ok(())
    }
}
