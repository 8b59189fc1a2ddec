//! Live updates for pages that JavaScript enhances (server-sent events):
//!
//! - making a plan: the browser posts the same form to `/cases/{id}/plan/start`, which starts
//!   the daemon's own planning with an observer and answers where to listen; each partner's
//!   answer is an `answer` event the moment the fan-out has it, then `done` sends the browser
//!   to the plan. Without JavaScript the form posts to `/cases/{id}/plan` and the page comes
//!   back when the plan is made.
//! - a case's referrals: `/cases/{id}/states` sends a `state` event when a referral's state
//!   changes (checked every two seconds while the page is open).
//!
//! A plan's events are for the person who started it only, and are dropped after five minutes
//! unheard.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pathways_core::PartnerOutcome;
use pathways_store::CaseId;
use tokio::sync::mpsc;

use crate::errors;
use crate::session::{ConsoleRole, Signed};
use crate::Console;

/// How long a started plan's events wait for their listener.
const UNHEARD: Duration = Duration::from_secs(300);

/// One event of a plan being made.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    name: &'static str,
    data: serde_json::Value,
}

struct Job {
    user: String,
    started: Instant,
    events: mpsc::UnboundedReceiver<LiveEvent>,
}

/// The plans being made, by job id.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Job>>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let jobs = self.jobs.lock().map_or(0, |j| j.len());
        f.debug_struct("Jobs").field("jobs", &jobs).finish()
    }
}

impl Jobs {
    fn insert(&self, id: String, job: Job) {
        let mut jobs = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        jobs.retain(|_, j| j.started.elapsed() < UNHEARD);
        jobs.insert(id, job);
    }

    fn take(&self, id: &str, user: &str) -> Option<mpsc::UnboundedReceiver<LiveEvent>> {
        let mut jobs = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match jobs.get(id) {
            Some(job) if job.user == user => jobs.remove(id).map(|j| j.events),
            _ => None,
        }
    }
}

/// What a person reads of one partner's answer.
fn answer_text(answer: &pathways_orchestrator::PartnerAnswer) -> String {
    let took = format!("{:.1} s", answer.latency_ms as f64 / 1000.0);
    match answer.outcome {
        PartnerOutcome::Answered => {
            let n = answer.offers.len();
            let services = if n == 1 { "1 service".to_string() } else { format!("{n} services") };
            format!("{} answered in {took}: {services}", answer.name)
        }
        PartnerOutcome::TimedOut => format!("{} did not answer in time", answer.name),
        PartnerOutcome::Skipped => format!("{} is not asked about availability", answer.name),
        _ => format!("{} could not be reached", answer.name),
    }
}

/// `POST /cases/{id}/plan/start` (from JavaScript): starts planning and answers where its
/// events are.
pub async fn start(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Pathfinder]) {
        return response;
    }
    if let Err(response) = signed.form(&body) {
        return response;
    }
    // The same 404 as the plan page for a case the person may not plan.
    if let Err(response) = super::owned_case(&console, &signed, &id).await {
        return response;
    }
    let (sender, receiver) = mpsc::unbounded_channel();
    let job = crate::session::new_token();
    console.jobs().insert(
        job.clone(),
        Job {
            user: signed.user.id.as_str().to_string(),
            started: Instant::now(),
            events: receiver,
        },
    );
    let handle = console.handle().clone();
    let caller = signed.caller.clone();
    let case = id.clone();
    tokio::spawn(async move {
        let tell = sender.clone();
        let observer = move |answer: &pathways_orchestrator::PartnerAnswer| {
            // When the fan-out had the answer (microseconds since 1970 on this machine's clock),
            // so a client on the same machine can measure how long the event took to reach it.
            let observed_us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64);
            let data = serde_json::json!({
                "partner": answer.partner_id,
                "latency_ms": answer.latency_ms,
                "observed_us": observed_us,
                "text": answer_text(answer),
            });
            let _ = tell.send(LiveEvent { name: "answer", data });
        };
        let done = match handle.plan_observed(&caller, &case, &observer).await {
            Ok(plan) => LiveEvent {
                name: "done",
                data: serde_json::json!({
                    "href": format!("/cases/{case}/plan"),
                    "text": format!("The plan is ready: {} steps.", plan.steps.len()),
                }),
            },
            Err(e) => {
                tracing::warn!(code = e.code, "a live plan failed");
                LiveEvent {
                    name: "failed",
                    data: serde_json::json!({ "text": "The plan could not be made. Reload the page and try again." }),
                }
            }
        };
        let _ = sender.send(done);
    });
    let events = format!("/cases/{id}/plan/events/{job}");
    (StatusCode::ACCEPTED, Json(serde_json::json!({ "events": events }))).into_response()
}

/// `GET /cases/{id}/plan/events/{job}`: the plan's events, as they happen.
pub async fn events(
    State(console): State<Console>,
    signed: Signed,
    Path((_id, job)): Path<(String, String)>,
) -> Response {
    let Some(receiver) = console.jobs().take(&job, signed.user.id.as_str()) else {
        return errors::page(StatusCode::NOT_FOUND);
    };
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        let event = receiver.recv().await?;
        let sse = Event::default().event(event.name).data(event.data.to_string());
        Some((Ok::<_, Infallible>(sse), receiver))
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// `GET /cases/{id}/states`: a `state` event whenever one of the case's referrals changes
/// state, while the page is open.
pub async fn states(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Pathfinder]) {
        return response;
    }
    if let Err(response) = super::owned_case(&console, &signed, &id).await {
        return response;
    }
    let Some(case_id) = CaseId::parse(&id) else { return errors::page(StatusCode::NOT_FOUND) };
    let store = console.handle().store().clone();
    let known: HashMap<String, String> = HashMap::new();
    let stream = futures::stream::unfold(
        (store, case_id, known, Vec::<Event>::new()),
        |(store, case_id, mut known, mut pending)| async move {
            loop {
                if let Some(event) = pending.pop() {
                    return Some((Ok::<_, Infallible>(event), (store, case_id, known, pending)));
                }
                let referrals = store.referrals_of_case(&case_id).await.ok()?;
                for r in referrals {
                    let state = r.state.as_str().to_string();
                    let id = r.id.to_string();
                    let changed = known.get(&id).is_some_and(|s| *s != state);
                    known.insert(id.clone(), state.clone());
                    if changed {
                        let data = serde_json::json!({ "referral": id, "label": crate::templates::state(&state) });
                        pending.push(Event::default().event("state").data(data.to_string()));
                    }
                }
                if pending.is_empty() {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}
