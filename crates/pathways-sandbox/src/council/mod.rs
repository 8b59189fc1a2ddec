//! The council partner simulator: an Open Referral UK / HSDS 3 service directory and an Open311
//! GeoReport v2 endpoint for service requests, on one loopback listener. One directory and one
//! Open311 endpoint serve all three seeded councils (Kensington and Chelsea E09000020,
//! Shropshire E06000051, Barrow-in-Furness E07000027): services say where they apply through
//! their `service_areas`, and Open311 tells councils apart by `jurisdiction_id`.
//!
//! # Directory (HSDS 3.0, UK profile), under `/hsds`
//! - `GET /hsds/` → `{"version": "3.0", "profile": "...", "openapi_url": "..."}`.
//! - `GET /hsds/services` → a Page `{"total_items", "total_pages", "page_number", "size",
//!   "first_page", "last_page", "empty", "contents": [service, ...]}`. Parameters: `search`,
//!   `page` (from 1), `per_page` (default and maximum `max_per_page`, 5 unless configured, so
//!   a client must follow pages), `taxonomy_term_id`, `taxonomy_id` (`esdNeed`, ...),
//!   `organization_id`, `modified_after`, `full` (`true`: fully nested services), and the UK
//!   profile's `postcode` (a postcode or district: keeps services whose service area covers
//!   its local authority) and `proximity` (metres from the postcode's centre, for services
//!   with a venue; services delivered by phone, online or at home pass on area alone). Every
//!   status is listed (`active | inactive | defunct | temporarily closed`). An unknown
//!   parameter, a bad number or an unknown postcode → 400 `{"error": {"code", "message"}}`.
//! - `GET /hsds/services/{id}` → the fully nested service; unknown id → 404.
//! - Every service carries, where the seed has them, `email`, `url` and `wait_time` (the wait
//!   in words, e.g. "About 6 to 8 weeks"). A full service also carries `phones[]` (`number`
//!   as dialled in the UK, `type: voice`), `schedules[]` (`freq: WEEKLY`, RFC 5545 `byday`
//!   such as `MO,TU,WE,TH,FR`, `opens_at`/`closes_at` as `HH:MM:SS` local time, and a
//!   `description` in words), `service_areas[]` (`uri` is the ONS statistical geography URI
//!   of the local authority, `extent` its code), `service_at_locations[]` with the venue
//!   (`location_type: physical`, one `addresses[]` entry) or, for a service used online, a
//!   `virtual` location whose `url` is where it is used, `contacts[]` (a team, with its
//!   `phones[]` and `email`), `attributes[]` and the HSDS 3.1 `capacities[]`
//!   `{id, unit {id, name, identifier}, available, maximum, description, updated}`: unit
//!   `place` counts places free now, unit `waitlist` places left on a waiting list.
//! - `attributes[]` link taxonomy terms whose ids are CURIEs: `esdNeed:N` (link_type
//!   `need`), `esdServiceType:N` (`service_type`), `esdCircumstance:N` (`eligibility`: the
//!   service is only for people in one of these circumstances), and `open311:service_code`
//!   (`referral`), whose `value` is the Open311 `service_code` under which the service takes
//!   referrals. A service without that attribute does not take referrals.
//!
//! # Service requests (Open311 GeoReport v2), under `/open311/v2`
//! - `GET /open311/v2/services.json[?jurisdiction_id=E06000051]` → `[{service_code,
//!   service_name, description, metadata, type, keywords, group}]` of active services.
//! - `POST /open311/v2/requests.json`, form-encoded: `service_code` (required),
//!   `jurisdiction_id`, `api_key` (required when one is configured; 403 otherwise),
//!   `first_name`/`last_name` (one is required: these requests are about a person),
//!   `email`, `phone`, `description` (≤ 4000 characters), `address_string` or `lat`+`long` or
//!   `address_id` (required only for services about a property, group `Housing`; GeoReport
//!   requires a location for every request, which does not fit a referral of a person),
//!   `device_id`, `account_id`, `media_url`, `attribute[CODE]`. Any other field → 400 naming
//!   it. → 201 `[{"service_request_id": "100001", "service_notice": "...", "account_id":
//!   null}]`.
//! - Idempotency (an extension; GeoReport has none): with an `Idempotency-Key` header, a
//!   repeat of the same key and form → 200 and the same request, creating nothing; the same
//!   key with another form → 422. Without the header every POST creates a request.
//! - `GET /open311/v2/requests/{id}.json` → `[{service_request_id, status, status_notes,
//!   service_name, service_code, agency_responsible, service_notice, requested_datetime,
//!   updated_datetime, expected_datetime}]`; the client's details are never echoed (GeoReport
//!   request lists are public). Unknown id → 404.
//! - `status` is `open | closed`, moved by the sandbox clock ([`crate::ClockConfig`]);
//!   `status_notes` starts with a code, then `: ` and words: open `received`, `accepted`,
//!   `in_progress`; closed `completed` or `declined.REASON` with REASON `no_capacity`,
//!   `not_eligible` or `could_not_contact`. A request to a full service is declined
//!   (`declined.no_capacity`) on arrival.
//! - Errors are GeoReport's `[{"code": 400, "description": "..."}]`.
//!
//! # Sandbox control (never faulted, never authenticated)
//! - `GET /_sandbox/stats` → [`CouncilStats`]; `GET`/`PUT /_sandbox/faults` → [`crate::Faults`].

mod data;
mod hsds;
mod open311;
mod routes;
mod seed;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use open311::CouncilStats;

use crate::clock::{ClockConfig, Stage};
use crate::faults::{FaultInjector, Faults};
use crate::sim::{self, FaultSetup, SimState, Simulator};
use crate::webhook::{Progress, WebhookConfig, WebhookSetup};
use crate::SandboxError;

/// Seed of the council simulator's fault stream, derived from the sandbox seed so that it
/// does not share a stream with the other simulators.
const FAULT_STREAM: u64 = 0xC0C1_0001;

/// Configuration of the council simulator (`[council]` in `config/sandbox.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CouncilSimConfig {
    /// Address to listen on; port 0 picks a free port (see [`crate::Sandbox::council_url`]).
    pub listen: SocketAddr,
    /// When set, `POST /open311/v2/requests.json` needs this GeoReport `api_key` form field.
    pub api_key: Option<String>,
    /// Largest page the directory returns (also the default page size).
    pub max_per_page: usize,
    /// Latency and failure knobs; `capacity` overrides every service's capacity.
    pub faults: Faults,
    /// Where referral events are posted, if anywhere (see the `webhook` module).
    pub webhook: Option<WebhookConfig>,
}

impl Default for CouncilSimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: None,
            max_per_page: 5,
            faults: Faults::default(),
            webhook: None,
        }
    }
}

/// Everything the council simulator's handlers share.
#[derive(Debug)]
pub(crate) struct CouncilState {
    book: Mutex<open311::RequestBook>,
    faults: Arc<FaultInjector>,
    today: Option<NaiveDate>,
    api_key: Option<String>,
    max_per_page: usize,
}

impl CouncilState {
    /// What directory answers depend on now: the date and the capacity knob.
    fn context(&self) -> hsds::Context {
        hsds::Context {
            today: self.today.unwrap_or_else(|| Utc::now().date_naive()),
            capacity: self.faults.get().capacity,
        }
    }

    fn book(&self) -> MutexGuard<'_, open311::RequestBook> {
        sim::lock(&self.book)
    }
}

impl SimState for CouncilState {
    type Stats = CouncilStats;

    fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    fn progress(&self) -> Vec<Progress> {
        self.book().progress()
    }

    fn stats(&self) -> CouncilStats {
        self.book().stats.clone()
    }
}

/// A running council simulator.
pub(crate) type CouncilSim = Simulator<CouncilState>;

/// Starts the simulator on `config.listen`; requests progress on `clock`.
pub(crate) async fn start(
    config: &CouncilSimConfig,
    seed: u64,
    today: Option<NaiveDate>,
    clock: &ClockConfig,
) -> Result<CouncilSim, SandboxError> {
    let book = open311::RequestBook::new(clock.clone(), seed);
    let faults = FaultSetup { faults: config.faults.clone(), seed: seed ^ FAULT_STREAM };
    let state = |faults| CouncilState {
        book: Mutex::new(book),
        faults,
        today,
        api_key: config.api_key.clone(),
        max_per_page: config.max_per_page.max(1),
    };
    let webhook =
        config.webhook.clone().map(|config| WebhookSetup { config, step_ms: clock.step_ms });
    Simulator::start("council", config.listen, faults, webhook, state, routes::router).await
}

impl Simulator<CouncilState> {
    /// Moves a service request to `stage`, whatever the clock says.
    pub(crate) fn set_request_stage(&self, id: &str, stage: Stage) -> Result<(), SandboxError> {
        if self.state().book().force_stage(id, stage) {
            Ok(())
        } else {
            Err(SandboxError::UnknownServiceRequest(id.to_string()))
        }
    }
}

#[cfg(test)]
mod tests;
