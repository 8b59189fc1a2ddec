//! The response future of [`BreakerService`](super::BreakerService): reports the call's end to
//! the breaker exactly once, also when it is dropped unfinished.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::error::CircuitOpen;
use super::layer::Classify;
use super::state::{Admission, Breaker, Verdict};
use crate::resilience::BoxError;

/// Reports one admitted call to the breaker: on completion with the classified verdict, or on
/// drop as a failure (the call was abandoned before it answered).
#[derive(Debug)]
pub(super) struct Outcome {
    breaker: Arc<Breaker>,
    admission: Admission,
    classify: Classify,
    reported: bool,
}

impl Outcome {
    pub(super) fn new(breaker: Arc<Breaker>, admission: Admission, classify: Classify) -> Self {
        Self { breaker, admission, classify, reported: false }
    }

    fn report<T>(&mut self, result: &Result<T, BoxError>) {
        let verdict = (self.classify)(&result.as_ref().map(|_| ()));
        self.breaker.record(self.admission, verdict);
        self.reported = true;
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.record(self.admission, Verdict::Failure);
        }
    }
}

type Inner<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// A call through the breaker, or its refusal.
pub struct ResponseFuture<T> {
    kind: Kind<T>,
}

enum Kind<T> {
    Called { call: Inner<T>, outcome: Outcome },
    Refused(Option<BoxError>),
}

impl<T> std::fmt::Debug for ResponseFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("breaker::ResponseFuture")
    }
}

impl<T> ResponseFuture<T> {
    pub(super) fn called<F, E>(call: F, outcome: Outcome) -> Self
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let call = Box::pin(async move { call.await.map_err(Into::into) });
        Self { kind: Kind::Called { call, outcome } }
    }

    pub(super) fn refused(open: CircuitOpen) -> Self {
        Self { kind: Kind::Refused(Some(Box::new(open))) }
    }

    /// `call` without `poll_ready`: a caller bug, reported rather than panicking.
    pub(super) fn refused_unready() -> Self {
        let error: BoxError = "the breaker was called before it was ready".into();
        Self { kind: Kind::Refused(Some(error)) }
    }
}

impl<T> Future for ResponseFuture<T> {
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Every field is Unpin (the inner call is boxed), so the future is too.
        let this = self.get_mut();
        match &mut this.kind {
            Kind::Called { call, outcome } => {
                let result = std::task::ready!(call.as_mut().poll(cx));
                outcome.report(&result);
                Poll::Ready(result)
            }
            Kind::Refused(error) => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| "the breaker's future was polled after it finished".into()))),
        }
    }
}
