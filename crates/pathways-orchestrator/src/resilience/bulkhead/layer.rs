//! [`Bulkhead`] (the shared slots of one partner) and [`BulkheadLayer`] (tower's concurrency
//! limit over those slots, behind its load shedder).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tower::limit::ConcurrencyLimit;
use tower::load_shed::error::Overloaded;
use tower::load_shed::LoadShed;
use tower::{Layer, Service};

use super::error::PartnerBusy;
use crate::resilience::BoxError;

/// The slots of one partner, shared by every plan.
#[derive(Debug, Clone)]
pub struct Bulkhead {
    slots: Arc<Semaphore>,
    limit: usize,
}

impl Bulkhead {
    /// A bulkhead letting `limit` calls through at once (at least one).
    pub fn new(limit: usize) -> Self {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Self { slots: Arc::new(Semaphore::new(limit)), limit }
    }

    /// How many calls may be in flight at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// How many calls are in flight now.
    pub fn in_flight(&self) -> usize {
        self.limit.saturating_sub(self.slots.available_permits())
    }

    /// The layer that takes its slots from this bulkhead.
    pub fn layer(&self) -> BulkheadLayer {
        BulkheadLayer { bulkhead: self.clone() }
    }
}

/// Limits the wrapped service to the bulkhead's slots and sheds the excess with
/// [`PartnerBusy`].
#[derive(Debug, Clone)]
pub struct BulkheadLayer {
    bulkhead: Bulkhead,
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = BulkheadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let limited = ConcurrencyLimit::with_semaphore(inner, self.bulkhead.slots.clone());
        BulkheadService { inner: LoadShed::new(limited), limit: self.bulkhead.limit }
    }
}

/// The service [`BulkheadLayer`] makes: tower's `LoadShed<ConcurrencyLimit<S>>` with its
/// `Overloaded` error replaced by one that says how busy the partner is.
#[derive(Debug, Clone)]
pub struct BulkheadService<S> {
    inner: LoadShed<ConcurrencyLimit<S>>,
    limit: usize,
}

impl<S, Request> Service<Request> for BulkheadService<S>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    S::Response: 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let call = self.inner.call(request);
        let in_flight = self.limit;
        Box::pin(async move {
            call.await.map_err(|error| {
                if error.is::<Overloaded>() {
                    Box::new(PartnerBusy { in_flight }) as BoxError
                } else {
                    error
                }
            })
        })
    }
}
