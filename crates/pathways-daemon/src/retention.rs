//! Storage limitation (UK GDPR Art. 5(1)(e)): a background sweep erases the personal data of
//! cases whose time is up, in batches, and logs counts only.
//!
//! A case is due when nothing has happened to it for `keep_months` (default 24): no referral
//! still live, and its last referral reached a final state (or, without referrals, it was last
//! planned or created) before the cut-off. A case under a legal hold is never due. Erasure is
//! the same store operation as `DELETE /v1/cases/{id}` (reason `retention_expired`), so the
//! pathway statistics keep their figures.

use std::time::Duration;

use chrono::{DateTime, Months, Utc};
use pathways_store::{AuditAction, AuditEntry, AuditOutcome, ErasureReason, Store, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long personal data is kept, and how the sweep runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Months after a case's last activity (its last referral reaching a final state) before
    /// its personal data is erased.
    pub keep_months: u32,
    /// How often the sweep looks for cases that are due.
    pub sweep_every: Duration,
    /// Cases erased per batch (each is its own transaction).
    pub batch: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self { keep_months: 24, sweep_every: Duration::from_secs(3600), batch: 100 }
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    /// Cases erased.
    pub erased: u64,
    /// Cases found due but left alone: held or erased meanwhile by someone else.
    pub skipped: u64,
}

/// Erases every case due at `now` under `settings`, batch by batch.
pub async fn sweep(
    store: &dyn Store,
    now: DateTime<Utc>,
    settings: RetentionSettings,
) -> Result<SweepCounts, StoreError> {
    let cutoff = now.checked_sub_months(Months::new(settings.keep_months)).unwrap_or(now);
    let batch = settings.batch.max(1);
    let mut counts = SweepCounts::default();
    loop {
        let due = store.cases_due_for_erasure(cutoff, batch).await?;
        let mut erased_now = 0;
        for case_id in &due {
            match store.erase_case(case_id, ErasureReason::RetentionExpired, now).await {
                Ok(_) => {
                    erased_now += 1;
                    let entry = AuditEntry {
                        at: now,
                        key_id: "system:retention".into(),
                        organisation: "system".into(),
                        action: AuditAction::CaseErase,
                        case_id: Some(case_id.clone()),
                        referral_id: None,
                        outcome: AuditOutcome::erased(ErasureReason::RetentionExpired),
                    };
                    if let Err(e) = store.append_audit(&entry).await {
                        tracing::error!(error = %e, "cannot write the audit log");
                    }
                }
                // A hold set, or an erasure by request, since the query: not ours to erase.
                Err(StoreError::LegalHold { .. } | StoreError::UnknownCase(_)) => {
                    counts.skipped += 1;
                }
                Err(e) => return Err(e),
            }
        }
        counts.erased += erased_now;
        // A short batch is the last; a batch of nothing but skips would repeat for ever.
        if due.len() < batch as usize || erased_now == 0 {
            return Ok(counts);
        }
    }
}

/// Runs [`sweep`] every `settings.sweep_every` until `stopped` changes.
pub(crate) fn start(
    store: std::sync::Arc<dyn Store>,
    settings: RetentionSettings,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match sweep(store.as_ref(), Utc::now(), settings).await {
                Ok(counts) if counts.erased > 0 || counts.skipped > 0 => {
                    tracing::info!(
                        erased = counts.erased,
                        skipped = counts.skipped,
                        keep_months = settings.keep_months,
                        "retention sweep erased cases"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention sweep failed; trying again later"),
            }
            tokio::select! {
                () = tokio::time::sleep(settings.sweep_every) => {}
                _ = stopped.changed() => return,
            }
        }
    })
}
