//! Bulkhead: at most so many calls in flight to one partner; the excess is shed at once.
//!
//! A partner that slows down or hangs would otherwise collect every plan's call, and each plan
//! would wait for it. With a bulkhead, once `partner_concurrency` calls to it are in flight, the
//! next plan does not queue behind them: its call fails immediately with [`PartnerBusy`], the
//! partner is reported `skipped` ("partner busy: 8 calls in flight"), and the plan goes on with
//! the others. The slots are shared by every plan the orchestrator makes, so the state lives in
//! the [`Bulkhead`] the orchestrator keeps per partner.
//!
//! This is tower's [`ConcurrencyLimit`](tower::limit::ConcurrencyLimit) over one shared
//! semaphore, behind tower's [`LoadShed`](tower::load_shed::LoadShed), which turns "not ready"
//! into an immediate error instead of a wait.

mod error;
mod layer;

pub use error::PartnerBusy;
pub use layer::{Bulkhead, BulkheadLayer};
