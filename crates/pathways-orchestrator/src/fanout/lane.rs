//! [`PartnerLane`]: one partner's resilience state (breaker and bulkheads), kept across plans
//! and across configuration reloads, and the stack of layers every call to it goes through:
//! availability questions from plans, and the dispatcher's sends, cancels and status polls
//! ([`ReferralLane`]).
//!
//! One breaker per partner sees every kind of call, so a partner that stops answering sends
//! also stops being asked about availability, and the other way round. Each kind of traffic has
//! its own bulkhead, so one kind cannot take the slots another needs:
//! - availability (`partner_concurrency`, 8): a pathfinder is waiting for the plan;
//! - sends and cancels (`referral_concurrency`, 4): background, but a person waits for help;
//! - status polls (`referral_concurrency`, 4): the least urgent; thousands of open referrals
//!   being polled must not delay a send.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use pathways_core::{
    Availability, AvailabilityQuery, CancelRequest, Partner, PartnerError, PartnerErrorKind,
    Referral, ReferralReceipt, ReferralRef, ReferralStatus,
};
use tower::{ServiceBuilder, ServiceExt};

use super::partner_service::CallService;
use super::settings::OrchestratorSettings;
use crate::resilience::breaker::{Breaker, BreakerLayer, BreakerState, CircuitOpen, Verdict};
use crate::resilience::bulkhead::{Bulkhead, PartnerBusy};
use crate::resilience::deadline::{DeadlineLayer, PartnerTimedOut};
use crate::resilience::BoxError;

/// Sends and cancels (and, separately, status polls) in flight to one partner at once, unless
/// [`Orchestrator::with_referral_concurrency`](crate::Orchestrator::with_referral_concurrency)
/// says otherwise.
pub const DEFAULT_REFERRAL_CONCURRENCY: usize = 4;

/// What a lane is built from: a lane is carried over a reload only when this is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LaneShape {
    pub(crate) availability: usize,
    pub(crate) referrals: usize,
    pub(crate) breaker: crate::BreakerPolicy,
}

impl LaneShape {
    pub(crate) fn new(settings: &OrchestratorSettings, referrals: usize) -> Self {
        Self { availability: settings.partner_concurrency, referrals, breaker: settings.breaker }
    }
}

/// One partner's breaker and bulkheads, shared by every plan and by the dispatcher.
#[derive(Debug)]
pub(crate) struct PartnerLane {
    shape: LaneShape,
    breaker: Arc<Breaker>,
    availability: Bulkhead,
    sends: Bulkhead,
    polls: Bulkhead,
}

impl PartnerLane {
    pub(crate) fn new(shape: LaneShape) -> Self {
        Self {
            shape,
            breaker: Arc::new(Breaker::new(shape.breaker)),
            availability: Bulkhead::new(shape.availability),
            sends: Bulkhead::new(shape.referrals),
            polls: Bulkhead::new(shape.referrals),
        }
    }

    pub(crate) fn shape(&self) -> LaneShape {
        self.shape
    }

    /// Asks `partner` through the stack: breaker, then bulkhead, then the partner timeout.
    pub(crate) fn ask(
        &self,
        partner: Arc<dyn Partner>,
        query: AvailabilityQuery,
        settings: &OrchestratorSettings,
    ) -> impl Future<Output = Result<Availability, BoxError>> + Send + 'static {
        let call: BoxFuture<'static, _> =
            Box::pin(async move { partner.check_availability(&query).await });
        self.through(&self.availability, settings.partner_timeout, classify, call)
    }

    /// The one stack, outermost first: breaker, bulkhead, deadline, the call (panics caught).
    fn through<T: Send + 'static>(
        &self,
        bulkhead: &Bulkhead,
        deadline: Duration,
        classify: fn(&Result<(), &BoxError>) -> Verdict,
        call: BoxFuture<'static, Result<T, PartnerError>>,
    ) -> impl Future<Output = Result<T, BoxError>> + Send + 'static {
        ServiceBuilder::new()
            .layer(BreakerLayer::new(self.breaker.clone(), classify))
            .layer(bulkhead.layer())
            .layer(DeadlineLayer::new(deadline))
            .service(CallService::new())
            .oneshot(call)
    }

    pub(crate) fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.availability.in_flight()
    }
}

/// What an availability call's result says about the partner's health.
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

/// What a send's, cancel's or status poll's result says about the partner's health: a partner
/// that answered about this one referral (refused it, does not know it, cannot cancel) is up.
fn classify_referral(result: &Result<(), &BoxError>) -> Verdict {
    let Err(error) = result else { return Verdict::Success };
    match error.downcast_ref::<PartnerError>().map(|e| e.kind) {
        Some(
            PartnerErrorKind::InvalidRequest
            | PartnerErrorKind::Permanent
            | PartnerErrorKind::NotSupported,
        ) => Verdict::Ignore,
        _ => classify(result),
    }
}

/// A partner's connector with its lane, for the dispatcher's traffic: every send, cancel and
/// status poll goes through the partner's breaker (the same one as its availability calls),
/// a bulkhead for its kind (sends and cancels share one, polls have another), and a deadline.
#[derive(Clone)]
pub struct ReferralLane {
    partner_id: String,
    partner: Arc<dyn Partner>,
    lane: Arc<PartnerLane>,
}

impl std::fmt::Debug for ReferralLane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferralLane")
            .field("partner_id", &self.partner_id)
            .field("lane", &self.lane)
            .finish_non_exhaustive()
    }
}

/// How full one of a lane's bulkheads is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slots {
    /// Calls it lets through at once.
    pub limit: usize,
    /// Calls in flight now.
    pub in_flight: usize,
}

impl Slots {
    /// Slots free now.
    pub fn free(&self) -> usize {
        self.limit.saturating_sub(self.in_flight)
    }
}

/// Why a call through a [`ReferralLane`] did not bring the partner's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum LaneError {
    /// The partner's circuit is open (or its one trial call is out): it was not called.
    CircuitOpen(CircuitOpen),
    /// Every slot of the partner's bulkhead for this kind of call was taken: not called.
    Busy(PartnerBusy),
    /// No answer within the deadline; the call was abandoned.
    TimedOut(Duration),
    /// The partner answered with an error (or its connector panicked).
    Partner(PartnerError),
}

impl LaneError {
    /// Whether the partner was called at all.
    pub fn reached_partner(&self) -> bool {
        matches!(self, LaneError::TimedOut(_) | LaneError::Partner(_))
    }

    /// The error as the partner's, for the retry rules: an open circuit is a transient error
    /// whose `Retry-After` is the rest of the cool-down, a full bulkhead a transient one, and
    /// a deadline a timeout ("no answer within 20000 ms").
    pub fn into_partner_error(self) -> PartnerError {
        match self {
            LaneError::CircuitOpen(open) => {
                let retry_after = u64::try_from(open.retry_in.as_millis()).unwrap_or(u64::MAX);
                PartnerError::transient(
                    format!("circuit open: {open}"),
                    (retry_after > 0).then_some(retry_after),
                )
            }
            LaneError::Busy(busy) => PartnerError::transient(busy.to_string(), None),
            LaneError::TimedOut(deadline) => {
                PartnerError::timeout(format!("no answer within {} ms", deadline.as_millis()))
            }
            LaneError::Partner(error) => error,
        }
    }

    fn from_box(error: BoxError, deadline: Duration) -> Self {
        if let Some(open) = error.downcast_ref::<CircuitOpen>() {
            LaneError::CircuitOpen(*open)
        } else if let Some(busy) = error.downcast_ref::<PartnerBusy>() {
            LaneError::Busy(*busy)
        } else if error.is::<PartnerTimedOut>() {
            LaneError::TimedOut(deadline)
        } else {
            match error.downcast::<PartnerError>() {
                Ok(error) => LaneError::Partner(*error),
                Err(other) => LaneError::Partner(PartnerError::plugin_fault(other.to_string())),
            }
        }
    }
}

impl std::fmt::Display for LaneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LaneError::CircuitOpen(open) => write!(f, "circuit open: {open}"),
            LaneError::Busy(busy) => busy.fmt(f),
            LaneError::TimedOut(deadline) => {
                write!(f, "no answer within {} ms", deadline.as_millis())
            }
            LaneError::Partner(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for LaneError {}

impl ReferralLane {
    pub(crate) fn new(
        partner_id: String,
        partner: Arc<dyn Partner>,
        lane: Arc<PartnerLane>,
    ) -> Self {
        Self { partner_id, partner, lane }
    }

    /// The partner id from configuration.
    pub fn partner_id(&self) -> &str {
        &self.partner_id
    }

    /// The connector.
    pub fn partner(&self) -> &Arc<dyn Partner> {
        &self.partner
    }

    /// Sends `referral`, giving up after `deadline`.
    pub async fn send(
        &self,
        referral: &Referral,
        deadline: Duration,
    ) -> Result<ReferralReceipt, LaneError> {
        let (partner, referral) = (self.partner.clone(), referral.clone());
        let call: BoxFuture<'static, _> =
            Box::pin(async move { partner.send_referral(&referral).await });
        self.call(&self.lane.sends, deadline, call).await
    }

    /// Asks the partner to withdraw a referral, giving up after `deadline`; shares the sends'
    /// bulkhead.
    pub async fn cancel(
        &self,
        request: &CancelRequest,
        deadline: Duration,
    ) -> Result<ReferralStatus, LaneError> {
        let (partner, request) = (self.partner.clone(), request.clone());
        let call: BoxFuture<'static, _> =
            Box::pin(async move { partner.cancel_referral(&request).await });
        self.call(&self.lane.sends, deadline, call).await
    }

    /// Asks where a referral stands, giving up after `deadline`; polls have their own bulkhead.
    pub async fn status(
        &self,
        reference: &ReferralRef,
        deadline: Duration,
    ) -> Result<ReferralStatus, LaneError> {
        let (partner, reference) = (self.partner.clone(), reference.clone());
        let call: BoxFuture<'static, _> =
            Box::pin(async move { partner.referral_status(&reference).await });
        self.call(&self.lane.polls, deadline, call).await
    }

    async fn call<T: Send + 'static>(
        &self,
        bulkhead: &Bulkhead,
        deadline: Duration,
        call: BoxFuture<'static, Result<T, PartnerError>>,
    ) -> Result<T, LaneError> {
        self.lane
            .through(bulkhead, deadline, classify_referral, call)
            .await
            .map_err(|e| LaneError::from_box(e, deadline))
    }

    /// The sends' and cancels' bulkhead now.
    pub fn sends(&self) -> Slots {
        Slots { limit: self.lane.sends.limit(), in_flight: self.lane.sends.in_flight() }
    }

    /// The status polls' bulkhead now.
    pub fn polls(&self) -> Slots {
        Slots { limit: self.lane.polls.limit(), in_flight: self.lane.polls.in_flight() }
    }

    /// The partner's breaker now (the same one its availability calls go through).
    pub fn breaker(&self) -> BreakerState {
        self.lane.breaker_state()
    }
}
