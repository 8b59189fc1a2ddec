//! The pathway statistics the planner weighs partners by: per partner and need, referrals
//! sent, accepted and completed over the last 90 days, across organisations (counts only,
//! never a case), refreshed from the store every `stats_refresh`.
//!
//! A configuration reload hands the statistics on to the new orchestrator
//! ([`Orchestrator::adopt`](pathways_orchestrator::Orchestrator::adopt)), so plans made right
//! after a reload are weighed as before.

use std::sync::Arc;

use chrono::Utc;
use pathways_orchestrator::{PathwayCounts, PathwayStats};
use pathways_store::PathwayStatsRow;
use tokio::sync::watch;

use crate::Ctx;

/// How far back the planner's statistics look.
pub const STATS_WINDOW: chrono::Duration = chrono::Duration::days(90);

/// The planner's view of the store's rows.
pub fn planner_stats(rows: &[PathwayStatsRow]) -> PathwayStats {
    let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    rows.iter()
        .map(|r| {
            let counts = PathwayCounts {
                sent: clamp(r.sent),
                accepted: clamp(r.accepted),
                completed: clamp(r.completed),
            };
            (r.partner_id.clone(), r.need, counts)
        })
        .collect()
}

/// Refreshes the current orchestrator's pathway statistics every `stats_refresh` until
/// stopped.
pub(crate) async fn refresh(ctx: Arc<Ctx>, mut stopped: watch::Receiver<bool>) {
    loop {
        let now = Utc::now();
        // The planner learns from every organisation's referrals: it sees counts per partner
        // and need, never a case.
        match ctx.store.pathway_stats(now - STATS_WINDOW, now, None).await {
            Ok(rows) => ctx.host.partners().set_pathway_stats(planner_stats(&rows)),
            Err(e) => tracing::warn!(error = %e, "cannot refresh pathway statistics"),
        }
        tokio::select! {
            () = tokio::time::sleep(ctx.settings.stats_refresh) => {}
            _ = stopped.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pathways_core::NeedCode;

    #[test]
    fn store_rows_become_planner_counts() {
        let row = PathwayStatsRow {
            partner_id: "fb".into(),
            need: NeedCode::Food,
            sent: 10,
            accepted: 7,
            rejected_by_reason: vec![],
            completed: 5,
            median_secs_to_acceptance: None,
            median_secs_to_completion: None,
        };
        let stats = planner_stats(&[row]);
        assert_eq!(
            stats.get("fb", NeedCode::Food),
            Some(PathwayCounts { sent: 10, accepted: 7, completed: 5 })
        );
        assert_eq!(stats.get("fb", NeedCode::DebtMoney), None);
    }
}
