//! [`BreakerService`]: asks the breaker before each call and tells it how the call ended.

use std::sync::Arc;
use std::task::{Context, Poll};

use tower::Service;

use super::error::CircuitOpen;
use super::future::{Outcome, ResponseFuture};
use super::layer::Classify;
use super::state::{Admission, Breaker, Verdict};
use crate::resilience::BoxError;

/// A service behind a circuit breaker.
#[derive(Debug)]
pub struct BreakerService<S> {
    inner: S,
    breaker: Arc<Breaker>,
    classify: Classify,
    /// Decided in `poll_ready`, so an open circuit never reserves the inner service's capacity
    /// (a bulkhead slot); spent by `call`.
    admission: Option<Result<Admission, CircuitOpen>>,
}

impl<S: Clone> Clone for BreakerService<S> {
    fn clone(&self) -> Self {
        // Readiness is not cloned (tower's convention): the clone asks the breaker itself.
        Self::new(self.inner.clone(), self.breaker.clone(), self.classify)
    }
}

impl<S> BreakerService<S> {
    pub(super) fn new(inner: S, breaker: Arc<Breaker>, classify: Classify) -> Self {
        Self { inner, breaker, classify, admission: None }
    }
}

impl<S> Drop for BreakerService<S> {
    fn drop(&mut self) {
        // Admitted but never called: give a probe's turn back.
        if let Some(Ok(admission)) = self.admission.take() {
            self.breaker.record(admission, Verdict::Ignore);
        }
    }
}

impl<S, Request> Service<Request> for BreakerService<S>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        let admission = *self.admission.get_or_insert_with(|| self.breaker.admit());
        match admission {
            Err(_) => Poll::Ready(Ok(())), // `call` reports the refusal
            Ok(_) => self.inner.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.admission.take() {
            Some(Ok(admission)) => {
                let outcome = Outcome::new(self.breaker.clone(), admission, self.classify);
                ResponseFuture::called(self.inner.call(request), outcome)
            }
            Some(Err(open)) => ResponseFuture::refused(open),
            None => ResponseFuture::refused_unready(),
        }
    }
}
