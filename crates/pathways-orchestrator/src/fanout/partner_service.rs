//! [`CallService`]: one call to a partner (an availability question, a send, a cancel, a status
//! poll) as a tower [`Service`], so the resilience layers wrap every kind of call alike.

use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::FutureExt;
use pathways_core::PartnerError;
use tower::Service;

/// Runs the call it is given (a connector method's future). A panic in the connector becomes
/// a [`PartnerError`] of kind plugin fault, so it fails one call, not the plan or the
/// dispatcher.
pub(crate) struct CallService<T> {
    _answer: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for CallService<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallService")
    }
}

impl<T> Clone for CallService<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T> CallService<T> {
    pub(crate) fn new() -> Self {
        Self { _answer: PhantomData }
    }
}

impl<T: Send + 'static> Service<BoxFuture<'static, Result<T, PartnerError>>> for CallService<T> {
    type Response = T;
    type Error = PartnerError;
    type Future = Pin<Box<dyn Future<Output = Result<T, PartnerError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), PartnerError>> {
        // A partner takes any number of calls; limiting them is the bulkhead's job.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: BoxFuture<'static, Result<T, PartnerError>>) -> Self::Future {
        Box::pin(async move {
            AssertUnwindSafe(call)
                .catch_unwind()
                .await
                .unwrap_or_else(|_panic| Err(PartnerError::plugin_fault("the connector panicked")))
        })
    }
}
