//! [`PartnerLane`]: one partner's resilience state (breaker and bulkhead), kept across plans,
//! and the stack of layers every call to it goes through.

use std::future::Future;
use std::sync::Arc;

use pathways_core::{Availability, AvailabilityQuery, Partner, PartnerError, PartnerErrorKind};
use tower::{ServiceBuilder, ServiceExt};

use super::partner_service::PartnerService;
use super::settings::OrchestratorSettings;
use crate::resilience::breaker::{Breaker, BreakerLayer, BreakerState, Verdict};
use crate::resilience::bulkhead::{Bulkhead, PartnerBusy};
use crate::resilience::deadline::{DeadlineLayer, PartnerTimedOut};
use crate::resilience::BoxError;

/// One partner's breaker and bulkhead, shared by every plan.
#[derive(Debug)]
pub(crate) struct PartnerLane {
    breaker: Arc<Breaker>,
    bulkhead: Bulkhead,
}

impl PartnerLane {
    pub(crate) fn new(settings: &OrchestratorSettings) -> Self {
        Self {
            breaker: Arc::new(Breaker::new(settings.breaker)),
            bulkhead: Bulkhead::new(settings.partner_concurrency),
        }
    }

    /// Asks `partner` through the stack: breaker, then bulkhead, then the partner timeout.
    pub(crate) fn ask(
        &self,
        partner: Arc<dyn Partner>,
        query: AvailabilityQuery,
        settings: &OrchestratorSettings,
    ) -> impl Future<Output = Result<Availability, BoxError>> + Send + 'static {
        ServiceBuilder::new()
            .layer(BreakerLayer::new(self.breaker.clone(), classify))
            .layer(self.bulkhead.layer())
            .layer(DeadlineLayer::new(settings.partner_timeout))
            .service(PartnerService::new(partner))
            .oneshot(query)
    }

    pub(crate) fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.bulkhead.in_flight()
    }
}

/// What a call's result says about the partner's health.
fn classify(result: &Result<(), &BoxError>) -> Verdict {
    let Err(error) = result else { return Verdict::Success };
    if error.is::<PartnerBusy>() {
        // Shed before it reached the partner: says nothing about the partner.
        return Verdict::Ignore;
    }
    if error.is::<PartnerTimedOut>() {
        return Verdict::Failure;
    }
    match error.downcast_ref::<PartnerError>().map(|e| e.kind) {
        // The partner found this one query wrong; the next may be fine.
        Some(PartnerErrorKind::InvalidRequest) => Verdict::Ignore,
        _ => Verdict::Failure,
    }
}
