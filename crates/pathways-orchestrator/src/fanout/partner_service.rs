//! [`PartnerService`]: a [`Partner`]'s availability call as a tower [`Service`], so the
//! resilience layers can wrap it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::FutureExt;
use pathways_core::{Availability, AvailabilityQuery, Partner, PartnerError};
use tower::Service;

/// `check_availability` of one partner. A panic in the connector becomes a
/// [`PartnerError`] of kind plugin fault, so it fails one call, not the plan.
#[derive(Clone)]
pub(crate) struct PartnerService {
    partner: Arc<dyn Partner>,
}

impl std::fmt::Debug for PartnerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerService").field("plugin", &self.partner.manifest().plugin).finish()
    }
}

impl PartnerService {
    pub(crate) fn new(partner: Arc<dyn Partner>) -> Self {
        Self { partner }
    }
}

impl Service<AvailabilityQuery> for PartnerService {
    type Response = Availability;
    type Error = PartnerError;
    type Future = Pin<Box<dyn Future<Output = Result<Availability, PartnerError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), PartnerError>> {
        // A partner takes any number of calls; limiting them is the bulkhead's job.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, query: AvailabilityQuery) -> Self::Future {
        let partner = self.partner.clone();
        Box::pin(async move {
            AssertUnwindSafe(partner.check_availability(&query))
                .catch_unwind()
                .await
                .unwrap_or_else(|_panic| Err(PartnerError::plugin_fault("the connector panicked")))
        })
    }
}
