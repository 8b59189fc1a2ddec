//! [`DeadlineLayer`]: tower's timeout with our error.

use std::time::Duration;

use tower::timeout::error::Elapsed;
use tower::timeout::Timeout;
use tower::util::MapErr;
use tower::Layer;

use super::error::PartnerTimedOut;
use crate::resilience::BoxError;

/// Cuts off a call that takes longer than the partner timeout.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    timeout: Duration,
}

impl DeadlineLayer {
    /// A layer cutting calls off after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = MapErr<Timeout<S>, fn(BoxError) -> BoxError>;

    fn layer(&self, inner: S) -> Self::Service {
        MapErr::new(Timeout::new(inner, self.timeout), rename_elapsed)
    }
}

fn rename_elapsed(error: BoxError) -> BoxError {
    if error.is::<Elapsed>() {
        Box::new(PartnerTimedOut)
    } else {
        error
    }
}
