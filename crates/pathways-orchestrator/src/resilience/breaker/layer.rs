//! [`BreakerLayer`]: puts one partner's [`Breaker`] in front of a service.

use std::sync::Arc;

use tower::Layer;

use super::service::BreakerService;
use super::state::{Breaker, Verdict};
use crate::resilience::BoxError;

/// How a call's result counts for the breaker.
pub type Classify = fn(&Result<(), &BoxError>) -> Verdict;

/// Wraps a service with a shared [`Breaker`].
#[derive(Debug, Clone)]
pub struct BreakerLayer {
    breaker: Arc<Breaker>,
    classify: Classify,
}

impl BreakerLayer {
    /// A layer over `breaker`, counting results as `classify` says.
    pub fn new(breaker: Arc<Breaker>, classify: Classify) -> Self {
        Self { breaker, classify }
    }
}

impl<S> Layer<S> for BreakerLayer {
    type Service = BreakerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BreakerService::new(inner, self.breaker.clone(), self.classify)
    }
}
