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
            let in_flight = states.iter().find(|s| s.partner_id == p.id).map_or(0, |s| s.in_flight);
            PartnerRow {
                name: live.orchestrator.display_name(&p.id),
                needs: p.needs.iter().map(|n| n.as_str().to_string()).collect(),
                areas: p.areas,
                breaker: p.breaker,
                plugin: p.plugin,
                version: p.version,
                id: p.id,
                in_flight,
            }
        })
        .collect();
    let context = context! { title => "Partners", partners => Value::from_serialize(&rows) };
    page(&console, &signed, Section::Partners, "partners.html", context)
}
