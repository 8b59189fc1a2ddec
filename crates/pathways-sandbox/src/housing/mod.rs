//! The housing authority simulator: local housing authorities' Duty to Refer intake
//! (Homelessness Reduction Act 2017, s.213B), on one loopback listener.
//!
//! There is no national Duty to Refer API: councils take referrals through portals (ALERT and
//! others) or email forms. This small REST API is ours, shaped on what the statutory guidance
//! says a referral holds (name, contact details, the agreed reason, consent, the authority the
//! client chose) and what the authority gives back (a receipt, then the case's progress).
//!
//! # API
//! When an API key is configured, every `/dtr` route needs `Authorization: Bearer KEY` (401
//! otherwise). Errors are `{"error": {"code": "...", "message": "..."}}`; messages name fields,
//! never values.
//! - `GET /dtr/v1/health` → `{"status": "ok"}`.
//! - `GET /dtr/v1/authorities` → `[{"ons_code": "E09000020", "name": "Royal Borough of
//!   Kensington and Chelsea", "accepting_referrals": true}, ...]`: the authorities this
//!   service takes referrals for.
//! - `GET /dtr/v1/authorities/{ons_code}/availability` → the housing options team:
//!   `{"authority": "E09000020", "name": "...", "accepting_referrals": true,
//!   "next_triage_date": "2026-11-23", "same_day_emergency_service": true,
//!   "housing_options": {"phone": "020 7946 0500", "email": "...", "url": "...", "address":
//!   "Kensington Town Hall, Hornton Street, London W8 7NX", "opening_hours": [{"days": ["mon",
//!   "tue", "wed", "thu", "fri"], "opens_at": "09:00", "closes_at": "17:00"}], "out_of_hours":
//!   "Evenings, weekends and bank holidays: ..."}, "updated_at": "..."}`. `next_triage_date`
//!   is the first working day the team looks at a new referral (`null` when not accepting);
//!   `same_day_emergency_service` says whether its duty team sees someone with nowhere to
//!   sleep tonight the same day; `housing_options` is how to reach the team (days as FHIR
//!   `daysOfWeek` codes, local times) and what to do out of hours. Unknown authority → 404.
//! - `POST /dtr/v1/referrals`, header `Idempotency-Key` (required, 1–255 characters), body
//!   (every object rejects unknown fields with 400 naming the field):
//!   ```json
//!   {"chosen_authority": "E09000020",
//!    "referring_agency": {"organisation": "citizens-advice-kc", "worker": "pf-17",
//!                         "case_reference": "CAKC-000123", "referral_type": "voluntary",
//!                         "public_authority": null, "contact": "020 7946 0100"},
//!    "client": {"name": "…", "phone": "…", "email": "…", "address": "…", "postcode": "…",
//!               "contact_via_referrer": false},
//!    "reason": "threatened_with_homelessness_within_56_days",
//!    "consent": {"consent_to_refer": true, "consent_to_share_contact": true,
//!                "recorded_at": "2026-11-20T10:00:00Z", "recorded_by": "pf-17"},
//!    "household": {"adults": 1, "children_ages": [7, 15]}}
//!   ```
//!   `reason`: `homeless | threatened_with_homelessness_within_56_days`. `referral_type`:
//!   `duty_to_refer` (a specified public authority, named in `public_authority`: `prison,
//!   youth_offender_institution, secure_training_centre, secure_college, youth_offending_team,
//!   probation, jobcentre_plus, emergency_department, urgent_treatment_centre,
//!   hospital_inpatient, social_services, regular_armed_forces`) or `voluntary` (anyone else).
//!   Required: `chosen_authority`, the agency's `organisation`, `case_reference` and
//!   `referral_type`, `client.name`, `reason`, and the whole `consent`. The client needs a
//!   `phone` or an `email` unless `contact_via_referrer` is true, which in turn needs the
//!   agency's `contact`. → 201 with the receipt `{"referral_id": "DTR-KC-7K3M9Q", "authority":
//!   "E09000020", "received_at": "...", "status": "received"}`. 422 with `consent_required`
//!   when either consent is false, `authority_not_served` when the chosen authority is not one
//!   of this service's, `missing_information` / `invalid_value` naming the field. An authority
//!   not accepting referrals answers 201 with `"status": "declined"`. The same key with the
//!   same body → 200 and the same receipt, recording nothing; with a different body → 422
//!   `idempotency_key_reused`.
//! - `GET /dtr/v1/referrals/{referral_id}` → `{"referral_id", "authority", "status", "duty",
//!   "outcome", "reason", "received_at", "updated_at"}`. `status`: `received` → `accepted`
//!   (a case is open; `duty` is `prevention` for a threatened client, `relief` for a homeless
//!   one) → `in_progress` → `closed` with `outcome` `homelessness_prevented` or
//!   `homelessness_relieved`. Some never open: `declined` with `reason` `not_eligible`,
//!   `no_local_connection` (passed to another authority) or `not_accepting_referrals`, or
//!   `closed` with `outcome` `could_not_contact`. A referral the referrer withdrew is
//!   `withdrawn` with its `withdrawal_reason` (otherwise `null`). Unknown id → 404.
//! - `POST /dtr/v1/referrals/{referral_id}/withdraw`, body `{"reason": "no_longer_needed"}`
//!   (`consent_withdrawn | no_longer_needed | assisted_elsewhere | referred_elsewhere |
//!   referred_in_error | other`, required; unknown fields → 400) → 200 with the referral as
//!   GET shows it, now `"status": "withdrawn"`, `withdrawal_reason` set and `updated_at` the
//!   time of the withdrawal; the clock no longer moves it. A referral still `received`,
//!   `accepted` or `in_progress` can be withdrawn (the case the authority opened closes with
//!   it). Withdrawing a withdrawn referral → 200 and the referral unchanged (the first reason
//!   stays), so a repeat is harmless. One `closed` or `declined` first → 409 `referral_ended`,
//!   left as it is. Unknown id → 404.
//!
//! Progress follows the sandbox clock ([`crate::ClockConfig`]): a stopped clock leaves every
//! referral `received`. The clock's refusals map to an authority's own: `not_eligible` →
//! declined `not_eligible`, `could_not_contact` → closed `could_not_contact`, and
//! `no_capacity` (an authority cannot refuse for want of places) → declined
//! `no_local_connection`. The `capacity` fault applies to the housing options teams: `open`
//! (triage today, same-day service), `waitlist` (triage in two weeks, no same-day service),
//! `full` (not accepting; referrals are declined on arrival).
//!
//! # Sandbox control (never faulted, never authenticated)
//! - `GET /_sandbox/stats` → [`HousingStats`] as JSON.
//! - `GET /_sandbox/faults`, `PUT /_sandbox/faults` with a [`crate::Faults`] JSON body.

mod data;
mod referrals;
mod routes;
mod wire;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use wire::HousingStats;

use crate::clock::ClockConfig;
use crate::faults::{FaultInjector, Faults};
use crate::sim::{self, FaultSetup, SimState, Simulator};
use crate::webhook::{Progress, WebhookConfig, WebhookSetup};
use crate::SandboxError;

/// Seeds of the housing simulator's random streams, derived from the sandbox seed so that
/// faults and referral ids do not share one stream.
const FAULT_STREAM: u64 = 0x4805_0001;
const REFERRAL_STREAM: u64 = 0x4805_0002;

/// Configuration of the housing authority simulator (`[housing]` in `config/sandbox.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HousingSimConfig {
    /// Address to listen on; port 0 picks a free port (see [`crate::Sandbox::housing_url`]).
    pub listen: SocketAddr,
    /// When set, every `/dtr` route requires `Authorization: Bearer <api_key>`.
    pub api_key: Option<String>,
    /// Latency and failure knobs; `capacity` applies to the housing options teams.
    pub faults: Faults,
    /// Where referral events are posted, if anywhere (see the `webhook` module).
    pub webhook: Option<WebhookConfig>,
}

impl Default for HousingSimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: None,
            faults: Faults::default(),
            webhook: None,
        }
    }
}

/// Everything the housing simulator's handlers share.
#[derive(Debug)]
pub(crate) struct HousingState {
    book: Mutex<referrals::ReferralBook>,
    faults: Arc<FaultInjector>,
    today: Option<NaiveDate>,
    api_key: Option<String>,
}

impl HousingState {
    /// The simulator's date: pinned by configuration, or today's.
    fn today(&self) -> NaiveDate {
        self.today.unwrap_or_else(|| Utc::now().date_naive())
    }

    fn book(&self) -> MutexGuard<'_, referrals::ReferralBook> {
        sim::lock(&self.book)
    }
}

impl SimState for HousingState {
    type Stats = HousingStats;

    fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    fn progress(&self) -> Vec<Progress> {
        self.book().progress()
    }

    fn stats(&self) -> HousingStats {
        self.book().stats.clone()
    }
}

/// A running housing authority simulator.
pub(crate) type HousingSim = Simulator<HousingState>;

impl Simulator<HousingState> {
    /// A referral as `GET /dtr/v1/referrals/{id}` shows it now, or `None` if there is none.
    pub(crate) fn referral(&self, referral_id: &str) -> Option<serde_json::Value> {
        let view = self.state().book().view(referral_id)?;
        serde_json::to_value(view).ok()
    }
}

/// Starts the simulator on `config.listen`; referrals progress on `clock`.
pub(crate) async fn start(
    config: &HousingSimConfig,
    seed: u64,
    today: Option<NaiveDate>,
    clock: &ClockConfig,
) -> Result<HousingSim, SandboxError> {
    let book = referrals::ReferralBook::new(seed ^ REFERRAL_STREAM, clock.clone(), seed);
    let faults = FaultSetup { faults: config.faults.clone(), seed: seed ^ FAULT_STREAM };
    let state = |faults| HousingState {
        book: Mutex::new(book),
        faults,
        today,
        api_key: config.api_key.clone(),
    };
    let webhook =
        config.webhook.clone().map(|config| WebhookSetup { config, step_ms: clock.step_ms });
    Simulator::start("housing", config.listen, faults, webhook, state, routes::router).await
}

#[cfg(test)]
mod tests;
