//! Consent withdrawn, narrowed or widened (`GET`/`POST /cases/{id}/consent`), and accepting a
//! re-route after a rejection (`POST /cases/{id}/reroute`): both through the daemon's own
//! handlers (`PUT /v1/cases/{id}/consent`, `POST /v1/referrals/{id}/reroute`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{context, Value};
use pathways_core::ShareWith;
use pathways_store::ReferralId;

use super::case_new::{partner_options, read_consent};
use super::{form_page, pathfinder_form, see_other};
use crate::errors;
use crate::form::Errors;
use crate::session::{ConsoleRole, Signed};
use crate::Console;

/// `GET /cases/{id}/consent`: the consent fields, filled with what the client agreed last.
pub async fn form(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Pathfinder]) {
        return response;
    }
    render(&console, &signed, &id, &Errors::default(), None).await
}

async fn render(
    console: &Console,
    signed: &Signed,
    id: &str,
    problems: &Errors,
    posted: Option<&crate::form::Form>,
) -> Response {
    let (view, referrals) = match console.handle().case_with_referrals(&signed.caller, id).await {
        Ok(found) => found,
        Err(e) => return errors::api(e),
    };
    let consent = &view.case().consent;
    let (values, chosen): (HashMap<String, String>, Vec<String>) = match posted {
        Some(form) => {
            (form.values(), form.all("share_partner").into_iter().map(str::to_string).collect())
        }
        None => {
            let (share, chosen) = match &consent.share_with {
                ShareWith::PlannedPartners => ("planned_partners", Vec::new()),
                ShareWith::None => ("none", Vec::new()),
                ShareWith::Partners(ids) => ("some", ids.clone()),
            };
            let basis = serde_json::to_value(consent.lawful_basis).unwrap_or_default();
            let values = HashMap::from([
                ("share".to_string(), share.to_string()),
                ("basis".to_string(), basis.as_str().unwrap_or_default().to_string()),
            ]);
            (values, chosen)
        }
    };
    let live = console.handle().live();
    let live_referrals: Vec<String> = referrals
        .iter()
        .filter(|r| !r.state().is_final())
        .map(|r| live.orchestrator.display_name(r.partner_id()))
        .collect();
    let context = context! {
        title => "Change what the client agreed",
        id => id,
        reference => view.case().reference.clone(),
        values => values,
        share_partners_chosen => chosen,
        partner_options => partner_options(console),
        live => live_referrals,
        errors => Value::from_serialize(problems),
    };
    form_page(console, signed, "case_consent.html", context, problems, StatusCode::BAD_REQUEST)
}

/// `POST /cases/{id}/consent`
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
    let (basis, share_with) = read_consent(&form, &mut problems);
    if !problems.is_empty() {
        return render(&console, &signed, &id, &problems, Some(&form)).await;
    }
    let body = serde_json::json!({
        "lawful_basis": basis,
        "share_with": share_with,
        "recorded_by": signed.user.id.as_str(),
    });
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    match console.handle().replace_consent(&signed.caller, &id, bytes).await {
        Ok(_) => see_other(&format!("/cases/{id}")),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            problems.add("share", e.message.clone());
            render(&console, &signed, &id, &problems, Some(&form)).await
        }
        Err(e) => errors::api(e),
    }
}

/// `POST /cases/{id}/reroute`: refers a refused referral's step to the plan's next service.
pub async fn reroute(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = match pathfinder_form(&signed, &body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let Some(referral) = ReferralId::parse(form.get("referral")) else {
        return errors::page(StatusCode::BAD_REQUEST);
    };
    match console.handle().reroute(&signed.caller, &referral).await {
        // A second click finds it done already: the case shows the new referral either way.
        Ok(()) => see_other(&format!("/cases/{id}")),
        Err(e) if e.code == "nothing_to_reroute" => see_other(&format!("/cases/{id}")),
        Err(e) => errors::api(e),
    }
}
