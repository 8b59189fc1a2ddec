//! The plan, made and changed with the client: partners asked at once, the plan in
//! safety-first order with what to say for each step, amendments (choose a fallback, decline,
//! help in-house, the client's own actions and goals), then check-your-answers showing exactly
//! what each partner will receive, then send. Every change goes through the daemon's own
//! operations (`PATCH` plan, the referral intake), as the signed-in person.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{context, Value};
use pathways_core::{ActionPlan, Referral, SharedClient};
use pathways_daemon::ApiError;
use serde::Serialize;
use serde_json::json;

use super::{page, see_other, Section};
use crate::errors;
use crate::form::Errors;
use crate::session::{ConsoleRole, Signed};
use crate::templates;
use crate::Console;

const OWNERS: &[ConsoleRole] = &[ConsoleRole::Pathfinder];

/// The case's reference for headings, or the error page when the person may not see it.
async fn reference(console: &Console, signed: &Signed, id: &str) -> Result<String, Response> {
    Ok(super::owned_case(console, signed, id).await?.case().reference.clone())
}

/// `GET /cases/{id}/plan`
pub async fn show(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = signed.require(OWNERS) {
        return response;
    }
    render(&console, &signed, &id, &Errors::default()).await
}

async fn render(console: &Console, signed: &Signed, id: &str, problems: &Errors) -> Response {
    let reference = match reference(console, signed, id).await {
        Ok(reference) => reference,
        Err(response) => return response,
    };
    let plan = match console.handle().read_plan(&signed.caller, id, None).await {
        Ok(plan) => plan,
        Err(e) if e.code == "no_plan" => {
            let context =
                context! { title => "Ask the partners", id => id, reference => reference };
            return page(console, signed, Section::Home, "planning.html", context);
        }
        Err(e) => return errors::api(e),
    };
    let context = context! {
        title => "Plan",
        id => id,
        reference => reference,
        plan => Value::from_serialize(&plan),
        referable => plan.steps.iter().any(|s| s.is_refer()),
        errors => Value::from_serialize(problems),
    };
    let mut response = page(console, signed, Section::Home, "plan.html", context);
    if !problems.is_empty() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

/// `POST /cases/{id}/plan`: asks every relevant partner at once and stores the next version.
pub async fn make(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = signed.require(OWNERS) {
        return response;
    }
    if let Err(response) = signed.form(&body) {
        return response;
    }
    match console.handle().plan(&signed.caller, &id).await {
        Ok(_) => see_other(&format!("/cases/{id}/plan")),
        Err(e) => errors::api(e),
    }
}

/// `POST /cases/{id}/plan/amend`: one change made with the client.
pub async fn amend(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = signed.require(OWNERS) {
        return response;
    }
    let form = match signed.form(&body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let version: u32 = form.get("version").parse().unwrap_or(0);
    let need_id = form.get("need_id");
    let mut problems = Errors::default();
    let field = |name: &str| format!("{name}-{need_id}");
    let amendment = match form.get("op") {
        "choose" => match form.get("service").split_once('|') {
            Some((partner, service)) => {
                json!({"op": "choose", "need_id": need_id, "partner_id": partner, "service_id": service})
            }
            None => {
                problems.add(field("service"), "Select the service the client chose");
                json!(null)
            }
        },
        "decline" => json!({"op": "decline", "need_id": need_id,
            "reason": non_empty(form.get("reason")).unwrap_or("the client chose not to")}),
        "in_house" => match non_empty(form.get("service")) {
            Some(service) => json!({"op": "in_house", "need_id": need_id, "service": service}),
            None => {
                problems.add(field("in-house"), "Enter how your organisation will help");
                json!(null)
            }
        },
        "client_action" => match non_empty(form.get("text")) {
            Some(text) => json!({"op": "client_action", "text": text}),
            None => {
                problems.add("client-action", "Enter what the client will do");
                json!(null)
            }
        },
        "goal" => match non_empty(form.get("text")) {
            Some(text) => json!({"op": "goal", "text": text}),
            None => {
                problems.add("goal", "Enter the client's goal in their own words");
                json!(null)
            }
        },
        _ => return errors::page(StatusCode::BAD_REQUEST),
    };
    if !problems.is_empty() {
        return render(&console, &signed, &id, &problems).await;
    }
    let body =
        json!({"version": version, "reason": "agreed with the client", "amendments": [amendment]});
    let json = serde_json::to_vec(&body).unwrap_or_default();
    match console.handle().amend_plan(&signed.caller, &id, json).await {
        Ok(_) => see_other(&format!("/cases/{id}/plan")),
        Err(e)
            if e.status == StatusCode::CONFLICT || e.status == StatusCode::UNPROCESSABLE_ENTITY =>
        {
            let mut problems = Errors::default();
            let target =
                if form.get("op") == "choose" { field("service") } else { "main-content".into() };
            problems.add(target, refusal(&e));
            render(&console, &signed, &id, &problems).await
        }
        Err(e) => errors::api(e),
    }
}

fn non_empty(text: &str) -> Option<&str> {
    Some(text).filter(|t| !t.is_empty())
}

/// An amendment's refusal in a pathfinder's words.
fn refusal(error: &ApiError) -> String {
    if error.code == "version_conflict" {
        "Someone else changed this plan while you were looking at it. Check the plan below and make your change again.".into()
    } else {
        let message = error.message.split_once(": ").map_or(error.message.as_str(), |(_, m)| m);
        format!("That change could not be made: {message}")
    }
}

/// A field a referral carries, with its value as the partner will receive it.
#[derive(Debug, Serialize)]
pub struct SharedField {
    /// What it is, as a person reads it.
    pub label: String,
    /// Its value.
    pub value: String,
}

/// What one step would send.
#[derive(Debug, Serialize)]
struct Preview {
    order: u32,
    need: String,
    partner: String,
    service: String,
    fields: Vec<SharedField>,
    needs: Vec<SharedField>,
    contact_via_referrer: bool,
    interpreter: Option<String>,
    refused: Option<String>,
}

/// The client's fields in a referral, each with what it holds: read from the referral the
/// intake would send, so nothing is shown that is not sent and nothing sent is hidden.
pub fn shared_fields(client: &SharedClient) -> Vec<SharedField> {
    let mut rows = Vec::new();
    let mut add = |code: &str, value: Option<String>| {
        if let Some(value) = value {
            rows.push(SharedField { label: templates::field(code), value });
        }
    };
    add("name", client.name.as_ref().map(|v| v.expose().clone()));
    add(
        "date_of_birth",
        client.date_of_birth.as_ref().map(|v| v.expose().format("%-d %B %Y").to_string()),
    );
    add("year_of_birth", client.year_of_birth.as_ref().map(|v| v.expose().to_string()));
    add("postcode", client.postcode.as_ref().map(|v| v.expose().clone()));
    add("address", client.address.as_ref().map(|v| v.expose().clone()));
    add("phone", client.phone.as_ref().map(|v| v.expose().clone()));
    add("email", client.email.as_ref().map(|v| v.expose().clone()));
    add("preferred_language", client.preferred_language.clone());
    add(
        "household",
        client.household.as_ref().map(|h| {
            let children = if h.children_ages.is_empty() {
                "no children".to_string()
            } else {
                let ages: Vec<String> = h.children_ages.iter().map(u8::to_string).collect();
                format!("children aged {}", ages.join(", "))
            };
            format!("{} adult{}, {children}", h.adults, if h.adults == 1 { "" } else { "s" })
        }),
    );
    rows
}

fn preview(
    console: &Console,
    step: &pathways_core::PlanStep,
    built: Result<Referral, ApiError>,
) -> Preview {
    let live = console.handle().live();
    let partner = step.partner_id().map(|p| live.orchestrator.display_name(p)).unwrap_or_default();
    let service = step.service().map(|s| s.name.clone()).unwrap_or_default();
    match built {
        Ok(referral) => Preview {
            order: step.order,
            need: templates::need(step.need.as_str()),
            partner,
            service,
            fields: shared_fields(&referral.client),
            needs: referral
                .needs
                .iter()
                .map(|n| SharedField {
                    label: templates::need(n.code.as_str()),
                    value: n.notes.as_ref().map_or_else(
                        || "Not shared: no notes".to_string(),
                        |notes| notes.expose().clone(),
                    ),
                })
                .collect(),
            contact_via_referrer: referral.client.contact_via_referrer,
            interpreter: referral.interpreter,
            refused: None,
        },
        Err(e) => Preview {
            order: step.order,
            need: templates::need(step.need.as_str()),
            partner,
            service,
            fields: Vec::new(),
            needs: Vec::new(),
            contact_via_referrer: false,
            interpreter: None,
            refused: Some(
                e.message.split_once(": ").map_or(e.message.clone(), |(_, m)| m.to_string()),
            ),
        },
    }
}

/// `GET /cases/{id}/plan/check`: check your answers, with exactly what each partner will
/// receive.
pub async fn check(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = signed.require(OWNERS) {
        return response;
    }
    check_page(&console, &signed, &id, &Errors::default()).await
}

async fn check_page(console: &Console, signed: &Signed, id: &str, problems: &Errors) -> Response {
    let found = match console.handle().preview_referrals(&signed.caller, id).await {
        Ok(found) => found,
        Err(e) if e.code == "no_plan" => return see_other(&format!("/cases/{id}/plan")),
        Err(e) => return errors::api(e),
    };
    let (reference, plan, previews) = (found.reference, found.plan, found.steps);
    let referred = referred_steps(console, id, &plan).await;
    let previews: Vec<Preview> = previews
        .into_iter()
        .map(|(step, built)| {
            let mut preview = preview(console, &step, built);
            if referred.contains(&step.order) && preview.refused.is_none() {
                preview.refused = Some("This step has been referred already.".into());
            }
            preview
        })
        .collect();
    let context = context! {
        title => "Check before sending",
        id => id,
        reference => reference,
        version => plan.version,
        previews => Value::from_serialize(&previews),
        key => uuid::Uuid::new_v4().to_string(),
        errors => Value::from_serialize(problems),
    };
    let mut response = page(console, signed, Section::Home, "check.html", context);
    if !problems.is_empty() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

/// The orders of the plan's steps that have a live or completed referral already.
/// Only for the case's owner: `check_page` has read the case as theirs first (the
/// previews are the owner's alone).
async fn referred_steps(console: &Console, id: &str, plan: &ActionPlan) -> Vec<u32> {
    let Some(case_id) = pathways_store::CaseId::parse(id) else { return Vec::new() };
    let Ok(referrals) = console.handle().store().referrals_of_case(&case_id).await else {
        return Vec::new();
    };
    plan.steps
        .iter()
        .filter(|step| {
            referrals.iter().any(|r| {
                Some(r.partner_id.as_str()) == step.partner_id()
                    && r.needs.first() == Some(&step.need)
                    && !matches!(
                        r.state.as_str(),
                        "rejected" | "failed" | "cancelled" | "entered-in-error"
                    )
            })
        })
        .map(|s| s.order)
        .collect()
}

/// `POST /cases/{id}/referrals`: sends the chosen steps. The form carries an idempotency key
/// made when the page was shown, so pressing the button twice refers once.
pub async fn send(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = signed.require(OWNERS) {
        return response;
    }
    let form = match signed.form(&body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let steps: Vec<u32> = form.all("step").iter().filter_map(|s| s.parse().ok()).collect();
    if steps.is_empty() {
        let mut problems = Errors::default();
        problems.add("steps", "Select at least one referral to send");
        return check_page(&console, &signed, &id, &problems).await;
    }
    let key = form.get("key");
    let json = serde_json::to_vec(&json!({ "steps": steps })).unwrap_or_default();
    match console.handle().refer(&signed.caller, &id, key, json).await {
        Ok(_) => see_other(&format!("/cases/{id}/sent")),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            let mut problems = Errors::default();
            problems.add("steps", refusal(&e));
            check_page(&console, &signed, &id, &problems).await
        }
        Err(e) => errors::api(e),
    }
}

/// `GET /cases/{id}/sent`: the confirmation.
pub async fn sent(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = signed.require(OWNERS) {
        return response;
    }
    let view = match super::owned_case(&console, &signed, &id).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    let context = context! {
        title => "Referrals sent",
        id => id,
        view => Value::from_serialize(&view),
    };
    page(&console, &signed, Section::Home, "sent.html", context)
}
