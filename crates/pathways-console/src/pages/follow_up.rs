//! A follow-up with the client (`GET`/`POST /cases/{id}/follow-up`): whether each need was met,
//! in their words, and the ONS4 wellbeing questions again, through the daemon's
//! `POST /v1/cases/{id}/follow-ups`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{context, Value};
use pathways_core::NeedMet;
use serde_json::json;

use super::case_new::{read_wellbeing, ONS4};
use super::{form_page, pathfinder_form, see_other};
use crate::errors;
use crate::form::{Errors, Form};
use crate::session::{ConsoleRole, Signed};
use crate::Console;

/// `GET /cases/{id}/follow-up`
pub async fn form(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Pathfinder]) {
        return response;
    }
    render(&console, &signed, &id, &Errors::default(), &Form::default()).await
}

async fn render(
    console: &Console,
    signed: &Signed,
    id: &str,
    problems: &Errors,
    posted: &Form,
) -> Response {
    let view = match console.handle().case_with_referrals(&signed.caller, id).await {
        Ok((view, _)) => view,
        Err(e) => return errors::api(e),
    };
    let needs: Vec<serde_json::Value> = view
        .case()
        .needs
        .iter()
        .map(|n| json!({"id": n.id, "words": crate::templates::need(n.code.as_str()).to_lowercase()}))
        .collect();
    let mut met_options: Vec<[&str; 2]> =
        NeedMet::ALL.iter().map(|m| [m.as_str(), m.describe()]).collect();
    met_options.push(["", "Not asked, or they did not say"]);
    let context = context! {
        title => "Follow up with the client",
        id => id,
        reference => view.case().reference.clone(),
        needs => needs,
        met_options => met_options,
        ons4 => ONS4,
        values => posted.values(),
        errors => Value::from_serialize(problems),
    };
    form_page(console, signed, "follow_up.html", context, problems, StatusCode::BAD_REQUEST)
}

/// `POST /cases/{id}/follow-up`
pub async fn submit(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = match pathfinder_form(&signed, &body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let mut problems = Errors::default();
    let wellbeing = read_wellbeing(&form, &mut problems);
    let mut needs = Vec::new();
    for (name, value) in form.pairs() {
        let Some(need_id) = name.strip_prefix("met-") else { continue };
        if value.is_empty() {
            continue;
        }
        if NeedMet::ALL.iter().any(|m| m.as_str() == value) {
            needs.push(json!({"need_id": need_id, "met": value}));
        } else {
            problems.add(name.clone(), "Select one of the answers");
        }
    }
    if problems.is_empty() && wellbeing.is_none() && needs.is_empty() {
        problems.add("main-content", "Record at least one answer: a need, or how they feel");
    }
    if !problems.is_empty() {
        return render(&console, &signed, &id, &problems, &form).await;
    }
    let mut body = json!({"needs": needs, "recorded_by": signed.user.id.as_str()});
    if let Some(wellbeing) = wellbeing {
        body["wellbeing"] = wellbeing;
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    match console.handle().record_follow_up(&signed.caller, &id, bytes).await {
        Ok(_) => see_other(&format!("/cases/{id}")),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            problems.add("main-content", e.message.clone());
            render(&console, &signed, &id, &problems, &form).await
        }
        Err(e) => errors::api(e),
    }
}
