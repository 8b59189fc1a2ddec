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
    /// Where its plugin runs, in words: in the daemon, or in a plugin host child and how that
    /// has fared.
    runs: String,
    /// Whether its plugin host has died since the configuration was loaded.
    host_died: bool,
}

/// Where a partner's plugin runs, for an administrator.
fn runs(host: Option<&pathways_core::PluginHostState>) -> String {
    let Some(host) = host else { return "In the daemon".into() };
    let now = match host.pid {
        Some(pid) => format!("In a process of its own (process {pid})"),
        None => "In a process of its own, being restarted".into(),
    };
    match (host.deaths, &host.last_death) {
        (0, _) => now,
        (1, Some(how)) => format!("{now}. It stopped once: {how}"),
        (n, Some(how)) => format!("{now}. It stopped {n} times, last: {how}"),
        (n, None) => format!("{now}. It stopped {n} times"),
    }
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
            let host = state.and_then(|s| s.plugin_host.as_ref());
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
                runs: runs(host),
                host_died: host.is_some_and(|h| h.deaths > 0),
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
