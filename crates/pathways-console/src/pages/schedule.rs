//! The follow-up schedule a coordinator sets for the organisation (`/follow-up-schedule`):
//! how many weeks after a client's last referral ends they are due a follow-up. Pathfinders
//! see the clients due on their home page.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{context, Value};

use super::{page, see_other, Section};
use crate::errors;
use crate::form::Errors;
use crate::session::{ConsoleRole, Signed};
use crate::Console;

/// The longest schedule the form offers, in weeks (the API takes up to 366 days).
const MAX_WEEKS: u32 = 52;

/// `GET /follow-up-schedule`
pub async fn form(State(console): State<Console>, signed: Signed) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Coordinator, ConsoleRole::Admin]) {
        return response;
    }
    let schedule = match console.handle().follow_up_schedule(&signed.caller).await {
        Ok(schedule) => schedule,
        Err(e) => return errors::api(e),
    };
    let mut values = HashMap::new();
    let weeks = if schedule.after_days % 7 == 0 {
        (schedule.after_days / 7).to_string()
    } else {
        // Set through the API in days: shown rounded up, and saved in weeks from here on.
        schedule.after_days.div_ceil(7).to_string()
    };
    values.insert("weeks".to_string(), weeks);
    show(&console, &signed, &schedule, &Errors::default(), &values)
}

fn show(
    console: &Console,
    signed: &Signed,
    schedule: &pathways_daemon::ScheduleView,
    problems: &Errors,
    values: &HashMap<String, String>,
) -> Response {
    let context = context! {
        title => "When to follow up",
        errors => Value::from_serialize(problems),
        values => Value::from_serialize(values),
        current => super::home::weeks(schedule.after_days),
        is_default => schedule.default,
        scheduled => schedule.after_days > 0,
        max_weeks => MAX_WEEKS,
    };
    let mut response =
        page(console, signed, Section::Dashboard, "follow_up_schedule.html", context);
    if !problems.is_empty() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

/// `POST /follow-up-schedule`
pub async fn save(State(console): State<Console>, signed: Signed, body: Bytes) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Coordinator, ConsoleRole::Admin]) {
        return response;
    }
    let form = match signed.form(&body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let text = form.get("weeks");
    let weeks = text.parse::<u32>().ok().filter(|w| *w <= MAX_WEEKS);
    let Some(weeks) = weeks else {
        let mut problems = Errors::default();
        problems.add(
            "weeks",
            if text.is_empty() {
                format!("Enter how many weeks after the last referral ends, 0 to {MAX_WEEKS}")
            } else {
                format!("Enter a whole number of weeks, 0 to {MAX_WEEKS}, like 8")
            },
        );
        let schedule = match console.handle().follow_up_schedule(&signed.caller).await {
            Ok(schedule) => schedule,
            Err(e) => return errors::api(e),
        };
        return show(&console, &signed, &schedule, &problems, &form.values());
    };
    match console.handle().set_follow_up_schedule(&signed.caller, weeks * 7).await {
        Ok(_) => see_other("/dashboard#follow-ups"),
        Err(e) => errors::api(e),
    }
}
