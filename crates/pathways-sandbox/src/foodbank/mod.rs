//! The food bank partner simulator: a Give Food API v2 directory and a Trussell-style
//! e-referral (voucher) API, on one loopback listener.
//!
//! # Directory (Give Food API v2 shape)
//! - `GET /api/2/foodbanks/search/?address=W10` (a postcode district, a postcode, or an
//!   address ending in one) or `?lat_lng=51.52,-0.21` → a JSON array of the nearest 10 food
//!   banks, nearest first, each with Give Food's fields: `name, alt_name, slug, phone,
//!   secondary_phone, email, address` (newline separated lines), `postcode, closed, country,
//!   lat_lng` (`"51.5218,-0.2168"`), `network` (`Trussell | IFAN | Independent`), `created,
//!   distance_m` (integer metres), `distance_mi, urls {self, html, homepage, shopping_list, map},
//!   charity {registration_id, register_url}, needs {id, needs, excess, number, found},
//!   politics {...}`. Closed food banks are listed with `closed: true`. No location → 400;
//!   an address with no district the simulator knows → 400. `phone` is as the food bank typed
//!   it: Ludlow's has words after the number, with a mobile as its `secondary_phone`.
//! - `GET /api/2/foodbank/{slug}/` (Give Food's path) and `GET /api/2/foodbanks/{slug}/` →
//!   the same object plus `locations[]` and `nearby_foodbanks[]`; unknown slug → 404.
//!
//! # E-voucher API (no public specification exists; this one is ours)
//! When an API key is configured, every `/evoucher` route needs `Authorization: Bearer KEY`
//! (401 otherwise). Errors are `{"error": {"code": "...", "message": "..."}}`; messages name
//! fields, never values.
//! - `GET /evoucher/v1/health` → `{"status": "ok"}`.
//! - `GET /evoucher/v1/foodbanks/{slug}/availability` → `{"foodbank": "north-kensington",
//!   "accepting_referrals": true, "vouchers_remaining_this_week": 12, "next_session":
//!   "2026-11-24", "waitlist_weeks": 0, "sessions": [{"days": ["tue", "fri"], "opens_at":
//!   "10:00", "closes_at": "13:00"}], "updated_at": "..."}`; unknown slug → 404. `sessions`
//!   are when parcels are handed out (days as FHIR `daysOfWeek` codes, local times). Issuing
//!   vouchers uses up the week's allowance; after that referrals wait for next week.
//! - `POST /evoucher/v1/referrals`, header `Idempotency-Key` (required, 1–255 characters),
//!   body (every object rejects unknown fields with 400 naming the field):
//!   ```json
//!   {"foodbank": "north-kensington",
//!    "agency": {"organisation": "citizens-advice-kc", "reference": "CAKC-000123"},
//!    "client": {"full_name": "…", "year_of_birth": 1989, "address": "…", "postcode": "W10 5AB",
//!               "phone": "…", "contact_via_agency": false},
//!    "household": {"adults": 1, "children_ages": [7, 15]},
//!    "referral_reasons": ["food_insecurity"],
//!    "dietary_requirements": ["halal"], "extra_items": ["nappies"]}
//!   ```
//!   Only `foodbank`, `agency`, `client.full_name` and one reason are required; `client.phone`
//!   is required unless `contact_via_agency` is true. Reasons: `food_insecurity, low_income,
//!   debt, benefit_delay, benefit_change, fuel_costs, housing, other`. Diets: `vegetarian,
//!   vegan, halal, kosher, gluten_free, lactose_free, nut_allergy`. Items: `nappies,
//!   baby_formula, pet_food, toiletries, sanitary_products, kettle_pack`.
//!   → 201 with the voucher: `{"voucher_id": "FBV-7K3M9QAB", "foodbank": "...", "status":
//!   "issued", "status_reason": null, "agency_reference": "CAKC-000123", "collect_from":
//!   "2026-11-24", "valid_until": "2026-12-08", "issued_at": "...", "updated_at": "..."}`.
//!   A food bank not accepting referrals answers 201 with `"status": "declined",
//!   "status_reason": "no_capacity"`. The same key with the same body → 200 and the same
//!   voucher, creating nothing; the same key with a different body → 422
//!   `idempotency_key_reused`; unknown food bank → 404; closed food bank or missing
//!   information → 422.
//! - `GET /evoucher/v1/referrals/{voucher_id}` → the voucher as above; `status` is `issued |
//!   redeemed | expired | cancelled | declined`, with `status_reason` (`no_capacity,
//!   out_of_area, not_eligible, missing_information, client_withdrew, agency_withdrew, other`)
//!   for declined and cancelled vouchers. Unknown id → 404. An issued voucher moves on the
//!   sandbox clock ([`crate::ClockConfig`]; stopped by default): issued → `redeemed`, or
//!   `declined` (`no_capacity`, `not_eligible`) or `expired` for the share the clock refuses.
//!   A status set through the control route below wins over the clock.
//! - `POST /evoucher/v1/referrals/{voucher_id}/cancel`, body `{"reason": "client_withdrew"}`
//!   (`client_withdrew | agency_withdrew | other`, required) → 200 with the voucher, now
//!   `"status": "cancelled"` with the reason as its `status_reason`: the agency withdraws it.
//!   Cancelling a cancelled voucher → 200 and the voucher unchanged (the first reason stays),
//!   so a repeat is harmless. A voucher that was `redeemed`, `expired` or `declined` first is
//!   not cancelled → 409 `voucher_not_cancellable`, and GET shows where it ended. Unknown id
//!   → 404; another reason → 422 `invalid_value`.
//!
//! # Sandbox control (never faulted, never authenticated)
//! - `GET /_sandbox/stats` → [`ReferralStats`] as JSON.
//! - `GET /_sandbox/faults`, `PUT /_sandbox/faults` with a [`crate::Faults`] JSON body.
//! - `POST /_sandbox/vouchers/{voucher_id}/status` with `{"status": "redeemed", "reason": null}`
//!   moves a voucher as the food bank would.

mod data;
mod directory;
mod routes;
mod vouchers;
mod wire;

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{NaiveDate, Utc};

pub use wire::{ReferralStats, VoucherReason, VoucherStatus};

use crate::clock::ClockConfig;
use crate::config::FoodbankSimConfig;
use crate::faults::FaultInjector;
use crate::sim::{self, FaultSetup, SimState, Simulator};
use crate::webhook::{Progress, WebhookSetup};
use crate::SandboxError;

/// Seeds of the food bank simulator's random streams, derived from the sandbox seed so that
/// faults and voucher ids do not share one stream.
const FAULT_STREAM: u64 = 0xF00D_0001;
const VOUCHER_STREAM: u64 = 0xF00D_0002;

/// Everything the food bank simulator's handlers share.
#[derive(Debug)]
pub(crate) struct FoodbankState {
    book: Mutex<vouchers::VoucherBook>,
    faults: Arc<FaultInjector>,
    today: Option<NaiveDate>,
    api_key: Option<String>,
}

impl FoodbankState {
    /// The simulator's date: pinned by configuration, or today's.
    fn today(&self) -> NaiveDate {
        self.today.unwrap_or_else(|| Utc::now().date_naive())
    }

    fn book(&self) -> MutexGuard<'_, vouchers::VoucherBook> {
        sim::lock(&self.book)
    }
}

impl SimState for FoodbankState {
    type Stats = ReferralStats;

    fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    fn progress(&self) -> Vec<Progress> {
        self.book().progress()
    }

    fn stats(&self) -> ReferralStats {
        self.book().stats.clone()
    }
}

/// A running food bank simulator.
pub(crate) type FoodbankSim = Simulator<FoodbankState>;

/// Starts the simulator on `config.listen`; issued vouchers progress on `clock`.
pub(crate) async fn start(
    config: &FoodbankSimConfig,
    seed: u64,
    today: Option<NaiveDate>,
    clock: &ClockConfig,
) -> Result<FoodbankSim, SandboxError> {
    let book = vouchers::VoucherBook::new(seed ^ VOUCHER_STREAM).with_clock(clock.clone(), seed);
    let faults = FaultSetup { faults: config.faults.clone(), seed: seed ^ FAULT_STREAM };
    let state = |faults| FoodbankState {
        book: Mutex::new(book),
        faults,
        today,
        api_key: config.api_key.clone(),
    };
    let webhook =
        config.webhook.clone().map(|config| WebhookSetup { config, step_ms: clock.step_ms });
    Simulator::start("foodbank", config.listen, faults, webhook, state, routes::router).await
}

impl Simulator<FoodbankState> {
    /// A voucher's status and reason now, or `None` if there is no such voucher.
    pub(crate) fn voucher_status(
        &self,
        voucher_id: &str,
    ) -> Option<(VoucherStatus, Option<VoucherReason>)> {
        self.state().book().voucher(voucher_id).map(|v| (v.status, v.status_reason))
    }

    /// Moves a voucher to `status`.
    pub(crate) fn set_voucher_status(
        &self,
        voucher_id: &str,
        status: VoucherStatus,
        reason: Option<VoucherReason>,
    ) -> Result<(), SandboxError> {
        if self.state().book().set_status(voucher_id, status, reason) {
            Ok(())
        } else {
            Err(SandboxError::UnknownVoucher(voucher_id.to_string()))
        }
    }
}
