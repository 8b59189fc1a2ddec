//! `[retention]`: how long a client's personal data is kept after their case has gone quiet
//! (UK GDPR Art. 5(1)(e), storage limitation), and how the sweep that erases it runs.

use std::time::Duration;

use pathways_daemon::retention::RetentionSettings;
use serde::Deserialize;

/// `[retention]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSection {
    /// Whether this daemon runs the sweep (with several daemons on one PostgreSQL, one is
    /// enough, though more do no harm).
    pub enabled: bool,
    /// Months after a case's last referral reaches a final state (or, without referrals, after
    /// it was last planned) before its personal data is erased. Councils set their own
    /// period from their retention schedule; 1 to 1200.
    pub keep_months: u32,
    /// How often the sweep looks for cases that are due, in seconds.
    pub sweep_interval_secs: u64,
    /// Cases erased per batch, each in its own transaction; 1 to 10000.
    pub batch: u32,
}

impl Default for RetentionSection {
    fn default() -> Self {
        let d = RetentionSettings::default();
        Self {
            enabled: true,
            keep_months: d.keep_months,
            sweep_interval_secs: d.sweep_every.as_secs(),
            batch: d.batch,
        }
    }
}

impl RetentionSection {
    /// The daemon's retention settings.
    pub fn to_settings(&self) -> RetentionSettings {
        RetentionSettings {
            keep_months: self.keep_months,
            sweep_every: Duration::from_secs(self.sweep_interval_secs),
            batch: self.batch,
        }
    }

    /// Checks what serde cannot; returns the field (under `retention.`) and the problem.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        if !(1..=1200).contains(&self.keep_months) {
            return Err((
                "retention.keep_months".into(),
                format!("{} is out of range (1 to 1200 months)", self.keep_months),
            ));
        }
        if self.sweep_interval_secs == 0 {
            return Err(("retention.sweep_interval_secs".into(), "must be more than 0".into()));
        }
        if !(1..=10_000).contains(&self.batch) {
            return Err((
                "retention.batch".into(),
                format!("{} is out of range (1 to 10000)", self.batch),
            ));
        }
        Ok(())
    }
}
