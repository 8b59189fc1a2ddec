//! The client's copy: their plan in their words and language (the plan's sentences come from
//! the message catalogue in the client's language), each service's contact details and when
//! to expect contact, for printing on A4 or reading on screen. It shows only this client's
//! plan, and marks as shared only the referrals actually sent.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{context, Value};
use std::collections::HashMap;

use pathways_orchestrator::messages::Arg;
use pathways_store::{AuditAction, AuditOutcome, CaseId};

use super::{page, Section};
use crate::errors;
use crate::session::{ConsoleRole, Signed};
use crate::Console;

/// `GET /cases/{id}/copy`
pub async fn show(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Pathfinder]) {
        return response;
    }
    let view = match super::owned_case(&console, &signed, &id).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    let plan = match console.handle().read_plan(&signed.caller, &id, None).await {
        Ok(plan) => plan,
        Err(e) => return errors::api(e),
    };
    let Some(case_id) = CaseId::parse(&id) else { return errors::page(StatusCode::NOT_FOUND) };
    let referrals = match console.handle().store().referrals_of_case(&case_id).await {
        Ok(referrals) => referrals,
        Err(e) => return errors::store_failed(e),
    };
    // A step is "sent" only when a referral for it exists and is not over without help.
    let sent: Vec<u32> = plan
        .steps
        .iter()
        .filter(|step| {
            referrals.iter().any(|r| {
                Some(r.partner_id.as_str()) == step.partner_id()
                    && r.needs.first() == Some(&step.need)
                    && !matches!(r.state.as_str(), "failed" | "cancelled" | "entered-in-error")
            })
        })
        .map(|s| s.order)
        .collect();
    console
        .handle()
        .audit(&signed.caller, AuditAction::ClientCopy, Some(&case_id), AuditOutcome::Ok)
        .await;
    let live = console.handle().live();
    let organisation = live.orchestrator.display_name(&view.case().referrer.organisation);
    // Every sentence in the client's language from the message catalogue (English where it
    // has no word yet), as the plan's own sentences are.
    let words = live.orchestrator.messages().language(&plan.language);
    let text = |s: &str| Arg::Text(s.to_string());
    let first_name =
        view.case().client.name.expose().split_whitespace().next().unwrap_or("").to_string();
    let today = chrono::Utc::now().date_naive();
    let title = if first_name.is_empty() {
        words.plain("copy-title")
    } else {
        words.get("copy-title-named", &[("name", text(&first_name))])
    };
    let referred: HashMap<String, String> = plan
        .steps
        .iter()
        .filter(|step| step.is_refer())
        .map(|step| {
            let partner = step.chosen().map(|c| c.partner.name.clone()).unwrap_or_default();
            let start = match &step.action {
                pathways_core::StepAction::Refer(r) => {
                    r.wait.as_ref().and_then(|w| w.earliest_start)
                }
                _ => None,
            };
            let line = match (sent.contains(&step.order), start) {
                (true, Some(day)) => words.get(
                    "copy-passed-from",
                    &[("partner", text(&partner)), ("date", text(&words.date(day, today)))],
                ),
                (true, None) => words.get("copy-passed", &[("partner", text(&partner))]),
                (false, _) => words.get("copy-not-sent", &[("partner", text(&partner))]),
            };
            (step.order.to_string(), line)
        })
        .collect();
    let made_on = words.date(plan.planned_on, today);
    let copy = context! {
        title => title,
        made_with => words.get(
            "copy-made-with",
            &[("organisation", text(&organisation)), ("date", text(&made_on))],
        ),
        goals => words.plain("copy-goals"),
        steps => words.plain("copy-steps"),
        actions => words.plain("copy-actions"),
        contact_us => words.get("copy-contact-us", &[("organisation", text(&organisation))]),
        referred => referred,
    };
    let context = context! {
        title => "Your plan",
        id => id,
        plan => Value::from_serialize(&plan),
        copy => copy,
        language => &view.case().client.preferred_language,
    };
    page(&console, &signed, Section::Home, "copy.html", context)
}
