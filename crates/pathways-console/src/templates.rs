//! The page templates, embedded in the binary and compiled once at start-up. HTML is escaped
//! automatically; filters turn the daemon's codes into the words people read.

use chrono::{DateTime, NaiveDate, Utc};
use minijinja::Environment;
use pathways_core::NeedCode;

/// `(name, source)` of every template.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("sign_in.html", include_str!("../templates/sign_in.html")),
    ("set_password.html", include_str!("../templates/set_password.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("partner_home.html", include_str!("../templates/partner_home.html")),
    ("case_new.html", include_str!("../templates/case_new.html")),
    ("case_consent.html", include_str!("../templates/case_consent.html")),
    ("follow_up.html", include_str!("../templates/follow_up.html")),
    ("follow_up_schedule.html", include_str!("../templates/follow_up_schedule.html")),
    ("case_duty.html", include_str!("../templates/case_duty.html")),
    ("case.html", include_str!("../templates/case.html")),
    ("referral.html", include_str!("../templates/referral.html")),
    ("plan.html", include_str!("../templates/plan.html")),
    ("planning.html", include_str!("../templates/planning.html")),
    ("check.html", include_str!("../templates/check.html")),
    ("sent.html", include_str!("../templates/sent.html")),
    ("copy.html", include_str!("../templates/copy.html")),
    ("dashboard.html", include_str!("../templates/dashboard.html")),
    ("partners.html", include_str!("../templates/partners.html")),
    ("capacity.html", include_str!("../templates/capacity.html")),
];

/// The environment with every template and filter; an error names the template and line.
pub fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    // A form shown for the first time has no errors: `errors.by_field[id]` is then undefined,
    // not a failure.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    env.add_filter("need", need);
    env.add_filter("urgency", urgency);
    env.add_filter("date", date);
    env.add_filter("datetime", datetime);
    env.add_filter("state", state);
    env.add_filter("state_colour", state_colour);
    env.add_filter("field", field);
    env.add_filter("basis", basis);
    env.add_filter("circumstance", circumstance);
    env.add_filter("cancel_reason", cancel_reason);
    env.add_filter("cancel_state", cancel_state);
    Ok(env)
}

/// Why a referral was cancelled, in plain words.
pub fn cancel_reason(code: &str) -> String {
    pathways_core::CancelReason::ALL
        .into_iter()
        .find(|r| r.as_str() == code)
        .map_or_else(|| capitalise(code), |r| r.describe().to_string())
}

/// How telling the partner of a cancel stands, in plain words.
pub fn cancel_state(code: &str) -> &'static str {
    match code {
        "pending" => "Being told (the referral changes when the partner confirms)",
        "confirmed" => "Confirmed the cancellation",
        "withdrawn" => "Never received it: it was cancelled before it was sent",
        "unsupported" => "Cannot take a cancellation through its system: phone them to withdraw it",
        "failed" => "Did not accept the cancellation: phone them",
        _ => "Unknown",
    }
}

/// A need code as a pathfinder reads it: "Debt and money".
pub fn need(code: &str) -> String {
    match NeedCode::ALL.into_iter().find(|n| n.as_str() == code) {
        Some(need) => capitalise(need.describe()),
        None => capitalise(code),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn urgency(code: &str) -> String {
    match code {
        "emergency" => "Emergency (today)",
        "urgent" => "Urgent (within 3 days)",
        "soon" => "Soon (within 2 weeks)",
        "routine" => "Routine",
        other => other,
    }
    .to_string()
}

/// `2026-12-07` or an RFC 3339 time as "7 December 2026".
fn date(value: &str) -> String {
    if let Ok(day) = NaiveDate::parse_from_str(value.get(..10).unwrap_or(value), "%Y-%m-%d") {
        return day.format("%-d %B %Y").to_string();
    }
    value.to_string()
}

/// An RFC 3339 time as "7 December 2026, 2:05pm" (UTC).
fn datetime(value: &str) -> String {
    match DateTime::parse_from_rfc3339(value) {
        Ok(at) => {
            let at = at.with_timezone(&Utc);
            format!("{}, {}", at.format("%-d %B %Y"), at.format("%-I:%M%P"))
        }
        Err(_) => value.to_string(),
    }
}

/// A referral state as a person reads it.
pub fn state(code: &str) -> String {
    match code {
        "draft" => "Waiting to send",
        "requested" => "Sent",
        "accepted" => "Accepted",
        "rejected" => "Declined by partner",
        "in-progress" => "In progress",
        "on-hold" => "On hold",
        "completed" => "Completed",
        "cancelled" => "Cancelled",
        "failed" => "Could not be sent",
        "entered-in-error" => "Entered in error",
        other => other,
    }
    .to_string()
}

/// The GOV.UK tag colour for a state.
fn state_colour(code: &str) -> String {
    match code {
        "draft" => "govuk-tag--grey",
        "requested" => "govuk-tag--light-blue",
        "accepted" | "in-progress" => "govuk-tag--blue",
        "completed" => "govuk-tag--green",
        "rejected" | "failed" => "govuk-tag--red",
        "on-hold" => "govuk-tag--yellow",
        _ => "govuk-tag--grey",
    }
    .to_string()
}

/// A client field a referral shares, as a person reads it.
pub fn field(code: &str) -> String {
    match code {
        "name" => "Full name",
        "date_of_birth" => "Date of birth",
        "year_of_birth" => "Year of birth",
        "postcode" => "Postcode",
        "address" => "Address",
        "phone" => "Phone number",
        "email" => "Email address",
        "preferred_language" => "Preferred language",
        "household" => "Who lives with them",
        "need_notes" => "Your notes about the need",
        other => other,
    }
    .to_string()
}

fn basis(code: &str) -> String {
    match code {
        "consent" => "The client agreed",
        "vital_interests" => "Without consent, to protect someone's life",
        "safeguarding" => "Without consent, to safeguard a child or an adult at risk",
        other => other,
    }
    .to_string()
}

/// A circumstance as a person reads it.
pub fn circumstance(code: &str) -> String {
    crate::pages::case_new::CIRCUMSTANCES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or_else(|| code.to_string(), |(_, label)| (*label).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_filters_read_well() {
        let env = environment().unwrap();
        assert!(env.get_template("layout.html").is_ok());
        // A form with no errors yet renders (errors undefined all the way down).
        let page = env
            .get_template("sign_in.html")
            .unwrap()
            .render(minijinja::context! { csrf => "t", email => "", title => "Sign in" })
            .unwrap();
        assert!(
            page.contains("name=\"csrf\" value=\"t\"") && !page.contains("govuk-error-summary")
        );
        assert_eq!(need("debt_money"), "Debt and money");
        assert_eq!(date("2026-12-07T10:00:00Z"), "7 December 2026");
        assert_eq!(datetime("2026-12-07T14:05:00Z"), "7 December 2026, 2:05pm");
        assert_eq!(state("rejected"), "Declined by partner");
    }
}
