//! The partners page (administrators): every enabled partner with its health as the daemon
//! sees it (circuit breaker, calls in flight), the needs and areas it serves, and its plugin.

use axum::extract::State;
use axum::response::Response;
use minijinja::{context, Value};
use serde::Serialize;

use super::{page, Section};
use crate::session::{ConsoleRole, Signed};
use crate::Console;

#[derive(Debug, Serialize)]
struct PartnerRow {
    id: String,
    name: String,
    plugin: String,
    version: String,
    needs: Vec<String>,
    areas: Vec<String>,
    breaker: String,
    in_flight: usize,
    last: Option<String>,
    last_at: Option<String>,
}

/// The last configuration reload, as the page says it.
#[derive(Debug, Serialize)]
struct Reload {
    at: String,
    applied: bool,
    reason: Option<String>,
}

fn outcome(outcome: pathways_core::PartnerOutcome, latency_ms: u64) -> String {
    use pathways_core::PartnerOutcome as O;
    match outcome {
        O::Answered => format!("Answered in {latency_ms} ms"),
        O::TimedOut => format!("Did not answer within {latency_ms} ms"),
        O::Unreachable => "Could not be reached".into(),
        O::Failed => "Answered with an error".into(),
        O::CircuitOpen => "Not asked: paused after failures".into(),
        O::Skipped => "Not asked".into(),
    }
}

/// `GET /partners`
pub async fn show(State(console): State<Console>, signed: Signed) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Admin]) {
        return response;
    }
    let list = console.handle().partners(&signed.caller).await;
    let live = console.handle().live();
    let states = live.orchestrator.partner_states();
    let rows: Vec<PartnerRow> = list
        .partners
        .into_iter()
        .map(|p| {
            let state = states.iter().find(|s| s.partner_id == p.id);
            let in_flight = state.map_or(0, |s| s.in_flight);
            let last = state.and_then(|s| s.last.clone());
            PartnerRow {
                name: live.orchestrator.display_name(&p.id),
                needs: p.needs.iter().map(|n| n.as_str().to_string()).collect(),
                areas: p.areas,
                breaker: p.breaker,
                plugin: p.plugin,
                version: p.version,
                id: p.id,
                in_flight,
                last: last.as_ref().map(|l| outcome(l.outcome, l.latency_ms)),
                last_at: last.map(|l| l.at.to_rfc3339()),
            }
        })
        .collect();
    let reload = console.handle().last_reload().map(|r| Reload {
        at: r.at.to_rfc3339(),
        applied: r.applied,
        reason: r.reason,
    });
    let context = context! {
        title => "Partners",
        partners => Value::from_serialize(&rows),
        reload => reload.as_ref().map(Value::from_serialize),
    };
    page(&console, &signed, Section::Partners, "partners.html", context)
}
