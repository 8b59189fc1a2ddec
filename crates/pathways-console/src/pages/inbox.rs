//! Staff of a partner without an API (`kind = "inbox"`): the referral sent to them, with the
//! form to answer it and move it on, and the page where they say how much capacity they have.
//! Both call the daemon's own operations, which check the move, record it as the partner's
//! report and audit it.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{context, Value};
use pathways_core::TaskState;
use pathways_daemon::access::{PartnerReferralView, ReferralViews};
use pathways_daemon::PartnerUpdate;
use pathways_inbox::transitions;
use pathways_store::{CapacityState, ReferralId};

use super::{page, see_other, Section};
use crate::errors;
use crate::form::Errors;
use crate::session::{ConsoleRole, Signed};
use crate::Console;

/// What staff pick for moving a referral to `state`.
fn choice(state: TaskState) -> &'static str {
    match state {
        TaskState::Accepted => "Accept it: we will help",
        TaskState::Rejected => "Decline it: we cannot help",
        TaskState::InProgress => "Help has started",
        TaskState::OnHold => "Put it on hold",
        TaskState::Completed => "Completed: the client was helped",
        TaskState::Failed => "It did not work out",
        _ => "",
    }
}

/// The errors as the templates read them: the summary's list, and each field's message.
fn errors_value(problems: &Errors) -> Value {
    context! { list => Value::from_serialize(&problems.list), by_field => problems.by_field() }
}

/// The receiving partner's page of a referral: exactly what was sent, and for an inbox
/// partner's staff the form to answer it while its state allows a move.
pub fn partner_page(
    console: &Console,
    signed: &Signed,
    view: &PartnerReferralView,
    problems: &Errors,
    values: &HashMap<String, String>,
) -> Response {
    let live = console.handle().live();
    let shared = super::plan::shared_fields(&view.sent().client);
    let inbox = console.handle().is_inbox_partner(&signed.user.organisation);
    let moves: Vec<[&str; 2]> = if inbox {
        transitions::allowed(view.state()).iter().map(|s| [s.as_str(), choice(*s)]).collect()
    } else {
        Vec::new()
    };
    let reasons: Vec<[&str; 2]> = transitions::REASONS.iter().map(|(_, c, w)| [*c, *w]).collect();
    let context = context! {
        title => "Referral",
        owner => false,
        referral => Value::from_serialize(view),
        shared => Value::from_serialize(&shared),
        referrer => live.orchestrator.display_name(&view.sent().referrer.organisation),
        inbox => inbox,
        moves => Value::from_serialize(&moves),
        reasons => Value::from_serialize(&reasons),
        reason_words => view_reason(view),
        note_max => transitions::NOTE_MAX,
        errors => errors_value(problems),
        values => Value::from_serialize(values),
    };
    let mut response = page(console, signed, Section::Home, "referral.html", context);
    if !problems.is_empty() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

/// The referral's reason now, in words.
fn view_reason(view: &PartnerReferralView) -> Option<&'static str> {
    let json = serde_json::to_value(view).ok()?;
    let code = json["reason"].as_str()?.to_string();
    transitions::REASONS.iter().find(|(_, c, _)| *c == code).map(|(_, _, w)| *w)
}

/// `POST /referrals/{id}/answer`: an inbox partner's staff answer a referral or move it on.
pub async fn answer(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Partner]) {
        return response;
    }
    let form = match signed.form(&body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let Some(rid) = ReferralId::parse(&id) else { return errors::page(StatusCode::NOT_FOUND) };
    let view = match console.handle().referral(&signed.caller, &rid).await {
        Ok(ReferralViews::Partner(view)) => view,
        Ok(ReferralViews::Owner(_)) => return errors::page(StatusCode::NOT_FOUND),
        Err(e) => return errors::api(e),
    };
    if !console.handle().is_inbox_partner(&signed.user.organisation) {
        return errors::page(StatusCode::FORBIDDEN);
    }
    let mut problems = Errors::default();
    let allowed = transitions::allowed(view.state());
    let state = allowed.iter().copied().find(|s| s.as_str() == form.get("state"));
    match state {
        None if allowed.is_empty() => problems.add(
            "state",
            "This referral has finished, or was withdrawn by the referrer: it cannot change now",
        ),
        None => problems.add("state", "Select what has happened"),
        Some(_) => {}
    }
    let reason = transitions::reason(form.get("reason"));
    if state.is_some_and(transitions::needs_reason) && reason.is_none() {
        problems.add("reason", "Select why");
    }
    let note = form.get("note");
    if note.chars().count() > transitions::NOTE_MAX {
        problems
            .add("note", format!("The note must be {} characters or fewer", transitions::NOTE_MAX));
    }
    let (Some(state), true) = (state, problems.is_empty()) else {
        return partner_page(&console, &signed, &view, &problems, &form.values());
    };
    let update =
        PartnerUpdate { state, reason, note: Some(note.to_string()).filter(|n| !n.is_empty()) };
    match console.handle().partner_update(&signed.caller, &rid, &update).await {
        Ok(_) => see_other(&format!("/referrals/{id}")),
        Err(e) if e.code == "transition_refused" => {
            // The referral moved meanwhile (the referrer withdrew it, a colleague answered):
            // show it as it is now, and say why nothing changed.
            let mut problems = Errors::default();
            problems.add("state", format!("Nothing was changed: {}", e.message));
            match console.handle().referral(&signed.caller, &rid).await {
                Ok(ReferralViews::Partner(view)) => {
                    partner_page(&console, &signed, &view, &problems, &form.values())
                }
                _ => errors::page(StatusCode::CONFLICT),
            }
        }
        Err(e) => errors::api(e),
    }
}

/// `GET /capacity`: an inbox partner's capacity, to change.
pub async fn capacity_form(State(console): State<Console>, signed: Signed) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Partner]) {
        return response;
    }
    let current = match console.handle().partner_capacity(&signed.caller).await {
        Ok(current) => current,
        Err(e) => return errors::api(e),
    };
    let mut values = HashMap::new();
    if let Some(c) = &current {
        values.insert("state".to_string(), c.state.as_str().to_string());
        let count = c.count.map(|n| n.to_string()).unwrap_or_default();
        let field = if c.state == CapacityState::Waitlist { "waiting" } else { "places" };
        values.insert(field.to_string(), count);
        values.insert("note".to_string(), c.note.clone().unwrap_or_default());
    }
    capacity_page(&console, &signed, &Errors::default(), &values)
}

fn capacity_page(
    console: &Console,
    signed: &Signed,
    problems: &Errors,
    values: &HashMap<String, String>,
) -> Response {
    let states: Vec<[&str; 2]> = vec![
        ["places", "We have places: new clients can start"],
        ["waitlist", "We are full, with a waiting list"],
        ["closed", "We are not taking new referrals"],
    ];
    let context = context! {
        title => "Your capacity",
        states => Value::from_serialize(&states),
        errors => errors_value(problems),
        values => Value::from_serialize(values),
        note_max => transitions::NOTE_MAX,
    };
    let mut response = page(console, signed, Section::Home, "capacity.html", context);
    if !problems.is_empty() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

/// `POST /capacity`
pub async fn capacity_save(
    State(console): State<Console>,
    signed: Signed,
    body: Bytes,
) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Partner]) {
        return response;
    }
    let form = match signed.form(&body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    if !console.handle().is_inbox_partner(&signed.user.organisation) {
        return errors::page(StatusCode::FORBIDDEN);
    }
    let mut problems = Errors::default();
    let state = CapacityState::parse(form.get("state"));
    if state.is_none() {
        problems.add("state", "Select whether you can take new referrals");
    }
    let count_field = match state {
        Some(CapacityState::Places) => Some("places"),
        Some(CapacityState::Waitlist) => Some("waiting"),
        _ => None,
    };
    let mut count = None;
    if let Some(field) = count_field {
        let text = form.get(field);
        if !text.is_empty() {
            match text.parse::<u32>() {
                Ok(n) if n <= pathways_daemon::INBOX_COUNT_MAX => count = Some(n),
                _ => problems.add(field, "Enter a whole number, like 4, or leave it empty"),
            }
        }
    }
    let note = form.get("note");
    if note.chars().count() > transitions::NOTE_MAX {
        problems
            .add("note", format!("The note must be {} characters or fewer", transitions::NOTE_MAX));
    }
    let (Some(state), true) = (state, problems.is_empty()) else {
        return capacity_page(&console, &signed, &problems, &form.values());
    };
    let note = Some(note.to_string()).filter(|n| !n.is_empty());
    match console.handle().set_partner_capacity(&signed.caller, state, count, note).await {
        Ok(_) => see_other("/"),
        Err(e) => errors::api(e),
    }
}

/// What the partner home says of an inbox partner's capacity, or `None` for another partner.
pub async fn capacity_summary(console: &Console, signed: &Signed) -> Option<Value> {
    if !console.handle().is_inbox_partner(&signed.user.organisation) {
        return None;
    }
    let current = console.handle().partner_capacity(&signed.caller).await.ok().flatten();
    let words = match &current {
        None => "You have not said yet: pathfinders see your capacity as unknown".to_string(),
        Some(c) => match (c.state, c.count) {
            (CapacityState::Places, Some(1)) => "1 place free".to_string(),
            (CapacityState::Places, Some(n)) => format!("{n} places free"),
            (CapacityState::Places, None) => "Places free".to_string(),
            (CapacityState::Waitlist, Some(n)) => format!("Waiting list: {n} waiting"),
            (CapacityState::Waitlist, None) => "Waiting list".to_string(),
            (CapacityState::Closed, _) => "Not taking new referrals".to_string(),
        },
    };
    Some(context! {
        words => words,
        note => current.as_ref().and_then(|c| c.note.clone()),
        set_at => current.as_ref().map(|c| c.set_at.to_rfc3339()),
    })
}
