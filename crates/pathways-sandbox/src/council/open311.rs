//! Open311 GeoReport v2 service requests: checking a `POST /requests.json` form, the
//! idempotency record that makes a repeat harmless, and where each request has got to on the
//! sandbox clock.
//!
//! Errors are GeoReport's: a JSON array of `{"code", "description"}`. Descriptions name
//! fields, never their values, because a value may be personal.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::data::{self, ServiceSeed};
use super::hsds;
use crate::clock::{ClockConfig, RejectReason, Stage};
use crate::idempotency::PostCounts;
use crate::idempotency::{IdempotencyRecord, Replay};
use crate::webhook::Progress;
use crate::CapacityOverride;

/// The local authorities this endpoint serves, as GeoReport `jurisdiction_id`s.
pub(crate) const JURISDICTIONS: &[&str] = &["E09000020", "E06000051", "E07000027"];

/// Form fields GeoReport v2 defines for `POST /requests.json` (plus `attribute[...]`).
const FIELDS: &[&str] = &[
    "api_key",
    "jurisdiction_id",
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "email",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "phone",
    "description",
    "media_url",
];

/// GeoReport's limit on `description`.
const MAX_DESCRIPTION: usize = 4000;

/// Counts of Open311 traffic, for exactly-once and pagination tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouncilStats {
    /// Every `POST /open311/v2/requests.json` received, including those answered by an
    /// injected fault and those refused.
    pub total_posts: u64,
    /// Distinct `Idempotency-Key` values among those POSTs.
    pub distinct_keys: u64,
    /// Service requests created; a repeated key never creates another.
    pub requests_created: u64,
    /// POSTs received per `Idempotency-Key`.
    pub posts_per_key: BTreeMap<String, u64>,
    /// Every `GET /hsds/services` received (one per page a connector reads).
    pub service_list_requests: u64,
}

impl PostCounts for CouncilStats {
    fn post_counters(&mut self) -> (&mut u64, &mut u64, &mut BTreeMap<String, u64>) {
        (&mut self.total_posts, &mut self.distinct_keys, &mut self.posts_per_key)
    }
}

/// A GeoReport error: its HTTP status and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub description: String,
}

impl Refusal {
    fn new(status: u16, description: impl Into<String>) -> Self {
        Self { status, description: description.into() }
    }

    /// The GeoReport error body.
    pub(crate) fn body(&self) -> Value {
        json!([{"code": self.status, "description": self.description}])
    }
}

/// What a POST came to.
#[derive(Debug)]
pub(crate) enum PostOutcome {
    /// A new request (201).
    Created(Value),
    /// The request an earlier POST with the same key and form created (200).
    Repeated(Value),
    /// Refused.
    Refused(Refusal),
}

/// One service request.
#[derive(Debug, Clone)]
struct ServiceRequest {
    id: String,
    service: &'static ServiceSeed,
    arrived: Instant,
    requested_at: DateTime<Utc>,
    /// Declined on arrival because the service was full.
    full_on_arrival: bool,
    /// A stage set through the sandbox, winning over the clock.
    forced: Option<Stage>,
}

/// Every request, every idempotency key, and the statistics.
#[derive(Debug)]
pub(crate) struct RequestBook {
    requests: HashMap<String, ServiceRequest>,
    by_key: IdempotencyRecord<Vec<(String, String)>>,
    next_id: u64,
    clock: ClockConfig,
    seed: u64,
    pub stats: CouncilStats,
}

impl RequestBook {
    /// An empty book whose requests progress on `clock`.
    pub(crate) fn new(clock: ClockConfig, seed: u64) -> Self {
        Self {
            requests: HashMap::new(),
            by_key: IdempotencyRecord::default(),
            next_id: 100_001,
            clock,
            seed,
            stats: CouncilStats::default(),
        }
    }

    /// Handles a `POST /requests.json` form under an optional `Idempotency-Key`.
    pub(crate) fn post(
        &mut self,
        key: Option<&str>,
        form: Vec<(String, String)>,
        api_key: Option<&str>,
        capacity: Option<CapacityOverride>,
    ) -> PostOutcome {
        let fields: HashMap<&str, &str> =
            form.iter().map(|(k, v)| (k.as_str(), v.trim())).collect();
        if let Some(expected) = api_key {
            if fields.get("api_key") != Some(&expected) {
                return PostOutcome::Refused(Refusal::new(403, "api_key is missing or invalid"));
            }
        }
        // The idempotency record ignores the key: a rotated API key does not make it a new request.
        let mut fingerprint: Vec<(String, String)> =
            form.iter().filter(|(k, _)| k != "api_key").cloned().collect();
        fingerprint.sort();
        match key.map_or(Replay::Fresh, |k| self.by_key.replay(k, &fingerprint)) {
            Replay::Fresh => {}
            Replay::KeyReused => {
                return PostOutcome::Refused(Refusal::new(
                    422,
                    "this Idempotency-Key was used with a different request",
                ))
            }
            Replay::Same(id) => {
                return match self.requests.get(id) {
                    Some(request) => PostOutcome::Repeated(receipt(request)),
                    None => PostOutcome::Refused(Refusal::new(500, "request lost")),
                }
            }
        }
        let service = match check(&form, &fields) {
            Ok(service) => service,
            Err(refusal) => return PostOutcome::Refused(refusal),
        };
        let full = hsds::effective_capacity(service, capacity)
            .is_some_and(|c| c.available == 0 && c.waitlist.unwrap_or(0) == 0);
        let id = self.next_id.to_string();
        self.next_id += 1;
        let request = ServiceRequest {
            id: id.clone(),
            service,
            arrived: Instant::now(),
            requested_at: Utc::now(),
            full_on_arrival: full,
            forced: None,
        };
        let answer = receipt(&request);
        self.requests.insert(id.clone(), request);
        if let Some(key) = key {
            self.by_key.remember(key, fingerprint, id);
        }
        self.stats.requests_created += 1;
        PostOutcome::Created(answer)
    }

    /// `GET /requests/{id}.json`: the request as GeoReport shows it, or `None`.
    pub(crate) fn request(&self, id: &str) -> Option<Value> {
        let request = self.requests.get(id)?;
        let stage = self.stage(request);
        let (status, notes, steps) = match stage {
            Stage::Received => ("open", "received: The request is with the referrals team.", 0),
            Stage::Accepted => ("open", "accepted: Allocated to a caseworker.", 1),
            Stage::InProgress => {
                ("open", "in_progress: A caseworker is working with the client.", 2)
            }
            Stage::Completed => ("closed", "completed: Support given; the case is closed.", 3),
            Stage::Rejected(RejectReason::NoCapacity) => {
                ("closed", "declined.no_capacity: The service is full.", 1)
            }
            Stage::Rejected(RejectReason::NotEligible) => {
                ("closed", "declined.not_eligible: The client does not meet the criteria.", 1)
            }
            Stage::Rejected(RejectReason::CouldNotContact) => {
                ("closed", "declined.could_not_contact: We could not reach the client.", 1)
            }
        };
        let step = Duration::from_millis(self.clock.step_ms.saturating_mul(steps));
        let updated = request.requested_at + chrono::Duration::from_std(step).unwrap_or_default();
        let code = request.service.open311.map(|o| o.code).unwrap_or_default();
        let agency = data::organisation(request.service.organisation).map(|o| o.name);
        Some(json!([{
            "service_request_id": request.id,
            "status": status,
            "status_notes": notes,
            "service_name": request.service.name,
            "service_code": code,
            "agency_responsible": agency,
            "service_notice": SERVICE_NOTICE,
            "requested_datetime": request.requested_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "updated_datetime": updated.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "expected_datetime": null,
        }]))
    }

    /// Where every request stands now, as referral events tell it (by `service_request_id`).
    pub(crate) fn progress(&self) -> Vec<Progress> {
        self.requests
            .values()
            .map(|request| {
                // Declined on arrival or forced: it got there in one step.
                let step_ms = if request.full_on_arrival { 0 } else { self.clock.step_ms };
                Progress::on_clock(&request.id, self.stage(request), request.requested_at, step_ms)
                    .in_area(request.service.area)
            })
            .collect()
    }

    /// Forces a request to `stage`; `false` if there is no such request.
    pub(crate) fn force_stage(&mut self, id: &str, stage: Stage) -> bool {
        match self.requests.get_mut(id) {
            Some(request) => {
                request.forced = Some(stage);
                true
            }
            None => false,
        }
    }

    fn stage(&self, request: &ServiceRequest) -> Stage {
        if let Some(stage) = request.forced {
            return stage;
        }
        if request.full_on_arrival {
            return Stage::Rejected(RejectReason::NoCapacity);
        }
        self.clock.stage(self.seed, &request.id, request.arrived.elapsed())
    }
}

const SERVICE_NOTICE: &str = "We aim to contact the client within five working days.";

/// The answer to a POST that created (or had created) `request`.
fn receipt(request: &ServiceRequest) -> Value {
    json!([{"service_request_id": request.id, "service_notice": SERVICE_NOTICE, "account_id": null}])
}

/// Checks a POST form against GeoReport v2 and the service it names.
fn check(
    form: &[(String, String)],
    fields: &HashMap<&str, &str>,
) -> Result<&'static ServiceSeed, Refusal> {
    let bad = |description: String| Err(Refusal::new(400, description));
    if let Some((name, _)) = form.iter().find(|(k, _)| !is_known_field(k)) {
        return bad(format!("unknown field `{name}`"));
    }
    if let Some(name) = duplicate(form) {
        return bad(format!("field `{name}` given more than once"));
    }
    let given = |name: &str| fields.get(name).copied().filter(|v| !v.is_empty());
    let jurisdiction = given("jurisdiction_id");
    if jurisdiction.is_some_and(|j| !JURISDICTIONS.contains(&j)) {
        return Err(Refusal::new(404, "jurisdiction_id not found"));
    }
    let Some(code) = given("service_code") else {
        return bad("service_code is required".into());
    };
    let Some(service) = data::service_by_code(code) else {
        return Err(Refusal::new(404, "service_code not found"));
    };
    if jurisdiction.is_some_and(|j| j != service.area) {
        return bad("service_code is not offered in jurisdiction_id".into());
    }
    if service.status != "active" {
        return bad("this service is not taking requests".into());
    }
    let has_lat_long = match (given("lat"), given("long")) {
        (None, None) => false,
        (Some(lat), Some(long)) => {
            let ok = |v: &str, limit: f64| v.parse::<f64>().is_ok_and(|n| n.abs() <= limit);
            if !ok(lat, 90.0) || !ok(long, 180.0) {
                return bad("lat and long must be decimal degrees".into());
            }
            true
        }
        _ => return bad("lat and long must be given together".into()),
    };
    let located =
        has_lat_long || given("address_string").is_some() || given("address_id").is_some();
    if service.open311.is_some_and(|o| o.needs_location) && !located {
        return bad("a location is required: address_string, lat and long, or address_id".into());
    }
    if given("first_name").is_none() && given("last_name").is_none() {
        return bad("first_name or last_name is required for a request about a person".into());
    }
    if fields.get("description").is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        return bad(format!("description is longer than {MAX_DESCRIPTION} characters"));
    }
    Ok(service)
}

fn is_known_field(name: &str) -> bool {
    FIELDS.contains(&name)
        || name
            .strip_prefix("attribute[")
            .and_then(|rest| rest.strip_suffix(']'))
            .is_some_and(|code| !code.is_empty())
}

fn duplicate(form: &[(String, String)]) -> Option<&str> {
    form.iter()
        .enumerate()
        .find(|(i, (k, _))| form[..*i].iter().any(|(earlier, _)| earlier == k))
        .map(|(_, (k, _))| k.as_str())
}

/// `GET /services.json`: the services taking requests, optionally in one jurisdiction.
pub(crate) fn service_list(jurisdiction: Option<&str>) -> Vec<Value> {
    data::services()
        .iter()
        .filter(|s| s.status == "active" && jurisdiction.is_none_or(|j| j == s.area))
        .filter_map(|s| {
            let o = s.open311?;
            Some(json!({
                "service_code": o.code,
                "service_name": s.name,
                "description": s.description,
                "metadata": false,
                "type": "realtime",
                "keywords": o.keywords,
                "group": o.group,
            }))
        })
        .collect()
}
