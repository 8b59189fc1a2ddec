//! Taking a new case: the client, their needs (several, each with its urgency and notes; the
//! same need twice is allowed), their circumstances, whether it is safe to contact them, how
//! they came, and what they agreed may be shared, read back to them in plain words. The Duty
//! to Refer questions follow on a page of their own, only when a need is for somewhere to
//! live. The case is built as the API's JSON and stored by the API's own intake, so the
//! console cannot accept a case the API would refuse.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use minijinja::{context, Value};
use pathways_core::NeedCode;
use serde_json::json;

use super::{page, see_other, Section};
use crate::errors;
use crate::form::{Errors, Form};
use crate::session::{ConsoleRole, Signed};
use crate::Console;

/// Need rows shown at first; "Add another need" adds one, up to [`MAX_NEEDS`].
const FIRST_ROWS: usize = 3;
/// The most needs one case takes in the console.
pub const MAX_NEEDS: usize = 12;

/// `(code, label)` of the circumstances a pathfinder can record.
pub const CIRCUMSTANCES: &[(&str, &str)] = &[
    ("children_in_household", "Children live with them"),
    ("pregnant", "They or their partner are pregnant"),
    ("lives_alone", "Lives alone"),
    ("over_75", "Aged 75 or over"),
    ("welsh_speaker", "Prefers to be served in Welsh"),
    ("limited_english", "Needs an interpreter or has limited English"),
    ("private_rented_tenant", "Rents privately"),
    ("social_housing_tenant", "Rents from a council or housing association"),
    ("owner_occupier", "Owns their home"),
    ("sofa_surfing", "Staying with friends or family, no settled home"),
    ("rough_sleeping", "Sleeping rough"),
    ("fleeing_violence", "Fleeing violence or abuse"),
    ("care_leaver", "Left care as a young person"),
    ("veteran", "Served in the armed forces"),
    ("recent_prison_release", "Left prison in the last year"),
    ("no_recourse_to_public_funds", "No recourse to public funds"),
    ("refugee_or_asylum_seeker", "Refugee or asylum seeker"),
    ("unpaid_carer", "Cares for someone else"),
    ("disability", "Has a disability or long-term condition"),
    ("single_parent", "Single parent"),
];

const CHANNELS: &[(&str, &str)] = &[
    ("phone", "By phone"),
    ("walk_in", "In person"),
    ("outreach", "Met by an outreach worker"),
    ("email", "By email"),
    ("web", "Through a web form"),
    ("referral", "Referred by another organisation"),
];

const URGENCIES: &[(&str, &str)] = &[
    ("routine", "Routine"),
    ("soon", "Soon (within 2 weeks)"),
    ("urgent", "Urgent (within 3 days)"),
    ("emergency", "Emergency (today)"),
];

const LANGUAGES: &[(&str, &str)] = &[
    ("en", "English"),
    ("cy", "Welsh"),
    ("pl", "Polish"),
    ("ro", "Romanian"),
    ("pa", "Punjabi"),
    ("ur", "Urdu"),
    ("bn", "Bengali"),
    ("ar", "Arabic"),
    ("so", "Somali"),
    ("pt", "Portuguese"),
    ("es", "Spanish"),
    ("uk", "Ukrainian"),
];

fn options(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(v, l)| ((*v).to_string(), (*l).to_string())).collect()
}

/// The enabled partners a client may limit sharing to: `(id, name)`.
pub(super) fn partner_options(console: &Console) -> Vec<(String, String)> {
    let live = console.handle().live();
    live.orchestrator
        .partners()
        .iter()
        .map(|p| (p.id.clone(), live.orchestrator.display_name(&p.id)))
        .collect()
}

fn need_options() -> Vec<(String, String)> {
    let mut list = vec![(String::new(), "Choose a need".to_string())];
    list.extend(
        NeedCode::ALL.iter().map(|n| (n.as_str().to_string(), crate::templates::need(n.as_str()))),
    );
    list
}

/// `GET /cases/new`
pub async fn form(State(console): State<Console>, signed: Signed) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Pathfinder]) {
        return response;
    }
    render(&console, &signed, &Form::default(), FIRST_ROWS, &Errors::default())
}

fn render(
    console: &Console,
    signed: &Signed,
    form: &Form,
    rows: usize,
    errors: &Errors,
) -> Response {
    let needs: Vec<Value> = (1..=rows)
        .map(|i| {
            context! {
                index => i,
                code => form.get(&format!("need-{i}")),
                urgency => form.get(&format!("urgency-{i}")),
                notes => form.get(&format!("notes-{i}")),
            }
        })
        .collect();
    let context = context! {
        title => "New case",
        values => form.values(),
        circumstances_chosen => form.all("circumstances"),
        needs => needs,
        rows => rows,
        max_needs => MAX_NEEDS,
        need_options => need_options(),
        urgency_options => options(URGENCIES),
        channel_options => options(CHANNELS),
        language_options => options(LANGUAGES),
        circumstance_options => options(CIRCUMSTANCES),
        partner_options => partner_options(console),
        share_partners_chosen => form.all("share_partner"),
        ons4 => ONS4,
        errors => Value::from_serialize(errors),
    };
    let mut response = page(console, signed, Section::NewCase, "case_new.html", context);
    if !errors.is_empty() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

/// `POST /cases/new`: the details page, the "add another need" button, and the Duty to
/// Refer page all post here; `step` says which.
pub async fn submit(State(console): State<Console>, signed: Signed, body: Bytes) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Pathfinder]) {
        return response;
    }
    let form = match signed.form(&body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let rows = form.get("rows").parse::<usize>().unwrap_or(FIRST_ROWS).clamp(1, MAX_NEEDS);
    if form.get("action") == "add-need" {
        return render(&console, &signed, &form, (rows + 1).min(MAX_NEEDS), &Errors::default());
    }
    let (case, mut problems) = read_details(&form, rows, &signed);
    if !problems.is_empty() {
        return render(&console, &signed, &form, rows, &problems);
    }
    let has_housing = case["needs"]
        .as_array()
        .is_some_and(|needs| needs.iter().any(|n| n["code"] == "housing_homelessness"));
    let mut case = case;
    if has_housing {
        if form.get("step") != "duty" {
            return duty_page(&console, &signed, &form, &Errors::default());
        }
        match read_duty(&form, &mut problems) {
            Some(duty) => case["consent"]["duty_to_refer"] = duty,
            None => return duty_page(&console, &signed, &form, &problems),
        }
    }
    let json = serde_json::to_vec(&case).unwrap_or_default();
    match console.handle().create_case(&signed.caller, json).await {
        Ok(id) => see_other(&format!("/cases/{id}")),
        Err(e) if e.status.is_client_error() => {
            // The API's intake found what the form could not (a rule across fields): shown
            // against the field its path names.
            let mut problems = Errors::default();
            let (field, message) = field_of(&e.message);
            problems.add(field, message);
            render(&console, &signed, &form, rows, &problems)
        }
        Err(e) => errors::api(e),
    }
}

fn duty_page(console: &Console, signed: &Signed, form: &Form, errors: &Errors) -> Response {
    // Everything of the first page travels on as hidden fields (in the body, never the URL).
    let carried: Vec<(String, String)> = form
        .pairs()
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "csrf" | "step" | "action" | "refer" | "share_contact" | "authority"
            )
        })
        .cloned()
        .collect();
    let context = context! {
        title => "Duty to Refer",
        carried => carried,
        values => form.values(),
        authority => if form.get("authority").is_empty() { form.get("local_authority") } else { form.get("authority") },
        errors => Value::from_serialize(errors),
    };
    let mut response = page(console, signed, Section::NewCase, "case_duty.html", context);
    if !errors.is_empty() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

fn read_duty(form: &Form, problems: &mut Errors) -> Option<serde_json::Value> {
    let refer = form.get("refer");
    let share = form.get("share_contact");
    let authority = form.get("authority").to_ascii_uppercase();
    if !matches!(refer, "yes" | "no") {
        problems
            .add("refer", "Select yes if the client agrees to be referred to a housing authority");
    }
    if !matches!(share, "yes" | "no") {
        problems.add(
            "share_contact",
            "Select yes if the client agrees their contact details may be shared",
        );
    }
    if !pathways_core::is_ons_local_authority(&authority) {
        problems.add("authority", "Enter the housing authority's ONS code, like E09000020");
    }
    problems.is_empty().then(|| {
        json!({
            "consent_to_refer": refer == "yes",
            "consent_to_share_contact": share == "yes",
            "chosen_authority": authority,
        })
    })
}

/// Reads the details page into the API's case JSON, with every problem found.
fn read_details(form: &Form, rows: usize, signed: &Signed) -> (serde_json::Value, Errors) {
    let mut problems = Errors::default();
    let reference = form.get("reference");
    if reference.is_empty() {
        problems.add("reference", "Enter your organisation's reference for this case");
    } else if reference.len() > 64 {
        problems.add("reference", "Reference must be 64 characters or fewer");
    }
    let channel = form.get("channel");
    if !CHANNELS.iter().any(|(c, _)| *c == channel) {
        problems.add("channel", "Select how the client came to you");
    }
    let name = form.get("name");
    if name.is_empty() {
        problems.add("name", "Enter the client's full name");
    }
    let dob = read_date(form, &mut problems);
    let postcode = form.get("postcode").to_ascii_uppercase();
    if postcode.is_empty() {
        problems.add("postcode", "Enter the client's postcode");
    } else if !is_postcode(&postcode) {
        problems.add("postcode", "Enter a real postcode, like W10 5AB");
    }
    let authority = form.get("local_authority").to_ascii_uppercase();
    if !pathways_core::is_ons_local_authority(&authority) {
        problems.add("local_authority", "Enter the local authority's ONS code, like E09000020");
    }
    let email = form.get("email");
    if !email.is_empty() && !crate::accounts::is_email(email) {
        problems
            .add("email", "Enter an email address in the correct format, like name@example.com");
    }
    let language = form.get("language");
    let language = if language.is_empty() { "en" } else { language };
    if language.len() != 2 || !language.bytes().all(|b| b.is_ascii_lowercase()) {
        problems.add("language", "Select the client's preferred language");
    }
    let adults = form.get("adults");
    let adults = if adults.is_empty() {
        Some(1)
    } else {
        adults.parse::<u8>().ok().filter(|n| (1..=20).contains(n))
    };
    if adults.is_none() {
        problems.add(
            "adults",
            "Enter the number of adults as a number from 1 to 20, counting the client",
        );
    }
    let mut children = Vec::new();
    for part in form.get("children").split([',', ' ']).filter(|p| !p.is_empty()) {
        match part.parse::<u8>() {
            Ok(age) if age <= 17 => children.push(age),
            _ => problems
                .add("children", "Enter each child's age in years, 0 to 17, separated by commas"),
        }
    }
    let mut needs = Vec::new();
    for i in 1..=rows {
        let code = form.get(&format!("need-{i}"));
        let urgency = form.get(&format!("urgency-{i}"));
        let notes = form.get(&format!("notes-{i}"));
        if code.is_empty() {
            if !notes.is_empty() {
                problems.add(format!("need-{i}"), format!("Select need {i}, or delete its notes"));
            }
            continue;
        }
        if !NeedCode::ALL.iter().any(|n| n.as_str() == code) {
            problems.add(format!("need-{i}"), format!("Select need {i} from the list"));
            continue;
        }
        if !URGENCIES.iter().any(|(u, _)| *u == urgency) {
            problems.add(format!("urgency-{i}"), format!("Select how soon need {i} must be met"));
            continue;
        }
        if notes.len() > 2000 {
            problems.add(
                format!("notes-{i}"),
                format!("Notes for need {i} must be 2000 characters or fewer"),
            );
        }
        let mut need = json!({ "id": format!("n{i}"), "code": code, "urgency": urgency });
        if !notes.is_empty() {
            need["notes"] = json!(notes);
        }
        needs.push(need);
    }
    if needs.is_empty() && problems.of("need-1").is_none() {
        problems.add("need-1", "Select at least one need");
    }
    let circumstances: Vec<&str> = form
        .all("circumstances")
        .into_iter()
        .filter(|c| CIRCUMSTANCES.iter().any(|(k, _)| k == c))
        .collect();
    let (basis, share_with) = read_consent(form, &mut problems);
    let wellbeing = read_wellbeing(form, &mut problems);
    let optional = |v: &str| if v.is_empty() { serde_json::Value::Null } else { json!(v) };
    let case = json!({
        "reference": reference,
        "channel": channel,
        "referrer": { "organisation": signed.user.organisation, "worker": signed.user.id.as_str() },
        "client": {
            "name": name,
            "date_of_birth": dob.map(|d| d.to_string()),
            "postcode": postcode,
            "address": optional(form.get("address")),
            "local_authority": authority,
            "phone": optional(form.get("phone")),
            "email": optional(email),
            "preferred_language": language,
            "safe_contact": form.get("safe_contact") == "yes",
            "household": { "adults": adults.unwrap_or(1), "children_ages": children },
        },
        "needs": needs,
        "circumstances": circumstances,
        "consent": {
            "lawful_basis": basis,
            "share_with": share_with,
            "recorded_by": signed.user.id.as_str(),
            "recorded_at": Utc::now().to_rfc3339(),
        },
    });
    let mut case = case;
    if let Some(wellbeing) = wellbeing {
        case["wellbeing"] = wellbeing;
    }
    if case["client"]["address"].is_null() {
        if let Some(client) = case["client"].as_object_mut() {
            client.remove("address");
        }
    }
    (case, problems)
}

/// The ONS4 questions, in the order and words the ONS asks them.
pub(super) const ONS4: [(&str, &str); 4] = [
    ("life_satisfaction", "Overall, how satisfied are you with your life nowadays?"),
    ("worthwhile", "Overall, to what extent do you feel that the things you do in your life are worthwhile?"),
    ("happiness", "Overall, how happy did you feel yesterday?"),
    ("anxiety", "On a scale where 0 is not at all anxious and 10 is completely anxious, overall, how anxious did you feel yesterday?"),
];

/// The client's ONS4 answers from the `wb-*` fields: `None` when none was given (the client
/// did not agree to answer); every one 0 to 10 when any was.
pub(super) fn read_wellbeing(form: &Form, problems: &mut Errors) -> Option<serde_json::Value> {
    let given: Vec<(&str, &str)> =
        ONS4.iter().map(|(key, _)| (*key, form.get(&format!("wb-{key}")))).collect();
    if given.iter().all(|(_, v)| v.is_empty()) {
        return None;
    }
    let mut answers = serde_json::Map::new();
    for (key, value) in given {
        match value.parse::<u8>() {
            Ok(n) if n <= 10 => {
                answers.insert(key.to_string(), json!(n));
            }
            _ => problems.add(
                format!("wb-{key}"),
                "Select an answer from 0 to 10 for each question, or none if the client did not want to answer",
            ),
        }
    }
    Some(serde_json::Value::Object(answers))
}

/// The lawful basis and with whom the client agreed their details may be shared, from the
/// consent fields (the new case page and the change-of-consent page share them).
pub(super) fn read_consent(form: &Form, problems: &mut Errors) -> (String, serde_json::Value) {
    let basis = form.get("basis");
    if !matches!(basis, "consent" | "vital_interests" | "safeguarding") {
        problems.add("basis", "Select the lawful basis for sharing the client's details");
    }
    let share = form.get("share");
    let share_with = match share {
        "planned_partners" | "none" => json!(share),
        "some" => {
            let chosen = form.all("share_partner");
            if chosen.is_empty() {
                problems.add("share_partner", "Select the organisations the client agreed to");
            }
            json!(chosen)
        }
        _ => {
            problems.add("share", "Select who the client agreed their details may be shared with");
            json!(null)
        }
    };
    (basis.to_string(), share_with)
}

fn read_date(form: &Form, problems: &mut Errors) -> Option<NaiveDate> {
    let (d, m, y) = (form.get("dob-day"), form.get("dob-month"), form.get("dob-year"));
    if d.is_empty() && m.is_empty() && y.is_empty() {
        problems.add("dob-day", "Enter the client's date of birth");
        return None;
    }
    let parsed = match (d.parse::<u32>(), m.parse::<u32>(), y.parse::<i32>()) {
        (Ok(d), Ok(m), Ok(y)) if y >= 1900 => NaiveDate::from_ymd_opt(y, m, d),
        _ => None,
    };
    match parsed {
        Some(date) if date <= Utc::now().date_naive() => Some(date),
        Some(_) => {
            problems.add("dob-day", "Date of birth must be in the past");
            None
        }
        None => {
            problems.add("dob-day", "Date of birth must be a real date, like 2 4 1989");
            None
        }
    }
}

/// A UK postcode's shape: the outward code (letters and a digit), a space or not, then a
/// digit and two letters.
fn is_postcode(postcode: &str) -> bool {
    let compact: String = postcode.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = compact.as_bytes();
    if !(5..=7).contains(&bytes.len()) {
        return false;
    }
    let (outward, inward) = bytes.split_at(bytes.len() - 3);
    inward[0].is_ascii_digit()
        && inward[1..].iter().all(u8::is_ascii_alphabetic)
        && outward[0].is_ascii_alphabetic()
        && outward.iter().any(u8::is_ascii_digit)
        && outward.iter().all(u8::is_ascii_alphanumeric)
}

/// The form field a case error's path (`at \`client.name\`: …`) is about, and the message
/// without the path.
fn field_of(message: &str) -> (String, String) {
    let Some(rest) = message.strip_prefix("at `") else {
        return ("reference".into(), message.to_string());
    };
    let Some((path, words)) = rest.split_once("`: ") else {
        return ("reference".into(), message.to_string());
    };
    let field = match path {
        p if p.starts_with("client.date_of_birth") => "dob-day".to_string(),
        p if p.starts_with("client.household.children") => "children".to_string(),
        p if p.starts_with("client.household") => "adults".to_string(),
        "client.preferred_language" => "language".to_string(),
        p if p.starts_with("consent.duty_to_refer") => "reference".to_string(),
        p if p.starts_with("consent.share_with") => "share".to_string(),
        p if p.starts_with("consent.lawful_basis") => "basis".to_string(),
        p if p.starts_with("needs[") => {
            let index = p[6..].split(']').next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
            format!("need-{}", index + 1)
        }
        p => p.rsplit('.').next().unwrap_or("reference").to_string(),
    };
    (field, format!("{}{}", words[..1].to_uppercase(), &words[1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcodes_are_checked_for_shape() {
        for good in ["W10 5AB", "SW1A 1AA", "M1 1AE", "B338TH", "CR2 6XH"] {
            assert!(is_postcode(good), "{good}");
        }
        for bad in ["", "W10", "12345", "W10 5A", "W10 5ABC", "W1O 5AB!"] {
            assert!(!is_postcode(bad), "{bad}");
        }
    }

    #[test]
    fn case_error_paths_name_the_form_field() {
        assert_eq!(field_of("at `client.name`: must not be empty").0, "name");
        assert_eq!(field_of("at `needs[1].notes`: too long").0, "need-2");
        assert_eq!(field_of("at `client.date_of_birth`: in the future").0, "dob-day");
        assert_eq!(field_of("something else").0, "reference");
    }
}
