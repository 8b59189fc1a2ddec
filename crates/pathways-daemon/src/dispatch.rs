//! The daemon's side of the dispatcher (`pathways_referrals`): the live partner set, the
//! dispatch metrics and the audit log, from the daemon's state.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathways_orchestrator::Orchestrator;
use pathways_referrals::DispatchHost;
use pathways_store::{AuditEntry, DispatchOutcome};

use crate::state::AppState;

/// What the dispatcher needs of the daemon.
#[derive(Debug)]
pub(crate) struct DaemonHost {
    state: AppState,
}

impl DaemonHost {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[async_trait]
impl DispatchHost for DaemonHost {
    fn partners(&self) -> Arc<Orchestrator> {
        self.state.live().orchestrator.clone()
    }

    fn send_attempted(&self, partner: &str) {
        self.state.metrics().dispatch_attempt(partner);
    }

    fn send_finished(&self, partner: &str, outcome: &DispatchOutcome, took: Duration) {
        self.state.metrics().dispatch_finished(partner, outcome, took);
    }

    async fn audit(&self, entry: AuditEntry) {
        if let Err(e) = self.state.store().append_audit(&entry).await {
            tracing::error!(error = %e, "cannot write the audit log");
            self.state.metrics().audit_failure();
        }
    }
}
